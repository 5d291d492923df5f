"""Real overlay mounts of a Container: the kernel's upper dir, read back, is the model's rw layer.

Runs in all three worlds: as root (trusted.overlay.* markers), rootless (a user namespace,
-o userxattr, user.overlay.*) and simulated (the model alone, labelled). Every live test
also replays the same operations on a second, model-only container and compares.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile

import pytest
from livetools import WORLD, Interrupter, need

from layerlab.container import Container
from layerlab.entries import File, Hardlink, Meta, OpaqueDir, Whiteout
from layerlab.image import Image
from layerlab.live import storage
from layerlab.live.fileops import model_ops
from layerlab.live.kernel.child import LiveTimeout, spawn
from layerlab.live.kernel.cleanup import temp_dir
from layerlab.live.kernel.result import SIMULATED_BANNER
from layerlab.live.overlay_mount import ROOT_OPTIONS, ROOTLESS_OPTIONS, OverlayLab, overlay_lab
from layerlab.samples import busybox_image, has_busybox

pytestmark = pytest.mark.live

LIVE = WORLD != "simulated"
ROOTLESS = WORLD == "rootless"


@pytest.fixture(scope="module")
def image() -> Image:
    return busybox_image()


def check_world(result: OverlayLab) -> None:
    assert result.world == WORLD
    assert result.live is LIVE
    if not LIVE:
        assert str(result).startswith(SIMULATED_BANNER)
        assert result.reason


def lab(image: Image, ops: list[tuple], name: str = "demo") -> tuple[Container, OverlayLab]:
    container = Container(image, name=name)
    return container, overlay_lab(container, ops)


def model_only(image: Image, ops: list[tuple], name: str = "demo") -> Container:
    """The same ops on a container the kernel never sees."""
    container = Container(image, name=name)
    model_ops(container, ops)
    return container


def shown(container: Container) -> dict[str, tuple]:
    """A rw layer as comparable facts: kind, mode, owner, data; never times.

    Hardlinked names all show the file: which name holds the data depends on sorting.
    """
    facts = {}
    for path, entry in container.rw.items():
        if isinstance(entry, Hardlink):
            entry = container.rw[entry.target]
        data = entry.content.read() if isinstance(entry, File) else None
        meta = None if isinstance(entry, Whiteout) else (entry.meta.mode, entry.meta.uid)
        facts[path] = (entry.kind, meta, data)
    return facts


def test_rm_through_the_mount_leaves_a_whiteout_in_the_rw_layer(image: Image) -> None:
    """overlayfs: unlinking a lower file leaves a char device 0/0, read back as a Whiteout."""
    container, result = lab(image, [("unlink", "/etc/motd")])
    check_world(result)
    assert isinstance(container.rw["/etc/motd"], Whiteout)
    assert not container.exists("/etc/motd")
    assert result.operations == ["unlink /etc/motd: ok"]
    assert "/etc/motd whiteout" in result.rw_layer
    assert "motd  (char device 0/0: whiteout)" in result.overlay2_tree
    assert ".wh.motd  (whiteout)" in result.aufs_tree


def test_rm_r_then_mkdir_gives_an_opaque_dir(image: Image) -> None:
    """overlayfs: mkdir over a whiteout makes the dir opaque (xattr), read back as OpaqueDir."""
    ops = [("remove", "/srv"), ("mkdir", "/srv"), ("write", "/srv/new.txt", "fresh\n")]
    container, result = lab(image, ops)
    check_world(result)
    assert isinstance(container.rw["/srv"], OpaqueDir)
    assert container.listdir("/srv") == ["new.txt"]  # the image's files stay hidden
    marker = "user.overlay.opaque" if ROOTLESS else "trusted.overlay.opaque"
    assert result.opaque_xattr == marker
    assert "srv/  [xattr overlay.opaque=y: opaque]" in result.overlay2_tree
    assert ".wh..wh..opq  (opaque marker)" in result.aufs_tree


OPS = {
    "delete a lower file": [("unlink", "/etc/motd")],
    "recreate a dir": [("remove", "/srv"), ("mkdir", "/srv"), ("write", "/srv/a", "a")],
    "chmod copies up": [("chmod", "/etc/passwd", 0o600)],
    "append copies up": [("append", "/etc/group", "wheel:x:10:\n")],
    "rename a lower dir": [("rename", "/srv/data", "/srv/moved")],
    "mv falls back": [("move", "/srv/data", "/srv/moved")],
    "rename an upper dir": [("mkdir", "/new"), ("write", "/new/f", "x"), ("rename", "/new", "/n2")],
    "links": [("symlink", "/etc/motd", "/motd"), ("link", "/etc/passwd", "/etc/passwd2")],
    "a link that sorts first": [("link", "/etc/passwd", "/etc/a-link")],
    "errors": [("unlink", "/nope"), ("rmdir", "/srv"), ("mkdir", "/etc"), ("unlink", "/srv")],
    "bind-mounted files": [("write", "/etc/hostname", "box\n"), ("unlink", "/etc/hosts")],
    "delete then write": [("unlink", "/etc/motd"), ("write", "/etc/motd", "new\n")],
}


@pytest.mark.parametrize("name", OPS)
def test_kernel_upper_equals_the_model_rw_layer(image: Image, name: str) -> None:
    """The same operations, through the kernel and through the model, give the same layer."""
    container, result = lab(image, OPS[name])
    check_world(result)
    model = model_only(image, OPS[name])
    assert result.kernel_matches_model, result.differences
    assert result.differences == []
    assert shown(container) == shown(model)
    assert container.mounts == model.mounts


def test_rename_of_a_lower_dir_is_exdev_as_docker_mounts_it(image: Image) -> None:
    """Without redirect_dir (Docker 20.10), rename(2) of a lower dir fails; mv copies instead."""
    container, result = lab(image, OPS["rename a lower dir"] + OPS["mv falls back"])
    assert [op.rsplit(": ", 1)[1] for op in result.operations] == ["EXDEV", "ok"]
    assert isinstance(container.rw["/srv/data"], Whiteout)
    assert container.read("/srv/moved/notes.txt") == b"kept in an image layer\n"


def test_bind_mounted_files_never_reach_the_upper_dir(image: Image) -> None:
    """Docker binds hosts/hostname/resolv.conf over the init layer: writes stay out of rw."""
    container, result = lab(image, [("write", "/etc/hostname", "box\n")])
    assert len(container.rw) == 0
    assert container.mounts["/etc/hostname"] == b"box\n"
    assert container.read("/etc/hostname") == b"box\n"
    assert container.commit().layer is None  # nothing to commit


def test_commit_of_the_kernel_work_equals_the_model_commit(image: Image) -> None:
    """Kernel times of this session become the container's clock: the same DiffID."""
    ops = OPS["recreate a dir"] + OPS["delete a lower file"] + OPS["chmod copies up"]
    container, result = lab(image, ops)
    assert result.kernel_matches_model
    live, model = container.commit(), model_only(image, ops).commit()
    assert live.diff_id == model.diff_id
    assert live.image.id == model.image.id


