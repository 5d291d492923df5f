"""layerlab's Container, init layer and commit against a real Docker engine (overlay2).

One scripted session runs twice: on a `layerlab.container.Container`, whose operation log
spells every step as a busybox shell command, and in a real container running exactly
that log as `sh -c`. Both are committed. Docker's image comes back through `docker save`
and layerlab's docker-archive loader, and the tests compare:

* the committed images' flattened trees (types, contents, modes, owners, link targets,
  hardlink groups);
* the committed layers entry by entry: whiteouts and opaque dirs at the same paths, no
  init-layer files, no trace of writes to the bind-mounted /etc/hosts and /etc/hostname;
* `inspect` of the saved archive against `docker image inspect` (Id, RootFS.Layers);
* layerlab's init layer against the `<id>-init/diff` directory Docker made on disk;
* a commit without changes (an `empty_layer` history entry, no layer).

Docker runs are few and batched: about ten docker commands for the whole module.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from docker_engine import BASE_MTIME, Engine, base_rootfs_tar, is_static_elf
from needs import need_root, need_tool, unavailable
from overlay_kernel import layer_snapshot, view_snapshot

from layerlab.commit import CommitResult
from layerlab.container import Container
from layerlab.entries import OpaqueDir, Whiteout
from layerlab.formats.docker_archive import load_docker_archive
from layerlab.formats.ondisk import OnDiskFormat, read_layer_dir
from layerlab.image import Image
from layerlab.initlayer import INIT_PATHS

pytestmark = pytest.mark.reference

#: The session, as Container method calls. Each becomes one line of the shell script.
SESSION: list[tuple] = [
    ("append", "/etc/passwd", "bob:x:1000:1000::/home/bob:/bin/sh\n"),  # copy-up + write
    ("write", "/new.txt", "hello"),  # a new file
    ("append", "/via", "+via"),  # through a symlink: /keep is copied up
    ("unlink", "/gone"),  # a whiteout
    ("remove", "/old"),  # rm -r of a lower dir: one whiteout for the whole tree
    ("remove", "/d"),  # rm -r then mkdir: an opaque dir
    ("mkdir", "/d", 0o755),
    ("write", "/d/z", "z"),
    ("rmdir", "/empty"),
    ("chmod", "/etc/group", 0o600),  # a metadata change copies the whole file up
    ("chmod", "/cfg", 0o700),  # a directory is copied up alone
    ("chown", "/cfg/x", 1000, 1000),
    ("move", "/m", "/m2"),  # EXDEV: mv copies the tree, then removes the old one
    ("move", "/rename-me", "/renamed"),  # a file renames: whiteout + the file
    ("mkdir", "/fresh", 0o755),  # a new dir renamed into a merged dir becomes opaque
    ("write", "/fresh/x", "x"),
    ("move", "/fresh", "/fresh2"),
    ("symlink", "/etc/passwd", "/lnk2"),
    ("link", "/h1", "/h3"),  # hardlinking a lower file copies it up
    ("append", "/h2", "x"),  # copy-up breaks the lower h1/h2 pair
    ("append", "/etc/hosts", "10.9.8.7 written-by-the-session\n"),  # bind mounts
    ("write", "/etc/hostname", "renamed-host\n"),
    ("unlink", "/.dockerenv"),  # an init file the container deletes: committed
    ("unlink", "/ln"),
    ("mkdir", "/newdir", 0o700),
    ("write", "/newdir/f", "f"),
    ("write", "/u1", "u"),  # a hardlink made entirely in the rw layer
    ("link", "/u1", "/u2"),
    ("mkdir", "/scratch", 0o755),  # made and removed: leaves no trace
    ("write", "/scratch/x", "x"),
    ("remove", "/scratch"),
]

#: Paths whose lower mtime Docker keeps: copy-up (chmod, link), rename, and busybox mv's
#: EXDEV fallback, which copies like `cp -a` (but sets no mtime on symlinks: /m2/l is "now").
KEEP_MTIME = ("/etc/group", "/cfg", "/h1", "/renamed", "/m2", "/m2/f", "/m2/inner", "/m2/inner/g")


@dataclass
class Session:
    base: Image
    base_name: str
    model: Container
    model_commit: CommitResult
    docker_image: Image
    docker_name: str
    docker_output: str
    script: str


@pytest.fixture(scope="module")
def base(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Image]:
    """A busybox-static rootfs, `docker import`ed, then read back from `docker save`."""
    busybox = need_tool("busybox")
    if not is_static_elf(busybox):
        unavailable(f"{busybox} is dynamically linked; install busybox-static")
    name = engine.import_rootfs(base_rootfs_tar(busybox), "base")
    saved = engine.save(name, tmp_path_factory.mktemp("docker") / "base.tar")
    return name, load_docker_archive(saved)


@pytest.fixture(scope="module")
def session(engine: Engine, base: tuple[str, Image], tmp_path_factory) -> Session:
    base_name, base_image = base
    model = Container(base_image, name="session")
    for method, *args in SESSION:
        getattr(model, method)(*args)
    # After the log: read the bind-mounted files back, and try to delete one (EBUSY).
    probes = ["cat /etc/hosts /etc/hostname", "rm /etc/hosts 2>&1 || true"]
    script = "\n".join(["set -e", *(step.command for step in model.log), *probes])
    container = engine.run(base_name, "session", script)
    output = engine("logs", container)
    docker_name = engine.commit(container, "session")
    saved = engine.save(docker_name, tmp_path_factory.mktemp("docker") / "session.tar")
    return Session(
        base=base_image,
        base_name=base_name,
        model=model,
        model_commit=model.commit(),
        docker_image=load_docker_archive(saved),
        docker_name=docker_name,
        docker_output=output,
        script=script,
    )


def _differences(docker, model) -> list[str]:
    out = [
        f"{path}: docker {docker.entries.get(path)}, layerlab {model.entries.get(path)}"
        for path in sorted(set(docker.entries) | set(model.entries))
        if docker.entries.get(path) != model.entries.get(path)
    ]
    if docker.links != model.links:
        out.append(
            f"hardlink groups: docker {sorted(map(sorted, docker.links))}, "
            f"layerlab {sorted(map(sorted, model.links))}"
        )
    return out


def test_the_committed_image_flattens_to_dockers_tree(session: Session):
    """docker commit: layerlab's committed image shows the same rootfs as Docker's."""
    problems = _differences(
        view_snapshot(session.docker_image.view()), view_snapshot(session.model_commit.image.view())
    )
    assert not problems, "\n".join(problems)


def test_the_committed_layer_whites_out_and_makes_opaque_the_same_paths(session: Session):
    """overlay2's diff: char 0/0 -> .wh.name, opaque dir -> dir + .wh..wh..opq (rule 19)."""
    docker, model = session.docker_image.model_layers()[-1], session.model_commit.layer
    assert (
        docker.whiteouts
        == model.whiteouts
        == ["/.dockerenv", "/empty", "/gone", "/ln", "/m", "/old", "/rename-me"]
    )
    assert docker.opaque_dirs == model.opaque_dirs == ["/d", "/fresh2"]


