"""chroot vs pivot_root: the classic escape works from a chroot and fails after pivot_root."""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile

import pytest
from livetools import WORLD, Interrupter, need

from layerlab import samples
from layerlab.live import rootfs
from layerlab.live.kernel.result import SIMULATED_BANNER, LiveError, LiveResult

pytestmark = pytest.mark.live

LIVE = WORLD != "simulated"
EXPECTED_ROOT = ["LAYERLAB_ROOTFS", "bin", "dev", "etc", "proc", "root", "sys", "tmp"]


def check_world(result: LiveResult) -> None:
    assert result.world == WORLD
    assert result.live is LIVE
    if not LIVE:
        assert str(result).startswith(SIMULATED_BANNER)


def static_busybox() -> str:
    found = samples.find_static_busybox()
    need(found is not None, "no static busybox; install it with: apt-get install busybox-static")
    return found or ""


def test_static_elf_detection_tells_busybox_static_from_dynamic_programs(tmp_path) -> None:
    """A rootfs without libc can only hold static programs: PT_INTERP is the tell."""
    assert samples.is_static_elf(static_busybox())
    assert not samples.is_static_elf(os.path.realpath("/bin/sh"))  # dash, linked to libc
    text = tmp_path / "script"
    text.write_text("#!/bin/sh\n")
    assert not samples.is_static_elf(str(text))


def test_build_rootfs_with_busybox(tmp_path) -> None:
    made = rootfs.build_rootfs(str(tmp_path), busybox=static_busybox())
    assert made.kind == "busybox"
    assert made.entries() == EXPECTED_ROOT
    assert os.readlink(tmp_path / "bin" / "sh") == "busybox"
    assert (tmp_path / "etc" / "hostname").read_text() == "container\n"
    assert oct((tmp_path / "tmp").stat().st_mode & 0o7777) == "0o1777"


def test_build_rootfs_without_busybox_holds_files_only(tmp_path) -> None:
    made = rootfs.build_rootfs(str(tmp_path), busybox=None)
    assert made.kind == "files"
    assert made.entries() == EXPECTED_ROOT
    assert os.listdir(tmp_path / "bin") == []


def test_build_rootfs_refuses_a_non_empty_directory(tmp_path) -> None:
    (tmp_path / "precious").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        rootfs.build_rootfs(str(tmp_path))
    assert os.listdir(tmp_path) == ["precious"]


def test_root_in_a_chroot_climbs_out() -> None:
    """The classic escape: chroot into a subdir, cd .. past the new root, chroot(".")."""
    result = rootfs.chroot_escape()
    check_world(result)
    assert result.root_listing == EXPECTED_ROOT
    assert not result.host_visible_before
    assert result.escaped


def test_pivot_root_with_the_old_root_unmounted_closes_the_escape() -> None:
    result = rootfs.pivot_root_jail()
    check_world(result)
    assert result.root_listing == EXPECTED_ROOT
    assert result.old_root_visible_before_unmount
    assert not result.old_root_visible_after_unmount
    assert not result.escaped
    assert "DOCKER_RAMDISK" in str(result)  # why Docker falls back to chroot


@pytest.mark.skipif(not LIVE, reason="runs busybox in a real rootfs")
def test_a_program_runs_in_the_rootfs_as_in_a_container() -> None:
    """ls /, hostname and ps inside: the rootfs, its own hostname, PID 1 + the shell."""
    static_busybox()
    with tempfile.TemporaryDirectory() as base:
        rootfs.build_rootfs(base)
        done = rootfs.run_in_rootfs(base, ["sh", "-c", "ls /; hostname; ps -o pid; ls /dev"])
        after = sorted(os.listdir(base))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert lines[: len(EXPECTED_ROOT) + 1] == [*EXPECTED_ROOT, "container"]
    assert "1" in lines and "null" in lines
    assert after == EXPECTED_ROOT  # nothing was created in the container's rootfs


@pytest.mark.skipif(not LIVE, reason="runs a real child")
def test_a_rootfs_without_a_shell_is_refused_with_the_fix(tmp_path) -> None:
    rootfs.build_rootfs(str(tmp_path), busybox=None)
    with pytest.raises(LiveError, match="busybox-static"):
        rootfs.run_in_rootfs(str(tmp_path), ["sh"])


DEMOS = {"chroot": rootfs.chroot_escape, "pivot": rootfs.pivot_root_jail}


@pytest.mark.parametrize("name", DEMOS)
def test_printed_form_is_stable(name: str) -> None:
    result = DEMOS[name]()
    first, second = str(result), str(DEMOS[name]())
    assert first == second
    assert repr(result) == first  # what a notebook shows for a result ending a cell
    assert tempfile.gettempdir() + "/" not in first
    assert not re.search(r"\d{4,}", first)


@pytest.mark.skipif(not LIVE, reason="compares live with simulated")
@pytest.mark.parametrize("name", DEMOS)
def test_simulation_shows_what_the_kernel_shows(name: str, monkeypatch) -> None:
    live = DEMOS[name]()
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    simulated = DEMOS[name]()
    assert type(simulated) is type(live)
    assert [f.name for f in dataclasses.fields(simulated)] == [
        f.name for f in dataclasses.fields(live)
    ]
    assert simulated.facts() == live.facts()


@pytest.mark.skipif(not LIVE, reason="a simulation has nothing to interrupt")
@pytest.mark.parametrize(("name", "stage"), [("chroot", "chrooted"), ("pivot", "pivoted")])
def test_ctrl_c_inside_the_new_root_leaves_nothing(name: str, stage: str) -> None:
    """Ctrl-C while the child sits in its chroot / pivoted root: child, mounts and dirs gone."""
    with Interrupter(stage) as press, pytest.raises(KeyboardInterrupt):
        DEMOS[name]()
    assert press.reached