@pytest.mark.skipif(not LIVE, reason="runs the image's own shell through the mount")
def test_the_image_shell_works_through_the_mount(image: Image) -> None:
    """("sh", script) runs busybox sh chrooted in the mount; the model's pocket shell agrees."""
    need(has_busybox(image), "no static busybox; install it with: apt-get install busybox-static")
    script = "rm -r /srv; mkdir /srv; echo made > /srv/made; ls /srv; cat /etc/motd"
    container, result = lab(image, [("sh", script)])
    assert result.operations == [f"sh {script!r}: exit 0"]
    assert result.outputs == ["made\nWelcome to a layerlab container.\n"]
    assert isinstance(container.rw["/srv"], OpaqueDir)
    assert result.kernel_matches_model, result.differences


def test_on_disk_layout_is_what_the_model_predicts(image: Image) -> None:
    """overlay2 dirs (diff, link, lower, work, merged, l/) named by cache and mount IDs,
    the layer store keyed by chain ID, containers/ beside overlay2/; and AuFS's dirs."""
    container, result = lab(image, OPS["recreate a dir"] + OPS["delete a lower file"])
    expected = storage.predicted_listing(container, "overlay2")
    assert result.overlay2_tree == expected
    assert result.aufs_tree == storage.predicted_listing(container, "aufs")
    cid, mount = container.id[:12], storage.mount_id(container)
    assert mount != cid
    for part in (
        f"{mount}-init/   <- init layer",
        f"{mount}/   <- container layer (rw)",
        "l/",
        "merged/",
        "work/",
        "lower = l/",
        f"mount-id = {mount}",
        f"init-id = {mount}-init",
        "cache-id = ",
        "├── containers/",
    ):
        assert part in result.overlay2_tree
    chain = (container.image or image).chain_ids[0].split(":")[1][:12]
    assert f"{chain}/   <- chain ID of L0" in result.overlay2_tree
    for part in ("diff/", "layers/", "mnt/", f"{mount}/  (the union mount"):
        assert part in result.aufs_tree
    layout = result.layout()
    assert "overlay2/" in layout and "aufs/" in layout
    assert tempfile.gettempdir() + "/" not in layout


