"""layerlab's Container with engine="podman" against a real Podman (overlay, runc), as root.

The scripted session of test_docker.py runs in a Podman container and on the model; both
are committed, and Podman's image comes back through `podman save` (oci-archive). The
tests compare the flattened trees, the committed layers entry by entry, and `inspect`
against `podman image inspect`, and pin where Podman differs from Docker: no init layer,
placeholders for the mount points in the committed layer, `podman diff` hiding them, a
commit of an unchanged container that still adds a layer, and an image whose /sys is a
file refused at start (Docker's init layer replaces it).

Podman runs with a private storage per module (layerlab.live.podman), removed afterwards.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from docker_engine import BASE_FILES, base_rootfs_tar, is_static_elf
from needs import need_root, need_tool, unavailable
from overlay_kernel import layer_snapshot, view_snapshot
from test_docker import SESSION, _differences

from layerlab.commit import CommitResult
from layerlab.container import Container
from layerlab.entries import Dir, File, Symlink
from layerlab.formats.docker_archive import load_docker_archive
from layerlab.image import Image
from layerlab.initlayer import INIT_PATHS
from layerlab.layer import Layer
from layerlab.live.podman import Podman, private_podman

pytestmark = pytest.mark.reference

#: Docker's session deletes /.dockerenv, which Podman never makes; here the container
#: deletes the image's own /etc/mtab instead (Docker's init layer would have replaced it).
PODMAN_SESSION = [
    ("unlink", "/etc/mtab") if step == ("unlink", "/.dockerenv") else step for step in SESSION
]

#: The base of test_docker.py without its /sys *file*: runc refuses to mount sysfs there.
PODMAN_BASE_FILES = [f for f in BASE_FILES if f[0] != "sys"]

#: What Podman adds to this base's container before the script runs (the base has /etc,
#: /dev, /etc/hosts and its own /etc/mtab): found in the committed layer, see below.
PLACEHOLDERS = {"/etc/hostname", "/proc", "/run", "/run/.containerenv", "/sys"}


@dataclass
class Session:
    base: Image
    base_name: str
    model: Container
    model_commit: CommitResult
    podman_image: Image
    podman_name: str
    output: str
    diff: list[str]


@pytest.fixture(scope="module")
def podman_engine(podman: str) -> Iterator[Podman]:
    need_root("running Podman containers with a private storage")
    with private_podman(podman) as engine:
        yield engine


def _base_tar(files) -> bytes:
    busybox = need_tool("busybox")
    if not is_static_elf(busybox):
        unavailable(f"{busybox} is dynamically linked; install busybox-static")
    return base_rootfs_tar(busybox, files)


def _load(engine: Podman, name: str, tmp_path_factory, fmt: str = "oci-archive") -> Image:
    dest = tmp_path_factory.mktemp("podman") / f"{name.split(':')[-1]}.tar"
    return load_docker_archive(engine.save(name, dest, fmt))


@pytest.fixture(scope="module")
def base(podman_engine: Podman, tmp_path_factory) -> tuple[str, Image]:
    name = podman_engine.import_rootfs(_base_tar(PODMAN_BASE_FILES), "base")
    return name, _load(podman_engine, name, tmp_path_factory)


@pytest.fixture(scope="module")
def session(podman_engine: Podman, base, tmp_path_factory) -> Session:
    base_name, base_image = base
    model = Container(base_image, name="session", engine="podman")
    for method, *args in PODMAN_SESSION:
        getattr(model, method)(*args)
    probes = ["cat /etc/hosts /etc/hostname", "rm /etc/hosts 2>&1 || true"]
    script = "\n".join(["set -e", *(step.command for step in model.log), *probes])
    container, output = podman_engine.run(base_name, "session", script)
    diff = podman_engine("diff", container).splitlines()
    name = podman_engine.commit(container, "session")
    return Session(
        base=base_image,
        base_name=base_name,
        model=model,
        model_commit=model.commit(),
        podman_image=_load(podman_engine, name, tmp_path_factory),
        podman_name=name,
        output=output,
        diff=diff,
    )


def test_the_committed_image_flattens_to_podmans_tree(session: Session):
    problems = _differences(
        view_snapshot(session.podman_image.view()), view_snapshot(session.model_commit.image.view())
    )
    assert not problems, "\n".join(problems)


def test_the_committed_layer_has_the_same_entries_as_podmans(session: Session):
    """Every entry, placeholders included: type, content, mode, owner, link target."""
    podman, model = session.podman_image.model_layers()[-1], session.model_commit.layer
    problems = _differences(layer_snapshot(podman), layer_snapshot(model))
    assert not problems, "\n".join(problems)
    assert podman.whiteouts == model.whiteouts
    assert "/etc/mtab" in podman.whiteouts and "/.dockerenv" not in podman
    # containers/storage marks /d opaque (the base has /d) but not the new /fresh2.
    assert podman.opaque_dirs == model.opaque_dirs == ["/d"]


def test_podman_commits_its_mount_point_placeholders_and_no_init_layer_file(session: Session):
    """No -init layer: runc's mount points (0755) and libpod's /run/.containerenv are in
    the committed layer; none of Docker's own init files (/.dockerenv, /dev/console)."""
    layer = session.podman_image.model_layers()[-1]
    assert set(layer) >= PLACEHOLDERS
    assert PLACEHOLDERS | {"/etc"} == set(Container(session.base, engine="podman").rw)
    for path in ("/etc/hostname", "/run/.containerenv"):
        assert isinstance(layer[path], File) and layer[path].size == 0
        assert layer[path].meta.mode == 0o755
    docker_only = set(INIT_PATHS) - {"/etc/hosts", "/etc/hostname", "/proc", "/sys", "/etc/mtab"}
    assert not docker_only & set(layer)


