"""Overlay: writes through a union follow overlayfs (docs/semantics.md 12-15)."""

import errno

import pytest

from layerlab.copy_on_write import Overlay
from layerlab.entries import Content, Dir, File, Hardlink, Meta, OpaqueDir, Symlink, Whiteout
from layerlab.layer import Layer
from layerlab.mv import move
from layerlab.union import UnionView

LOWER = {
    "/etc": Dir(Meta(mode=0o755, mtime=7)),
    "/etc/passwd": File(Meta(mode=0o600, uid=3, gid=4, mtime=9), Content(b"root")),
    "/d/a": File.of("a"),
    "/d/sub/b": File.of("b"),
    "/ln": Symlink(target="/etc/passwd"),
    "/h1": File.of("shared"),
    "/h2": Hardlink(target="/h1"),
}


@pytest.fixture
def ov() -> Overlay:
    return Overlay([Layer(LOWER)])


def merged(ov: Overlay) -> UnionView:
    return UnionView([*ov.lower.layers, ov.upper])


def test_first_write_copies_the_file_up_keeping_metadata_and_parents_first(ov):
    """overlayfs: copy-up keeps owner, mode and mtime; parents are copied up first."""
    ov.write("/etc/passwd", "\nbob", append=True)
    assert ov.effects.copied_up == ["/etc", "/etc/passwd"]
    assert ov.upper["/etc"] == LOWER["/etc"]
    copied = ov.upper["/etc/passwd"]
    assert copied.content.read() == b"root\nbob"
    assert (copied.meta.mode, copied.meta.uid, copied.meta.gid) == (0o600, 3, 4)


def test_chmod_copies_up_even_though_no_data_changes(ov):
    ov.chmod("/d/a", 0o700)
    assert ov.upper["/d/a"].content.read() == b"a"
    assert ov.upper["/d/a"].meta.mode == 0o700


def test_unlinking_a_lower_file_leaves_a_whiteout(ov):
    ov.unlink("/d/a")
    assert ov.upper["/d/a"] == Whiteout()
    assert not merged(ov).exists("/d/a")


def test_unlinking_an_upper_only_file_simply_removes_it(ov):
    ov.write("/new", "x")
    ov.unlink("/new")
    assert "/new" not in ov.upper


def test_rm_r_then_mkdir_makes_an_opaque_dir(ov):
    """overlayfs: mkdir over a whited-out name creates an opaque directory."""
    ov.remove("/d")
    assert ov.upper["/d"] == Whiteout()
    assert "/d/a" not in ov.upper  # the dir's own whiteouts go with it
    ov.mkdir("/d")
    assert isinstance(ov.upper["/d"], OpaqueDir)
    ov.write("/d/z", "z")
    assert merged(ov).readdir("/d") == ["z"]


def test_renaming_a_lower_directory_fails_with_exdev(ov):
    """overlayfs without redirect_dir: a lower or merged directory cannot be renamed."""
    with pytest.raises(OSError) as info:
        ov.rename("/d", "/e")
    assert info.value.errno == errno.EXDEV


def test_mv_of_a_lower_directory_copies_then_deletes(ov):
    move(ov, "/d", "/e")
    assert ov.upper["/d"] == Whiteout()
    m = merged(ov)
    assert m.read("/e/sub/b") == b"b"
    assert not m.exists("/d")


def test_renaming_a_lower_file_copies_up_and_whites_out_the_old_name(ov):
    ov.rename("/d/a", "/d/c")
    assert ov.upper["/d/a"] == Whiteout()
    assert ov.upper["/d/c"].content.read() == b"a"


def test_hardlink_copies_the_source_up_first(ov):
    ov.link("/d/a", "/d/a2")
    assert isinstance(ov.upper["/d/a"], File)
    assert ov.upper["/d/a2"] == Hardlink(ov.upper["/d/a"].meta, target="/d/a")
    ov.write("/d/a2", "changed")
    m = merged(ov)
    assert m.read("/d/a") == m.read("/d/a2") == b"changed"


def test_copy_up_breaks_lower_hardlinks(ov):
    """overlayfs with index=off (as Docker mounts it): copy-up breaks hardlinks."""
    ov.write("/h1", "new")
    m = merged(ov)
    assert m.read("/h1") == b"new"
    assert m.read("/h2") == b"shared"


def test_creating_a_symlink_does_not_copy_up_its_target(ov):
    ov.symlink("/etc/passwd", "/pw")
    assert ov.effects.copied_up == []
    assert "/etc/passwd" not in ov.upper


def test_writing_through_a_symlink_writes_the_target(ov):
    ov.write("/ln", "x")
    assert ov.upper["/etc/passwd"].content.read() == b"x"
    assert "/ln" not in ov.upper


@pytest.mark.parametrize(
    ("action", "code"),
    [
        (lambda o: o.unlink("/missing"), errno.ENOENT),
        (lambda o: o.unlink("/d"), errno.EISDIR),
        (lambda o: o.rmdir("/d"), errno.ENOTEMPTY),
        (lambda o: o.mkdir("/d"), errno.EEXIST),
        (lambda o: o.write("/nodir/x", "x"), errno.ENOENT),
        (lambda o: o.write("/d/a/x", "x"), errno.ENOTDIR),
        (lambda o: o.write("/d", "x"), errno.EISDIR),
    ],
)
def test_errors_carry_the_kernels_errno(ov, action, code):
    with pytest.raises(OSError) as info:
        action(ov)
    assert info.value.errno == code
    assert len(ov.upper) == 0, "a failed operation must not change the upper layer"