def test_write_aufs_puts_on_disk_what_the_model_predicts(image: Image, tmp_path) -> None:
    """AuFS needs no kernel support to be laid out: .wh. files are plain files."""
    container = model_only(image, OPS["recreate a dir"] + OPS["delete a lower file"])
    storage.write_aufs(container, str(tmp_path))
    disk = storage.listing(str(tmp_path), container, "aufs")
    assert disk == storage.predicted_listing(container, "aufs")
    mount = storage.mount_id(container)
    assert (tmp_path / "diff" / mount / "etc" / ".wh.motd").is_file()
    assert (tmp_path / "layers" / mount).read_text().count("\n") == 3


def _mount_with(base: str, options: str) -> str:
    """Inside a user namespace: try an overlay mount with these options."""
    from layerlab.live.kernel import syscalls

    for name in ("lower", "upper", "work", "merged"):
        os.mkdir(f"{base}/{name}")
    data = f"lowerdir={base}/lower,upperdir={base}/upper,workdir={base}/work,{options}"
    try:
        syscalls.mount("overlay", f"{base}/merged", "overlay", 0, data)
    except OSError as exc:
        return syscalls.errno_text(exc).split()[0]
    return "mounted"


@pytest.mark.skipif(not LIVE, reason="asks the kernel")
def test_the_kernel_refuses_redirect_dir_off_with_userxattr() -> None:
    """Why the rootless options say redirect_dir=nofollow: userxattr refuses 'off'."""
    need(ROOTLESS or WORLD == "root", "needs a live kernel")
    answers = {}
    for label, options in [
        ("rootless", ROOTLESS_OPTIONS),
        ("off", "userxattr,index=off,redirect_dir=off"),
    ]:
        with temp_dir("options") as base:
            outcome = spawn(_mount_with, base, options, namespaces=["mnt"], user=True, timeout=5)
        answers[label] = outcome.unwrap()
    assert answers == {"rootless": "mounted", "off": "EINVAL"}
    assert "redirect_dir=off" in ROOT_OPTIONS


def test_unknown_operation_is_refused_before_anything_runs(image: Image) -> None:
    container = Container(image)
    with pytest.raises(ValueError, match="unknown operation 'frobnicate'"):
        overlay_lab(container, [("unlink", "/etc/motd"), ("frobnicate", "/")])
    assert len(container.rw) == 0


def test_rootless_refuses_files_of_other_users_by_simulating(image: Image) -> None:
    """A one-user namespace maps only uid 0: a file of uid 1000 cannot be written there."""
    layer = image.model_layers()[1].copy()
    layer["/home/user.txt"] = File(Meta(mode=0o644, uid=1000, gid=1000))
    container = Container([image.model_layers()[0], layer])
    result = overlay_lab(container, [("unlink", "/etc/motd")])
    if ROOTLESS:
        assert not result.live and "owned by 1000:1000" in result.reason
    else:
        check_world(result)
    assert isinstance(container.rw["/etc/motd"], Whiteout)


def test_printed_form_is_stable(image: Image) -> None:
    """Notebooks commit outputs: the same text twice, no temp path, no PIDs."""
    first = str(lab(image, OPS["recreate a dir"])[1])
    second = lab(image, OPS["recreate a dir"])[1]
    assert first == str(second) == repr(second)
    assert tempfile.gettempdir() + "/" not in first
    assert not re.search(r"\d{5,}", first)


@pytest.mark.skipif(not LIVE, reason="compares live with simulated")
def test_simulation_shows_what_the_kernel_shows(image: Image, monkeypatch) -> None:
    ops = OPS["recreate a dir"] + OPS["delete a lower file"] + OPS["bind-mounted files"]
    live = lab(image, ops)[1]
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    simulated = lab(image, ops)[1]
    assert [f.name for f in dataclasses.fields(simulated)] == [
        f.name for f in dataclasses.fields(live)
    ]
    assert simulated.facts() == live.facts()  # what nbval needs: the same text in every world
    assert str(simulated).split("\n", 3)[3] == str(live).split("\n", 1)[1]
    assert simulated.overlay2_tree == live.overlay2_tree
    assert simulated.aufs_tree == live.aufs_tree


@pytest.mark.skipif(not LIVE, reason="a simulation has nothing to interrupt")
def test_ctrl_c_while_mounted_leaves_nothing_and_changes_nothing(image: Image) -> None:
    """Ctrl-C with the overlay mounted: mount, child, temp dir gone; the rw layer untouched."""
    container = Container(image)
    with Interrupter("overlay-mounted") as press, pytest.raises(KeyboardInterrupt):
        overlay_lab(container, [("unlink", "/etc/motd")])
    assert press.reached
    assert len(container.rw) == 0 and container.log == []


@pytest.mark.skipif(not LIVE, reason="a simulation has nothing to time out")
def test_timeout_stops_the_session(image: Image) -> None:
    need(has_busybox(image), "no static busybox; install it with: apt-get install busybox-static")
    with pytest.raises(LiveTimeout):
        overlay_lab(Container(image), [("sh", "sleep 5")], timeout=1)
