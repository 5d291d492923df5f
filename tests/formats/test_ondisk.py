"""Layer directories in both spellings (docs/semantics.md rules 10, 16, 19), losslessly."""

from __future__ import annotations

import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerlab.entries import Dir, Fifo, File, Hardlink, Meta, OpaqueDir, Symlink, Whiteout
from layerlab.formats.ondisk import (
    OnDiskFormat,
    convert_layer_dir,
    read_layer_dir,
    write_layer_dir,
)
from layerlab.layer import Layer
from layerlab.safety import LayerlabError

AUFS, OVERLAY = OnDiskFormat.AUFS, OnDiskFormat.OVERLAY
LAYER = Layer(
    {
        "/etc": Dir(Meta(mode=0o755, mtime=7)),
        "/etc/motd": Whiteout(),
        "/etc/hosts": File.of("h", mtime=9),
        "/etc/hosts2": Hardlink(Meta(mtime=9), target="/etc/hosts"),  # a link shares its inode
        "/var": OpaqueDir(Meta(mode=0o700)),
        "/var/new": File.of("n", mode=0o600),
        "/bin": Symlink(Meta(mode=0o777), "usr/bin"),
        "/run/fifo": Fifo(Meta(mode=0o644)),
        "/run": Dir(),
    }
)


@pytest.fixture
def root(need_root) -> None:
    need_root("overlay whiteouts are char devices and the opaque xattr is trusted.*")


def test_aufs_spelling_is_whiteout_files_and_opaque_marker(tmp_path):
    write_layer_dir(LAYER, tmp_path / "l", AUFS)
    assert (tmp_path / "l/etc/.wh.motd").is_file()
    assert (tmp_path / "l/var/.wh..wh..opq").is_file()
    assert not (tmp_path / "l/etc/motd").exists()
    assert read_layer_dir(tmp_path / "l", AUFS) == LAYER


def test_overlay_spelling_is_char_device_and_opaque_xattr(tmp_path, root):
    write_layer_dir(LAYER, tmp_path / "l", OVERLAY)
    motd = os.lstat(tmp_path / "l/etc/motd")
    assert stat.S_ISCHR(motd.st_mode) and motd.st_rdev == 0
    assert os.getxattr(tmp_path / "l/var", "trusted.overlay.opaque") == b"y"
    assert not (tmp_path / "l/var/.wh..wh..opq").exists()
    assert read_layer_dir(tmp_path / "l", OVERLAY) == LAYER


def test_userxattr_spells_opaque_as_user_overlay_opaque(tmp_path, root):
    """Rootless overlay with -o userxattr reads user.overlay.* (kernel >= 5.11)."""
    write_layer_dir(LAYER, tmp_path / "l", OVERLAY, userxattr=True)
    assert os.getxattr(tmp_path / "l/var", "user.overlay.opaque") == b"y"
    assert read_layer_dir(tmp_path / "l", OVERLAY, userxattr=True) == LAYER
    assert read_layer_dir(tmp_path / "l", OVERLAY)["/var"] == Dir(Meta(mode=0o700))


def test_aufs_bookkeeping_is_not_part_of_the_layer(tmp_path):
    """AuFS keeps .wh..wh.plnk / .wh..wh.aufs in each branch; they are never exported."""
    write_layer_dir(Layer({"/x": File.of("x")}), tmp_path / "l", AUFS)
    (tmp_path / "l/.wh..wh.plnk").mkdir()
    (tmp_path / "l/.wh..wh.aufs").write_bytes(b"")
    assert read_layer_dir(tmp_path / "l", AUFS).paths() == ["/x"]


def test_redirect_dir_upper_is_refused(tmp_path, root):
    (tmp_path / "u/d").mkdir(parents=True)
    os.setxattr(tmp_path / "u/d", "trusted.overlay.redirect", b"/old")
    with pytest.raises(LayerlabError, match="redirect_dir"):
        read_layer_dir(tmp_path / "u", OVERLAY)


def test_hardlink_into_a_lower_layer_cannot_be_stored_in_one_dir(tmp_path):
    """docs/semantics.md: a hardlink to a lower-layer file fails in per-layer storage."""
    with pytest.raises(LayerlabError, match="lower layer"):
        write_layer_dir(Layer({"/h": Hardlink(target="/lower")}), tmp_path / "l", AUFS)
    assert not (tmp_path / "l").exists()


def test_reading_never_follows_a_symlink_out(tmp_path):
    (tmp_path / "secret").write_text("host file")
    (tmp_path / "l").mkdir()
    os.symlink(tmp_path / "secret", tmp_path / "l/s")
    assert read_layer_dir(tmp_path / "l", AUFS)["/s"] == Symlink(
        read_layer_dir(tmp_path / "l", AUFS)["/s"].meta, str(tmp_path / "secret")
    )


def test_plain_tree_refuses_names_a_layer_cannot_carry(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t/.wh.x").write_text("")
    with pytest.raises(LayerlabError, match="named like a whiteout"):
        read_layer_dir(tmp_path / "t", None)


def test_big_files_are_read_lazily(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t/big").write_bytes(b"x" * 1_000_000)
    content = read_layer_dir(tmp_path / "t", None)["/big"].content
    assert content._data is None and content.read() == b"x" * 1_000_000


names = st.sampled_from(["a", "b", "c"])
paths = st.lists(names, min_size=1, max_size=3).map(lambda p: "/" + "/".join(p))
entries = st.sampled_from(
    [
        File.of("1"),
        File.of("22", mode=0o4755),
        Dir(Meta(mode=0o700)),
        OpaqueDir(),
        Whiteout(),
        Symlink(Meta(mode=0o777), "x"),
        Fifo(Meta(mode=0o600)),
    ]
)


@settings(
    max_examples=40, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(paths, entries, max_size=8))
def test_conversion_between_spellings_is_lossless(tmp_path_factory, root, chosen):
    keep = {
        p: e
        for p, e in chosen.items()
        if isinstance(e, Dir) or not any(q.startswith(p + "/") for q in chosen)
    }
    work = tmp_path_factory.mktemp("conv")
    write_layer_dir(Layer(keep), work / "aufs", AUFS)
    original = read_layer_dir(work / "aufs", AUFS)
    overlay = convert_layer_dir(work / "aufs", AUFS, work / "ovl", OVERLAY)
    assert read_layer_dir(work / "ovl", OVERLAY) == overlay == original
    convert_layer_dir(work / "ovl", OVERLAY, work / "back", AUFS)
    assert read_layer_dir(work / "back", AUFS) == original
