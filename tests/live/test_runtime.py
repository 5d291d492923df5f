"""layerlab.run: overlay rootfs, namespaces, cgroup, pivot_root, exec, in every world.

As root the command really is PID 1 of new namespaces on an overlay of the image, and the
cgroup really kills a memory hog. Rootless, the same without a cgroup (and the result says
so). Simulated, a pocket shell over the model answers, labelled. Every test leaves nothing
behind (tests/live/conftest.py): no mount, cgroup, process or temp dir.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import elsewhere
import pytest
from livetools import WORLD, Interrupter, cgroups_live, need, need_live_cgroups

import layerlab
from layerlab.container import Container
from layerlab.entries import File, OpaqueDir, Whiteout
from layerlab.formats.oci import save_oci
from layerlab.image import Image
from layerlab.live import runtime
from layerlab.live.kernel.child import LiveTimeout
from layerlab.live.kernel.result import SIMULATED_BANNER
from layerlab.live.runtime import RunResult, parse_memory
from layerlab.samples import busybox_image, has_busybox

pytestmark = pytest.mark.live

LIVE = WORLD != "simulated"
CHANGES = "rm /etc/motd; rm -r /srv; mkdir /srv; echo hi > /srv/new; cat /srv/new"


@pytest.fixture(scope="module")
def image() -> Image:
    made = busybox_image()
    if LIVE:
        need(
            has_busybox(made), "no static busybox; install it with: apt-get install busybox-static"
        )
    return made


def check_world(result: RunResult) -> None:
    assert result.world == WORLD
    assert result.live is LIVE, result.reason
    if not LIVE:
        assert str(result).startswith(SIMULATED_BANNER)


def test_the_command_is_pid_1_with_its_own_hostname(image: Image) -> None:
    """unshare --pid + exec: the shell itself is PID 1; --hostname sets the UTS name."""
    result = runtime.run(image, ["sh", "-c", "echo $$; hostname"], hostname="box")
    check_world(result)
    assert result.stdout == "1\nbox\n"
    assert (result.pid_inside, result.hostname_inside, result.exit_code) == (1, "box", 0)


def test_default_hostname_is_the_short_container_id(image: Image) -> None:
    result = runtime.run(image, "hostname", name="web")
    assert result.stdout == result.container.id[:12] + "\n"


@pytest.mark.skipif(not LIVE, reason="looks at the real kernel")
def test_the_container_sees_its_rootfs_lo_only_and_its_own_processes(image: Image) -> None:
    """pivot_root: ls / is the image + init layer; net namespace: lo; /proc: PID 1 only."""
    script = "ls -a /; cat /proc/net/dev; echo /proc/[0-9]*; ls /dev"
    result = runtime.run(image, ["sh", "-c", script])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[:12] == [".", "..", ".dockerenv", "bin", "dev", "etc", "proc", "root", "srv"] + [
        "sys",
        "tmp",
        "Inter-|   Receive                                                |  Transmit",
    ]
    devices = [line.split(":")[0].strip() for line in lines if ":" in line]
    assert devices == ["lo"]
    assert "null" in lines and "zero" in lines
    assert "/proc/1" in lines  # the shell sees itself, PID 1, and nothing else


def test_changes_land_in_the_rw_layer(image: Image) -> None:
    """rm leaves a whiteout; rm -r + mkdir an opaque dir; new files in the rw layer."""
    result = runtime.run(image, ["sh", "-c", CHANGES])
    check_world(result)
    rw = result.container.rw
    assert isinstance(rw["/etc/motd"], Whiteout)
    assert isinstance(rw["/srv"], OpaqueDir)
    assert isinstance(rw["/srv/new"], File) and rw["/srv/new"].content.read() == b"hi\n"
    assert result.rw_layer == [
        "/etc dir 0755",
        "/etc/motd whiteout",
        "/srv opaque dir 0755",
        "/srv/new file 3B 0644",
    ]
    assert result.stdout == "hi\n"


def test_commit_of_a_run_is_reproducible_and_adds_one_layer(image: Image) -> None:
    """Two runs of the same command commit the same DiffID (the session's times are settled)."""
    first = runtime.run(image, ["sh", "-c", CHANGES]).container.commit()
    second = runtime.run(image, ["sh", "-c", CHANGES]).container.commit()
    assert first.diff_id == second.diff_id
    assert first.image.diff_ids[:2] == image.diff_ids
    assert len(first.image.diff_ids) == 3


@pytest.mark.skipif(not LIVE, reason="compares live with simulated")
def test_simulation_shows_what_the_kernel_shows(image: Image, monkeypatch) -> None:
    """The pocket shell and busybox agree on output, exit code, rw layer and commit."""
    script = f"echo $$; hostname; {CHANGES}; ls /; ls /srv; id; rm /nope || echo failed"
    live = runtime.run(image, ["sh", "-c", script], hostname="box")
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    simulated = runtime.run(image, ["sh", "-c", script], hostname="box")
    assert [f.name for f in dataclasses.fields(simulated)] == [
        f.name for f in dataclasses.fields(live)
    ]
    assert simulated.facts() == live.facts()  # what nbval needs: the same text in every world
    assert simulated.stderr == live.stderr
    assert simulated.container.commit().diff_id == live.container.commit().diff_id


def test_bind_mounted_files_stay_out_of_the_rw_layer(image: Image) -> None:
    """Writes to /etc/hosts and /etc/hostname go to the container's own files, not to rw."""
    result = runtime.run(image, ["sh", "-c", "echo 10.0.0.1 db >> /etc/hosts; cat /etc/hosts"])
    assert result.exit_code == 0
    assert len(result.container.rw) == 0
    assert result.container.mounts["/etc/hosts"].endswith(b"10.0.0.1 db\n")
    assert result.stdout.startswith("127.0.0.1\tlocalhost\n")
    assert result.container.commit().layer is None  # docker commit: nothing changed


def test_run_again_in_the_same_container_sees_earlier_changes(image: Image) -> None:
    first = runtime.run(image, ["sh", "-c", "echo one > /note"])
    again = runtime.run(first.container, ["sh", "-c", "cat /note; rm /etc/motd"])
    assert again.stdout == "one\n"
    assert {"/note file 4B 0644", "/etc/motd whiteout"} <= set(again.rw_layer)
    with pytest.raises(ValueError, match="keeps its hostname"):
        runtime.run(first.container, "true", hostname="other")


def test_a_missing_program_exits_127_as_in_docker(image: Image) -> None:
    result = runtime.run(image, ["no-such-program"])
    assert result.exit_code == 127
    assert "no-such-program" in result.stderr


def test_exit_codes_come_back(image: Image) -> None:
    assert runtime.run(image, ["sh", "-c", "exit 3"]).exit_code == (3 if LIVE else 127)
    assert runtime.run(image, ["false"]).exit_code == 1


def test_the_memory_limit_kills_a_hog(image: Image) -> None:
    """docker run --memory 32m: a shell holding 200 MB is killed by the OOM killer: 137.

    Filling 32 MiB through tr takes 15-30 s in the emulated VM of tests/support/kernel-vm
    (under a second here), hence the longer deadline.
    """
    need_live_cgroups()
    hog = "x=$(head -c 200m /dev/zero | tr '\\0' a); echo survived"
    result = runtime.run(image, ["sh", "-c", hog], memory="32m", timeout=120)
    assert result.exit_code == 137
    assert result.oom_killed
    assert result.stdout == ""
    assert result.limits == "memory 32 MiB"


def test_the_pids_limit_refuses_forks(image: Image) -> None:
    """docker run --pids-limit 4: the shell cannot start its 8 background sleeps."""
    need_live_cgroups()
    script = "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait"
    result = runtime.run(image, ["sh", "-c", script], pids=4)
    assert "can't fork" in result.stderr
    assert runtime.run(image, ["sh", "-c", script], pids=16).stderr == ""


def test_limits_are_reported_for_the_world(image: Image) -> None:
    """Rootless without delegation has no cgroup: limits asked for say they were not applied."""
    result = runtime.run(image, "true", memory="64m", pids=32)
    if WORLD == "rootless" and not cgroups_live():
        assert result.limits == (
            "memory 64 MiB, pids 32 NOT applied: a cgroup needs root or a cgroup v2 subtree "
            "delegated to you, so this run has none"
        )
    else:
        assert result.limits == "memory 64 MiB, pids 32"
    assert result.oom_killed is False
    assert runtime.run(image, "true").limits == "none asked for"  # the same in every world


def test_a_step_the_kernel_refuses_falls_back_with_the_reason(image: Image) -> None:
    """sethostname(2) refuses 100 characters: PID 1 reports it, everything is released."""
    result = runtime.run(image, "hostname", hostname="x" * 100)
    assert not result.live
    assert "EINVAL" in result.reason or "LAYERLAB_LIVE=0" in result.reason
    assert tempfile.gettempdir() + "/" not in result.reason
    assert result.stdout == "x" * 100 + "\n"


def test_memory_sizes_read_as_docker_reads_them() -> None:
    assert parse_memory("64m") == 64 << 20
    assert parse_memory("1g") == 1 << 30
    assert parse_memory(1000) == 1000
    with pytest.raises(ValueError, match="k, m or g"):
        parse_memory("lots")


def test_the_placeholder_busybox_is_simulated_with_the_fix() -> None:
    """Without busybox-static nothing in the image can run: a labelled simulation says why."""
    result = runtime.run(busybox_image(busybox=None), ["sh", "-c", "echo $$"])
    assert not result.live
    assert "busybox-static" in result.reason or "LAYERLAB_LIVE=0" in result.reason
    assert result.stdout == "1\n"


def test_printed_form_is_stable(image: Image) -> None:
    first = runtime.run(image, ["sh", "-c", CHANGES], hostname="box")
    second = runtime.run(image, ["sh", "-c", CHANGES], hostname="box")
    assert str(first) == str(second) == repr(second)
    assert tempfile.gettempdir() + "/" not in str(first)
    assert not re.search(r"\d{5,}", str(first))


def test_run_is_exported_lazily_from_layerlab() -> None:
    """`layerlab.run` is the runtime's run, and `import layerlab` does not load it."""
    assert layerlab.run is runtime.run
    code = "import sys, layerlab; print('layerlab.live.runtime' in sys.modules)"
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert fresh.stdout.strip() == "False", fresh.stderr


def test_a_commit_saved_as_oci_reads_in_umoci_and_layerlab(image: Image, umoci, tmp_path) -> None:
    """docker commit + save: `layerlab inspect` and `umoci unpack` both read the new image."""
    result = runtime.run(image, ["sh", "-c", CHANGES])
    committed = result.container.commit(tag="demo:1")
    save_oci(committed.image, tmp_path / "oci", tag="committed")
    cli = os.path.join(os.path.dirname(sys.executable), "layerlab")
    shown = subprocess.run([cli, "inspect", f"{tmp_path}/oci:committed"], capture_output=True)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)[0]["RootFS"]["Layers"] == committed.image.diff_ids
    rootless = [] if os.geteuid() == 0 else ["--rootless"]
    unpack = [umoci, "unpack", *rootless, "--image", f"{tmp_path}/oci:committed"]
    done = subprocess.run([*unpack, str(tmp_path / "bundle")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rootfs = tmp_path / "bundle" / "rootfs"
    assert (rootfs / "srv" / "new").read_text() == "hi\n"
    assert not (rootfs / "etc" / "motd").exists()
    assert not (rootfs / "srv" / "index.html").exists()
    assert not (rootfs / "etc" / "hostname").exists()  # init layer files are never committed


@pytest.mark.skipif(not LIVE, reason="a simulation has nothing to interrupt")
@pytest.mark.parametrize("stage", ["rootfs-ready", "container-running"])
def test_ctrl_c_midway_leaves_nothing(image: Image, stage: str) -> None:
    """Ctrl-C in PID 1 before exec, or while the command runs: all released, rw untouched."""
    container = Container(image)
    with Interrupter(stage) as press, pytest.raises(KeyboardInterrupt):
        runtime.run(container, ["sleep", "5"], memory="64m")
    assert press.reached
    assert len(container.rw) == 0


@pytest.mark.skipif(not LIVE, reason="a simulation has nothing to time out")
def test_timeout_stops_the_container(image: Image) -> None:
    """The deadline covers start and run: set past this machine's start-up time (seconds in
    the emulated VM of tests/support/kernel-vm), so it is the running command that times out."""
    started = time.monotonic()
    runtime.run(image, ["true"], memory="64m")
    timeout = 1 + 3 * (time.monotonic() - started)
    with pytest.raises(LiveTimeout, match="did not finish"):
        runtime.run(image, ["sh", "-c", "sleep 60 & sleep 60"], memory="64m", timeout=timeout)


# -- the rootless world, seen from a root test run (make test also runs this file rootless) --


@pytest.fixture(scope="module")
def rootless() -> dict:
    """The overlay lab and layerlab.run as uid 65534: live, then with LAYERLAB_LIVE=0."""
    with elsewhere.readable_copy(Path(__file__).parent / "runtime_world_driver.py") as top:
        answer = elsewhere.run_as_nobody(top, "runtime_world_driver.py")
        still = subprocess.run(["ps", "-u", "65534", "-o", "args="], capture_output=True)
    assert top.encode() not in still.stdout  # no process of the driver is left
    return answer


ROOT_ONLY = pytest.mark.skipif(WORLD != "root", reason="looks at the rootless world from root")


@ROOT_ONLY
def test_rootless_overlay_uses_userxattr_and_matches_the_model(rootless: dict) -> None:
    lab = rootless["labs"]["overlay"]["live"]
    assert rootless["euid"] == 65534
    assert (lab["live"], lab["world"]) == (True, "rootless"), lab["reason"]
    assert lab["mount_options"] == "userxattr,index=off,redirect_dir=nofollow,metacopy=off"
    assert lab["opaque_xattr"] == "user.overlay.opaque"
    assert lab["facts"]["kernel's upper dir equals the model's rw layer"] == "True"
    assert "srv/  [xattr overlay.opaque=y: opaque]" in lab["tree"]


@ROOT_ONLY
def test_rootless_run_is_pid_1_without_a_cgroup(rootless: dict) -> None:
    lab = rootless["labs"]["run"]["live"]
    assert (lab["live"], lab["world"]) == (True, "rootless"), lab["reason"]
    facts = lab["facts"]
    assert (facts["pid inside"], facts["hostname inside"], facts["exit code"]) == ("1", "box", "0")
    assert facts["printed"].startswith("1\n    box\n    bin")
    assert facts["cgroup limits"].startswith("memory 64 MiB NOT applied: a cgroup needs root or")


@ROOT_ONLY
@pytest.mark.parametrize("name", ["overlay", "run"])
def test_rootless_simulation_shows_what_the_kernel_shows(rootless: dict, name: str) -> None:
    live, simulated = (rootless["labs"][name][w] for w in ("live", "simulated"))
    assert (simulated["live"], simulated["world"]) == (False, "simulated")
    assert "LAYERLAB_LIVE=0" in simulated["reason"]
    world_bound = {"cgroup limits"}  # memory="64m" was asked for, and rootless cannot apply it
    assert {k: v for k, v in simulated["facts"].items() if k not in world_bound} == {
        k: v for k, v in live["facts"].items() if k not in world_bound
    }
    assert simulated["diff_id"] == live["diff_id"]


@ROOT_ONLY
def test_rootless_labs_leave_nothing_behind(rootless: dict) -> None:
    assert rootless["left"] == {"mounts": [], "temp dirs": []}
