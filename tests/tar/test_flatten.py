"""Flatten: the merged rootfs, written once per file, all or nothing."""

from __future__ import annotations

import io
import os
import stat

import pytest

from layerlab.commit import build_image
from layerlab.entries import (
    Content,
    Device,
    Dir,
    Fifo,
    File,
    Hardlink,
    Meta,
    OpaqueDir,
    Symlink,
    Whiteout,
)
from layerlab.formats.oci import load_oci, save_oci
from layerlab.layer import Layer
from layerlab.safety import LayerlabError
from layerlab.tar import flatten as flatten_module
from layerlab.tar import progress as progress_module
from layerlab.tar.flatten import flatten

STACK = [
    Layer(
        {
            "/bin/busybox": File.of("#!bb", mode=0o4755, uid=0, mtime=100),
            "/bin/sh": Hardlink(target="/bin/busybox"),
            "/etc/passwd": File.of("root:x:0:0\n", mtime=200),
            "/tmp": Dir(Meta(mode=0o1777)),
            "/var/lib/old": File.of("old"),
            "/home/user": Dir(Meta(mode=0o700, uid=1000, gid=1000)),
            "/home/user/.profile": File.of(
                "x", uid=1000, gid=1000, xattrs={"user.origin": b"layer0"}
            ),
        }
    ),
    Layer(
        {
            "/var/lib": OpaqueDir(Meta(mode=0o755)),
            "/var/lib/new": File.of("new"),
            "/etc/passwd": Whiteout(),
            "/dev/null": Device(Meta(mode=0o666), "c", 1, 3),
            "/run/fifo": Fifo(Meta(mode=0o620)),
            "/bin/ash": Hardlink(target="/bin/busybox"),
            "/usr/bin/env": Symlink(Meta(mode=0o777, mtime=300), "/bin/busybox"),
        }
    ),
]


def test_the_union_is_written_with_modes_owners_links_and_xattrs(tmp_path, need_root):
    need_root("owners and device nodes")
    result = flatten(STACK, tmp_path / "root", progress=False)
    root = tmp_path / "root"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == [
        "bin",
        "bin/ash",
        "bin/busybox",
        "bin/sh",
        "dev",
        "dev/null",
        "etc",
        "home",
        "home/user",
        "home/user/.profile",
        "run",
        "run/fifo",
        "tmp",
        "usr",
        "usr/bin",
        "usr/bin/env",
        "var",
        "var/lib",
        "var/lib/new",
    ]
    busybox = os.lstat(root / "bin/busybox")
    assert stat.S_IMODE(busybox.st_mode) == 0o4755 and busybox.st_mtime == 100
    assert busybox.st_nlink == 3 and os.lstat(root / "bin/ash").st_ino == busybox.st_ino
    assert stat.S_IMODE(os.lstat(root / "tmp").st_mode) == 0o1777
    assert os.lstat(root / "home/user").st_uid == 1000
    assert os.getxattr(root / "home/user/.profile", "user.origin") == b"layer0"
    assert os.readlink(root / "usr/bin/env") == "/bin/busybox"
    assert os.lstat(root / "usr/bin/env").st_mtime == 300
    assert os.lstat(root / "dev/null").st_rdev == os.makedev(1, 3)
    assert stat.S_ISFIFO(os.lstat(root / "run/fifo").st_mode)
    assert (result.files, result.hardlinks, result.specials) == (3, 2, 2)


@pytest.mark.parametrize("writers", [0, 2])
def test_many_files_in_many_dirs_are_each_complete(tmp_path, monkeypatch, writers):
    """Enough files for the worker threads to write them in batches: every file has its
    bytes, mode and mtime, every directory its metadata, and a hardlink whose first name
    sits in an earlier batch joins it."""
    monkeypatch.setattr(flatten_module, "_WRITERS", writers)
    modes = (0o644, 0o666, 0o600, 0o4755, 0o1777, 0o400)
    entries: dict = {}
    for d in range(4):
        entries[f"/d{d}"] = Dir(Meta(mode=0o750, mtime=7))
        for i in range(150):
            entries[f"/d{d}/f{i}"] = File.of(f"{d}/{i}", mode=modes[i % 6], mtime=1000 + i)
    entries["/d3/z-link"] = Hardlink(target="/d0/f5")
    result = flatten([Layer(entries)], tmp_path / "root", progress=False)
    root = tmp_path / "root"
    assert (result.files, result.hardlinks) == (600, 1)
    for d in range(4):
        assert stat.S_IMODE(os.lstat(root / f"d{d}").st_mode) == 0o750
        assert os.lstat(root / f"d{d}").st_mtime == 7
        for i in range(150):
            info = os.lstat(root / f"d{d}/f{i}")
            assert (stat.S_IMODE(info.st_mode), info.st_mtime) == (modes[i % 6], 1000 + i)
            assert (root / f"d{d}/f{i}").read_bytes() == f"{d}/{i}".encode()
    assert os.lstat(root / "d3/z-link").st_ino == os.lstat(root / "d0/f5").st_ino