def test_the_committed_layer_has_the_same_entries_as_dockers(session: Session):
    """Every entry of the new layer: type, content, mode, owner, link target, hardlinks."""
    problems = _differences(
        layer_snapshot(session.docker_image.model_layers()[-1]),
        layer_snapshot(session.model_commit.layer),
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", KEEP_MTIME)
def test_copy_up_and_mv_keep_the_mtime(session: Session, path: str):
    """chmod and rename keep a file's mtime; busybox mv's EXDEV fallback copies like cp -a."""
    docker = session.docker_image.model_layers()[-1][path]
    assert docker.meta.mtime == BASE_MTIME
    assert session.model_commit.layer[path].meta.mtime == docker.meta.mtime


def test_init_files_are_never_committed(session: Session):
    """docker commit diffs the rw layer only: no init file, except a deleted /.dockerenv."""
    for layer in (session.docker_image.model_layers()[-1], session.model_commit.layer):
        committed = {p: e for p, e in layer.items() if p in INIT_PATHS}
        assert committed == {"/.dockerenv": Whiteout()}


def test_writes_to_bind_mounted_files_stay_out_of_the_layer(session: Session):
    """/etc/hosts and /etc/hostname are Docker's bind mounts: the container saw its
    writes, the committed layer has no trace of them."""
    assert "10.9.8.7 written-by-the-session" in session.docker_output
    assert "renamed-host" in session.docker_output
    assert b"10.9.8.7 written-by-the-session" in session.model.read("/etc/hosts")
    assert session.model.read("/etc/hostname") == b"renamed-host\n"
    for layer in (session.docker_image.model_layers()[-1], session.model_commit.layer):
        assert "/etc/hosts" not in layer and "/etc/hostname" not in layer


def test_a_bind_mounted_file_cannot_be_deleted(session: Session):
    """rm /etc/hosts in a container: EBUSY, it is a mount point."""
    assert os.strerror(errno.EBUSY) in session.docker_output  # "Device or resource busy"
    with pytest.raises(OSError) as failed:
        session.model.unlink("/etc/hosts")
    assert failed.value.errno == errno.EBUSY


def test_inspect_of_saved_archives_equals_docker_image_inspect(engine: Engine, session):
    """layerlab's inspect of a `docker save` tar: the same Id and RootFS.Layers as Docker."""
    for name, image in (
        (session.base_name, session.base),
        (session.docker_name, session.docker_image),
    ):
        docker = engine.inspect(name)
        mine = image.inspect()
        assert (mine["Id"], mine["RootFS"]["Layers"]) == (docker["Id"], docker["RootFS"]["Layers"])


def test_commit_appends_one_diff_id_and_one_history_entry(session: Session):
    """docker commit: the parent's diff_ids plus the new layer's, one more history entry."""
    docker, model = session.docker_image, session.model_commit.image
    assert len(docker.diff_ids) == len(model.diff_ids) == len(session.base.diff_ids) + 1
    assert docker.diff_ids[:-1] == model.diff_ids[:-1] == session.base.diff_ids
    assert len(docker.history) == len(model.history) == len(session.base.history) + 1


def test_a_commit_without_changes_adds_empty_layer_history(engine: Engine, base, tmp_path):
    """docker commit of an unchanged container: no new layer, history with empty_layer."""
    base_name, base_image = base
    container = engine.run(base_name, "unchanged", "true")
    saved = engine.save(engine.commit(container, "unchanged"), tmp_path / "unchanged.tar")
    docker = load_docker_archive(saved)
    model = Container(base_image, name="unchanged").commit()
    assert model.layer is None
    assert docker.diff_ids == model.image.diff_ids == base_image.diff_ids
    assert docker.history[-1].get("empty_layer") is model.image.history[-1].get("empty_layer")
    assert model.image.history[-1]["empty_layer"] is True


def test_mv_onto_an_existing_directory_moves_into_it(engine: Engine, base):
    """`mv OLD DIR` (the spelling of Container.move) puts OLD *inside* an existing DIR."""
    base_name, base_image = base
    model = Container(base_image, name="mv-into")
    step = model.move("/old", "/cfg")
    listing = engine(
        "run",
        "--rm",
        "--network",
        "none",
        base_name,
        "sh",
        "-c",
        f"{step.command} && cd /cfg && echo *",
    )
    assert listing.split() == ["old", "x"]
    assert model.listdir("/cfg") == listing.split()


def test_the_init_layer_equals_the_one_docker_makes_on_disk(engine: Engine, base):
    """moby's initlayer.Setup through the image's overlay: the image's /etc/hosts, /etc/mtab
    and its /sys *file* are replaced, /etc and /dev are copied up with the image's modes."""
    need_root("reading Docker's -init layer directory under its data-root")
    base_name, base_image = base
    container = engine.create(base_name, "init")
    init_dir = engine.inspect(container)["GraphDriver"]["Data"]["LowerDir"].split(":")[0]
    assert init_dir.endswith("-init/diff")
    docker = read_layer_dir(Path(init_dir), OnDiskFormat.OVERLAY)
    model = Container(base_image, name="init").init
    problems = _differences(layer_snapshot(docker), layer_snapshot(model))
    assert not problems, "\n".join(problems)
    assert isinstance(docker["/sys"], OpaqueDir)  # mkdir over the whited-out image file
    assert docker["/etc"].meta.mode == 0o751 and docker["/dev"].meta.mode == 0o700


def test_docker_ran_exactly_the_containers_operation_log(session: Session):
    """Each Step's shell spelling is a real command: Docker ran the log (under set -e, so
    every step succeeded) and recorded it as the commit's created_by."""
    assert session.docker_image.history[-1]["created_by"] == f"sh -c {session.script}"
    moves = [s for s in session.model.log if s.op == "move" and s.args[0] == "/m"]
    assert any("EXDEV" in note for note in moves[0].notes)
