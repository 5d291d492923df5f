"""Exercise 06.3: predict which paths Podman's commit adds that Docker's does not.

Two containers of the same image run the same steps, one as Docker would, one as Podman
would (`layerlab.engines`). Docker's plumbing sits in its `-init` layer; Podman's lands
in the rw layer, but only where the image lacks it. The checker compares the learner's
set of paths with the two commits' difference, computed on fresh containers.
"""

from __future__ import annotations

from ..container import Container
from ..engines import PODMAN_BIND_MOUNTED
from ..i18n import N_, _
from ..initlayer import INIT_PATHS
from ..samples import ubuntu_image
from ..union import UnionView
from .framework import Exercise, NotSolved, Wrong, register
from .judging import as_items, tar_paths

__all__ = ["twin_containers"]

#: Mount points runc makes when the image lacks them, and what libpod makes.
_PODMAN_MAKES = {"/proc", "/dev", "/sys", "/run", "/etc/mtab", *PODMAN_BIND_MOUNTED}


def twin_containers() -> tuple[Container, Container]:
    """(docker, podman): one image, the same steps, committed by two engines."""
    twins = []
    for engine in ("docker", "podman"):
        container = Container(ubuntu_image(), name="twin", hostname="twin", engine=engine)
        container.write("/etc/motd", "maintenance at noon\n")
        container.write("/etc/hostname", "web-1\n")
        container.append("/etc/hosts", "10.0.0.5\tdb\n")
        twins.append(container)
    return twins[0], twins[1]


def _normalise(item: object) -> str:
    """'/run/', 'run' and './run' all name /run: a tar member name is fine too."""
    text = str(item)
    while text.startswith("./"):
        text = text[2:]
    return "/" + text.strip("/")


def podman_adds() -> set[str]:
    """The truth: paths in the podman twin's commit that the docker twin's lacks."""
    docker, podman = twin_containers()
    return tar_paths(podman.commit().tar) - tar_paths(docker.commit().tar)


def check_podman_adds(answer: object) -> str:
    if answer is Ellipsis or answer is None:
        raise NotSolved()
    items = as_items(answer, what=_("a set of paths"), example="{'/etc/mtab'}")
    chosen = {_normalise(p) for p in items}
    truth = podman_adds()
    if chosen == truth:
        return _(
            "/etc/mtab (libpod's symlink, the image has none), /run/.containerenv (runc's "
            "empty mount point for a bind mount) and /run, copied up as its parent. The "
            "image already has /proc, /sys, /dev, /etc/hosts and /etc/hostname, so Podman "
            "mounts onto those and adds nothing there."
        )
    if "/etc/resolv.conf" in chosen:
        raise Wrong(
            "resolv-conf",
            _(
                "Podman bind-mounts /etc/resolv.conf only for a container with a network; "
                "these run with --network none, so there is no mount point to create."
            ),
        )
    docker_only = sorted(chosen & (set(INIT_PATHS) - _PODMAN_MAKES))
    if docker_only:
        raise Wrong(
            "docker-init",
            _(
                "{path} is one of Docker's init-layer files. Podman has no init "
                "layer and makes no such file; it only creates the mount points runc needs."
            ).format(path=docker_only[0]),
        )
    docker, _podman = twin_containers()
    view = UnionView(docker.image_layers)
    already = sorted(p for p in chosen & _PODMAN_MAKES if view.lookup(p) is not None)
    already = [p for p in already if p not in truth]
    if already:
        raise Wrong(
            "image-has-it",
            _(
                "the image already has {path}: runc mounts onto what is there and "
                "creates only missing mount points. Look at what the image lacks."
            ).format(path=already[0]),
        )
    both = sorted(chosen & tar_paths(docker.commit().tar))
    if both:
        raise Wrong(
            "in-both",
            _(
                "Docker's commit holds {path} too: it is the container's own change. "
                "The question is what Podman's commit adds on top of Docker's."
            ).format(path=both[0]),
        )
    if "/run/.containerenv" in chosen and "/run" not in chosen:
        raise Wrong(
            "parent",
            _(
                "creating /run/.containerenv in the rw layer copies its parent /run up "
                "first, so the commit lists /run as well."
            ),
        )
    if "/etc/mtab" not in chosen:
        raise Wrong(
            "mtab",
            _(
                "one path is missing: the image has no /etc/mtab, and libpod makes one in "
                "the rw layer (a symlink to /proc/mounts) before the process starts."
            ),
        )
    if "/run/.containerenv" not in chosen:
        raise Wrong(
            "containerenv",
            _(
                "one path is missing: Podman bind-mounts a file at /run/.containerenv, and "
                "runc first creates an empty file there for the mount to land on."
            ),
        )
    strangers = sorted(chosen - truth)
    raise Wrong(
        "untouched",
        _(
            "neither engine adds {path}; only the mount points and libpod's own "
            "files differ between the two commits."
        ).format(path=strangers[0]),
    )


PODMAN_STUB = """
podman_adds = ...  # YOUR CODE HERE: the paths podman_twin's commit holds and docker_twin's lacks

check("06.3", podman_adds)
"""

PODMAN_SOLUTION = """
podman_adds = {"/etc/mtab", "/run", "/run/.containerenv"}  # what the image lacked, + parent

check("06.3", podman_adds)
"""

register(
    Exercise(
        "06.3",
        N_("predict which paths Podman's commit adds"),
        PODMAN_STUB,
        PODMAN_SOLUTION,
        check_podman_adds,
    )
)
