"""What a run leaves behind, and what it may remove: staging leftovers, DEST, NEW.

A SIGKILL leaves a staging directory; the next run for the same DEST removes it, but only
when it is certainly a dead run's: our name pattern, our uid, a real directory, unlocked,
unchanged for a while. `diff` must read NEW as it was, never through a swapped symlink.
"""

from __future__ import annotations

import fcntl
import io
import os
import resource
import signal
import stat
import subprocess
import sys
import tarfile
import time

import pytest
from hostile_corpus import layout, tar

from layerlab import output
from layerlab.cli import main
from layerlab.formats import ondisk
from layerlab.output import STAGING_TAG, remove_stale, remove_tree
from layerlab.safety import LayerlabError


def _stale_tree(parent, name="dest", suffix="abcdEFGH"):
    """A staging leftover as a killed root flatten leaves it: deep, with 0555 dirs."""
    stage = parent / f".{name}{STAGING_TAG}{suffix}"
    deep = stage / "usr" / "lib"
    deep.mkdir(parents=True)
    (deep / "libc.so").write_text("x")
    os.symlink("/etc", stage / "etc")
    for path in (deep, deep.parent):
        path.chmod(0o555)
    return stage


@pytest.fixture
def no_wait(monkeypatch):
    """Leftovers count as stale at once (normally they must be 10 s old)."""
    monkeypatch.setattr(output, "_STALE_AFTER", 0.0)


def test_the_next_run_removes_a_killed_runs_staging_dir(tmp_path, capsys, no_wait):
    stage = _stale_tree(tmp_path)
    image = layout(tmp_path / "img", tar(("f", "f", "x")))
    assert main(["flatten", "--no-progress", str(image), str(tmp_path / "dest")]) == 0
    assert not os.path.lexists(stage)
    assert sorted(os.listdir(tmp_path)) == ["dest", "img"]
    assert os.path.exists("/etc/passwd")  # the symlink inside was removed, not followed


