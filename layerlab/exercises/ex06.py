"""Exercises of notebook 06, the init layer: what commit keeps of it, per-container hostnames."""

from __future__ import annotations

from ..container import Container
from ..image import Image
from ..initlayer import BIND_MOUNTED, INIT_PATHS
from .framework import Exercise, NotSolved, Wrong, attempt, register
from .images import ubuntu_image
from .judging import tar_paths

__all__ = ["busy_container"]


# -- 06.1 which init-layer files end up in the commit ------------------------------------
def busy_container(image: Image | None = None) -> Container:
    """A container that touched Docker's own files, deleted one, and wrote one of its own."""
    container = Container(image or ubuntu_image(), name="busy", hostname="busy")
    container.write("/etc/hostname", "web-1\n")
    container.append("/etc/hosts", "10.0.0.5\tdb\n")
    container.write("/etc/resolv.conf", "nameserver 10.0.0.53\n")
    container.unlink("/.dockerenv")
    container.write("/etc/motd", "maintenance at noon\n")
    return container


def check_init_in_commit(answer: object) -> str:
    if answer is Ellipsis or answer is None:
        raise NotSolved()
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        raise Wrong("not-a-set", "give a set of paths, like {'/etc/hosts'}")
    chosen = {str(p) for p in answer}  # type: ignore[attr-defined]
    truth = {p for p in INIT_PATHS if p in tar_paths(busy_container().commit().tar)}
    if chosen == truth:
        return (
            "only /.dockerenv: its deletion is a whiteout in the rw layer. The writes to "
            "hostname, hosts and resolv.conf went to bind-mounted files, and the init "
            "layer itself is never committed."
        )
    if chosen == set(INIT_PATHS):
        raise Wrong(
            "whole-init",
            "commit never takes the init layer: it captures the rw layer "
            "only. Which init paths did the container change *in its rw layer*?",
        )
    strangers = sorted(chosen - set(INIT_PATHS))
    if strangers:
        raise Wrong(
            "not-init",
            f"{strangers[0]} is not one of the init layer's paths "
            "(INIT_PATHS); the question is only about those.",
        )
    bound = sorted(chosen & set(BIND_MOUNTED))
    if bound:
        raise Wrong(
            "bind-mounted",
            f"{bound[0]} is bind-mounted from the container's own "
            "directory on the host: the write went there and never reached the rw "
            "layer, so commit cannot see it.",
        )
    if truth - chosen:
        raise Wrong(
            "dockerenv",
            "one path is missing: a step in busy's log changed an init "
            "path in the rw layer itself. Deleting is a change too: it leaves a "
            "whiteout, and commit captures the whole rw layer.",
        )
    extra = sorted(chosen - truth)
    raise Wrong(
        "untouched",
        f"the container never touched {extra[0]}; it stays in the init "
        "layer, which is never committed.",
    )


INIT_STUB = """
from layerlab.initlayer import INIT_PATHS

in_commit = ...  # YOUR CODE HERE: the set of INIT_PATHS that the commit of busy records

check("06.1", in_commit)
"""

INIT_SOLUTION = """
from layerlab.initlayer import INIT_PATHS

in_commit = {"/.dockerenv"}   # deleted in the rw layer: a whiteout; the rest never got there

check("06.1", in_commit)
"""


# -- 06.2 two containers with their own hostnames ----------------------------------------
def check_hostnames(solve: object) -> str:
    image = ubuntu_image()
    answer = attempt(solve, image)
    if answer is None or answer is Ellipsis:
        raise NotSolved()
    if not (
        isinstance(answer, tuple)
        and len(answer) == 2
        and all(isinstance(c, Container) for c in answer)
    ):
        raise Wrong("shape", "return a pair of containers: (web, db)")
    web, db = answer
    if web is db:
        raise Wrong(
            "same-container",
            "that is one container twice; a hostname belongs to a container, so make two.",
        )
    for container in (web, db):
        if container.image_layers != image.model_layers():
            raise Wrong(
                "own-image",
                "a container must not change its image: both run the very "
                "same read-only layers. The hostname is not part of the image; give it "
                "when you create the container.",
            )
    names = (web.read("/etc/hostname"), db.read("/etc/hostname"))
    if names != (b"web\n", b"db\n"):
        in_rw = [c for c in (web, db) if "/etc/hostname" in c.rw]
        if in_rw:
            raise Wrong(
                "into-rw",
                "you put /etc/hostname into the rw layer, but Docker "
                "bind-mounts the container's own hostname file over that path: the "
                "container still reads that one. Pass hostname= to Container.",
            )
        raise Wrong(
            "hostnames",
            f"cat /etc/hostname prints {names[0]!r} and {names[1]!r}; "
            "expected b'web\\n' and b'db\\n'.",
        )
    if len(web.rw) or len(db.rw):
        raise Wrong(
            "rw-changed",
            "the hostnames are right, but a rw layer changed too; "
            "a hostname needs no change in the rw layer.",
        )
    return (
        "two containers, one set of image layers, two init layers, two bind-mounted "
        "hostname files, and both rw layers still empty."
    )


HOSTNAME_STUB = '''
def solve(image):
    """Return (web, db): two containers of `image` with hostnames 'web' and 'db'."""
    ...  # YOUR CODE HERE

check("06.2", solve)
'''

HOSTNAME_SOLUTION = '''
from layerlab import Container

def solve(image):
    """Return (web, db): two containers of `image` with hostnames 'web' and 'db'."""
    web = Container(image, name="web", hostname="web")
    db = Container(image, name="db", hostname="db")
    return web, db

check("06.2", solve)
'''

register(
    Exercise(
        "06.1",
        "which init files end up in the commit",
        INIT_STUB,
        INIT_SOLUTION,
        check_init_in_commit,
    ),
    Exercise(
        "06.2", "two containers, two hostnames", HOSTNAME_STUB, HOSTNAME_SOLUTION, check_hostnames
    ),
)

# 06.3, which paths Podman's commit adds, lives in its own module; importing it registers it.
from . import ex06_podman  # noqa: E402, F401