def test_modes_the_umask_would_strip_are_still_exact(tmp_path):
    """Files are created with their final mode only when the umask leaves it alone."""
    old = os.umask(0o077)
    try:
        flatten(
            [Layer({"/a": File.of("a", mode=0o644), "/b": File.of("b", mode=0o640)})],
            tmp_path / "root",
            progress=False,
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.lstat(tmp_path / "root/a").st_mode) == 0o644
    assert stat.S_IMODE(os.lstat(tmp_path / "root/b").st_mode) == 0o640


def test_contents_stream_from_the_layer_blobs(tmp_path):
    """A big file is copied from the (uncompressed) blob, not held in memory."""
    data = os.urandom(3 << 20)
    save_oci(build_image([Layer({"/big": File.of(data)})]), tmp_path / "oci", compression="")
    image = load_oci(tmp_path / "oci")
    assert image.layers[0].layer["/big"].content._data is None
    flatten(image, tmp_path / "root", progress=False)
    assert (tmp_path / "root/big").read_bytes() == data


def test_an_empty_existing_destination_is_used(tmp_path):
    (tmp_path / "root").mkdir()
    flatten(STACK, tmp_path / "root", progress=False)
    assert (tmp_path / "root/var/lib/new").read_text() == "new"


def test_a_non_empty_destination_is_refused_and_untouched(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root/precious").write_text("mine")
    with pytest.raises(LayerlabError, match="not empty"):
        flatten(STACK, tmp_path / "root", progress=False)
    assert os.listdir(tmp_path / "root") == ["precious"]


class Boom(Exception):
    pass


def failing_layer(exc: BaseException) -> Layer:
    def opener() -> io.BytesIO:
        raise exc

    return Layer(
        {"/a/first": File.of("1"), "/z/fails": File(Meta(), Content(size=1, opener=opener))}
    )


@pytest.mark.parametrize("exc", [OSError(5, "Input/output error"), KeyboardInterrupt(), Boom()])
@pytest.mark.parametrize("existing", [False, True])
def test_any_failure_leaves_nothing_behind(tmp_path, exc, existing):
    """Bad input rule: no half-written output, also on Ctrl-C."""
    dest = tmp_path / "root"
    if existing:
        dest.mkdir()
    with pytest.raises((LayerlabError, KeyboardInterrupt, Boom)):
        flatten([failing_layer(exc)], dest, progress=False)
    assert os.listdir(tmp_path) == (["root"] if existing else [])
    if existing:
        assert os.listdir(dest) == []


@pytest.mark.parametrize("writers", [0, 2])
def test_a_failing_file_is_named_in_the_error(tmp_path, monkeypatch, writers):
    monkeypatch.setattr(flatten_module, "_WRITERS", writers)
    with pytest.raises(LayerlabError, match="cannot write /z/fails in .*Input/output error"):
        flatten([failing_layer(OSError(5, "Input/output error"))], tmp_path / "root")
    assert os.listdir(tmp_path) == []


def test_a_stack_whose_hardlink_has_no_target_is_refused(tmp_path):
    with pytest.raises(LayerlabError, match="do not stack"):
        flatten([Layer({"/h": Hardlink(target="/missing")})], tmp_path / "root")
    assert not (tmp_path / "root").exists()


def test_no_progress_bar_unless_asked_or_a_terminal(tmp_path, capsys):
    flatten(STACK, tmp_path / "a")
    assert capsys.readouterr().err == ""


def test_builtin_progress_bar_draws_on_stderr_for_long_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "_DELAY", 0.0)
    monkeypatch.setattr(flatten_module.Progress, "__enter__", lambda self: self)
    layer = Layer({f"/f{i}": File.of("x") for i in range(600)})
    flatten([layer], tmp_path / "a", progress=True)
    assert "flatten:" in capsys.readouterr().err