def test_podman_diff_hides_the_placeholders_its_commit_writes(session: Session):
    """libpod/diff.go skips its `initInodes`; the committed layer still has them. The
    list is by path, so the container's own deletion of /etc/mtab is hidden too."""
    shown = {line.split(" ", 1)[1] for line in session.diff}
    committed = set(session.podman_image.model_layers()[-1])
    assert shown <= committed
    assert committed - shown == PLACEHOLDERS | {"/etc/mtab"}


def test_writes_to_bind_mounted_files_stay_out_of_the_layer(session: Session):
    """hosts and hostname are bind mounts in Podman too: the writes are not committed,
    only the empty placeholder of the hostname file the image lacked."""
    assert "10.9.8.7 written-by-the-session" in session.output
    assert "renamed-host" in session.output
    assert session.model.read("/etc/hostname") == b"renamed-host\n"
    for layer in (session.podman_image.model_layers()[-1], session.model_commit.layer):
        assert "/etc/hosts" not in layer and layer["/etc/hostname"].size == 0


def test_a_bind_mounted_file_cannot_be_deleted(session: Session):
    assert os.strerror(errno.EBUSY) in session.output
    with pytest.raises(OSError) as failed:
        session.model.unlink("/etc/hosts")
    assert failed.value.errno == errno.EBUSY


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_inspect_of_saved_archives_equals_podman_image_inspect(
    podman_engine: Podman, session: Session, tmp_path_factory, fmt: str
):
    for name in (session.base_name, session.podman_name):
        podman = podman_engine.inspect_image(name)
        mine = _load(podman_engine, name, tmp_path_factory, fmt).inspect()
        assert mine["RootFS"]["Layers"] == podman["RootFS"]["Layers"]
        if fmt == "oci-archive":  # docker-archive rewrites the config, so its Id differs
            assert mine["Id"] == f"sha256:{podman['Id']}"


def test_commit_appends_one_diff_id_and_one_history_entry(session: Session):
    podman, model = session.podman_image, session.model_commit.image
    assert podman.diff_ids[:-1] == model.diff_ids[:-1] == session.base.diff_ids
    assert len(podman.history) == len(model.history) == len(session.base.history) + 1


def test_an_unchanged_container_still_commits_the_placeholders(
    podman_engine: Podman, base, tmp_path_factory
):
    """Docker adds an empty_layer history entry; Podman adds a layer of placeholders."""
    base_name, base_image = base
    container, _ = podman_engine.run(base_name, "unchanged", "true")
    podman = _load(podman_engine, podman_engine.commit(container, "unchanged"), tmp_path_factory)
    model = Container(base_image, name="unchanged", engine="podman").commit()
    assert model.layer is not None and len(podman.diff_ids) == len(base_image.diff_ids) + 1
    problems = _differences(layer_snapshot(podman.model_layers()[-1]), layer_snapshot(model.layer))
    assert not problems, "\n".join(problems)


def test_an_image_without_etc_gets_etc_and_the_mtab_symlink(
    podman_engine: Podman, tmp_path_factory
):
    """libpod makes /etc and /etc/mtab -> /proc/mounts; runc the rest, parents 0755."""
    name = podman_engine.import_rootfs(_base_tar([]), "bare")
    bare = _load(podman_engine, name, tmp_path_factory)
    container, _ = podman_engine.run(name, "bare", "true")
    podman = _load(podman_engine, podman_engine.commit(container, "bare"), tmp_path_factory)
    model = Container(bare, name="bare", engine="podman").commit().layer
    layer = podman.model_layers()[-1]
    problems = _differences(layer_snapshot(layer), layer_snapshot(model))
    assert not problems, "\n".join(problems)
    assert layer["/etc/mtab"] == Symlink(layer["/etc/mtab"].meta, target="/proc/mounts")
    assert set(layer) == {
        "/dev",
        "/etc",
        "/etc/hostname",
        "/etc/hosts",
        "/etc/mtab",
        "/proc",
        "/run",
        "/run/.containerenv",
        "/sys",
    }


def test_an_image_whose_sys_is_a_file_does_not_start(podman_engine: Podman, base):
    """runc refuses sysfs on a non-directory; the model raises too. Docker's init layer
    replaces the file with a directory (test_docker.py), so Docker starts it."""
    name = podman_engine.import_rootfs(_base_tar(BASE_FILES), "sys-file")
    refused = podman_engine.try_run(name, "sys-file")
    assert refused.returncode != 0
    assert b'"sysfs" must be mounted on ordinary directory' in refused.stderr
    sys_file = [*base[1].model_layers(), Layer({"/sys": File.of("a file\n")})]
    with pytest.raises(OSError, match="sysfs"):
        Container(sys_file, engine="podman")
    assert isinstance(Container(sys_file).view().lookup("/sys").entry, Dir)