def test_only_certain_leftovers_are_removed(tmp_path, no_wait):
    dest = tmp_path / "dest"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("precious")
    link = tmp_path / f".dest{STAGING_TAG}linkLINK"
    link.symlink_to(outside)
    short = tmp_path / f".dest{STAGING_TAG}abc"  # not our pattern
    short.mkdir()
    other_dest = _stale_tree(tmp_path, name="other")
    busy = _stale_tree(tmp_path, suffix="busyBUSY")
    lock = os.open(busy, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(lock, fcntl.LOCK_EX)  # a run still going holds its lock
    stale = _stale_tree(tmp_path)
    try:
        removed = remove_stale(dest)
    finally:
        os.close(lock)
    assert removed == [stale.name]
    assert link.is_symlink() and (outside / "keep").read_text() == "precious"
    assert short.is_dir() and other_dest.is_dir() and busy.is_dir()


def test_a_fresh_leftover_is_left_alone(tmp_path):
    stage = _stale_tree(tmp_path)
    assert remove_stale(tmp_path / "dest") == []  # it may belong to a run just starting
    assert stage.is_dir()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_another_users_leftover_is_left_alone(tmp_path, no_wait):
    stage = _stale_tree(tmp_path)
    os.chown(stage, 65534, 65534)
    assert remove_stale(tmp_path / "dest") == []
    assert stage.is_dir()


def test_sigkill_leaves_a_staging_dir_that_the_next_run_removes(tmp_path, capsys, no_wait):
    files = [(f"d{i // 100}/f{i}", "f", os.urandom(64)) for i in range(3000)]
    image = layout(tmp_path / "img", tar(*files))
    dest = tmp_path / "dest"
    proc = subprocess.Popen(
        [sys.executable, "-m", "layerlab", "flatten", "--no-progress", str(image), str(dest)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not [n for n in os.listdir(tmp_path) if STAGING_TAG in n]:
        assert time.monotonic() < deadline and proc.poll() is None, "no staging dir seen"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = [n for n in os.listdir(tmp_path) if STAGING_TAG in n]
    assert left and not dest.exists()
    assert main(["flatten", "--no-progress", str(image), str(dest)]) == 0
    assert sorted(os.listdir(tmp_path)) == ["dest", "img"]


def test_remove_tree_handles_any_depth_and_read_only_dirs(tmp_path):
    top = tmp_path / "deep"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    for _ in range(3000):  # far beyond PATH_MAX and the recursion limit
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(os.open("f", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    os.chmod(fd, 0o555)
    os.close(fd)
    remove_tree(top)
    assert os.listdir(tmp_path) == []


def test_a_tree_deeper_than_the_descriptor_limit_is_a_clean_error(tmp_path, capsys):
    from hostile_corpus import _deep

    image = layout(tmp_path / "img", tar(*_deep(400), ("d/f", "f", "x")))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        code = main(["flatten", "--no-progress", str(image), str(tmp_path / "dest")])
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    err = capsys.readouterr().err
    assert code == 1 and "Too many open files" in err and len(err) < 400, err
    assert os.listdir(tmp_path) == ["img"]


def test_flatten_into_the_current_directory_writes_in_place(tmp_path, capsys, monkeypatch):
    image = layout(tmp_path / "img", tar(("f", "f", "x")))
    here = tmp_path / "here"
    here.mkdir(mode=0o755)
    monkeypatch.chdir(here)
    assert main(["flatten", "--no-progress", str(image), "."]) == 0
    assert os.listdir(here) == ["f"]
    assert stat.S_IMODE(os.stat(here).st_mode) == 0o700
    assert sorted(os.listdir(tmp_path)) == ["here", "img"]


def test_a_failed_flatten_in_place_gives_back_an_empty_dir_with_its_mode(
    tmp_path, capsys, monkeypatch
):
    image = layout(tmp_path / "img", tar(("a", "f", "x"), ("n" * 300, "f", "x")))
    here = tmp_path / "here"
    here.mkdir(mode=0o755)
    monkeypatch.chdir(here)
    assert main(["flatten", "--no-progress", str(image), "."]) == 1
    assert "File name too long" in capsys.readouterr().err
    assert os.listdir(here) == []
    assert stat.S_IMODE(os.stat(here).st_mode) == 0o755


@pytest.mark.skipif(os.geteuid() != 0, reason="as root, xattrs are not skipped for want of root")
def test_an_invalid_xattr_is_not_blamed_on_missing_root(tmp_path, capsys):
    layer = tar(("f", "f", "x", {"pax_headers": {"SCHILY.xattr.bogus.name": "v"}}))
    image = layout(tmp_path / "img", layer)
    assert main(["flatten", "--no-progress", str(image), str(tmp_path / "dest")]) == 0
    err = capsys.readouterr().err
    assert "skipped xattr bogus.name on /f (" in err and "needs root" not in err


# -- diff while NEW changes -----------------------------------------------------------------


def _trees(tmp_path):
    old, new, host = tmp_path / "old", tmp_path / "new", tmp_path / "host"
    for path in (old, new / "sub", host):
        path.mkdir(parents=True)
    (new / "sub" / "big").write_bytes(b"mine" * 50_000)  # read lazily, when written
    (new / "sub" / "small").write_text("mine")
    (host / "big").write_bytes(b"HOST" * 50_000)
    (host / "small").write_text("HOST")
    return old, new, host


def _swap_for_symlink(directory, target):
    os.rename(directory, directory.with_name("sub.moved"))
    directory.symlink_to(target)


def test_a_dir_swapped_for_a_symlink_during_the_walk_is_not_followed(tmp_path, monkeypatch):
    old, new, host = _trees(tmp_path)
    visit = ondisk._Reader.visit

    def swap_first(self, fd, name, path):  # noqa: ANN001, ANN202
        if path == "/sub":
            _swap_for_symlink(new / "sub", host)
        return visit(self, fd, name, path)

    monkeypatch.setattr(ondisk._Reader, "visit", swap_first)
    assert main(["diff", str(old), str(new), "-o", str(tmp_path / "layer.tar")]) == 0
    data = (tmp_path / "layer.tar").read_bytes()
    assert b"HOST" not in data
    with tarfile.open(fileobj=io.BytesIO(data)) as layer:
        assert layer.getmember("sub").issym()


def test_a_dir_swapped_after_the_walk_is_refused_not_read(tmp_path, monkeypatch, capsys):
    old, new, host = _trees(tmp_path)
    read = ondisk.read_layer_dir

    def read_then_swap(src, *args, **kwargs):  # noqa: ANN001, ANN202
        layer = read(src, *args, **kwargs)
        if os.path.samefile(src, new):
            _swap_for_symlink(new / "sub", host)
        return layer

    monkeypatch.setattr(ondisk, "read_layer_dir", read_then_swap)
    assert main(["diff", str(old), str(new), "-o", str(tmp_path / "layer.tar")]) == 1
    assert "changed while layerlab was reading it" in capsys.readouterr().err
    assert not (tmp_path / "layer.tar").exists()


def test_a_file_swapped_for_a_fifo_does_not_hang_diff(tmp_path):
    _, new, _ = _trees(tmp_path)
    layer = ondisk.read_layer_dir(new, None)
    (new / "sub" / "big").unlink()
    os.mkfifo(new / "sub" / "big")
    with pytest.raises(LayerlabError, match="changed while"):
        layer["/sub/big"].content.read()


def test_diff_keeps_at_most_eager_total_of_contents_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(ondisk, "EAGER_TOTAL", 10_000)
    for i in range(10):
        (tmp_path / f"f{i}").write_bytes(b"x" * 4000)
    layer = ondisk.read_layer_dir(tmp_path, None)
    in_memory = [p for p in layer if layer[p].content._data is not None]
    assert len(in_memory) == 2  # 8,000 bytes; the rest stay on disk until read
    assert all(layer[p].content.read() == b"x" * 4000 for p in layer)
