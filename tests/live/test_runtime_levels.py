"""Notebook 08's runtime levels run the learner's run() in a live sandbox: whatever that
code does (hang, raise, fork and forget, Ctrl-C while it runs), the check stops it and
leaves nothing behind (the autouse no_leftovers fixture: processes, temp dirs, mounts)."""

from __future__ import annotations

import os
import stat

import pytest
from livetools import WORLD, Interrupter

from layerlab.exercises import check, ex08_cgroup, ex08_levels, ex08_rootfs

pytestmark = pytest.mark.live


@pytest.fixture(autouse=True)
def live_only(monkeypatch):
    if WORLD == "simulated":
        pytest.skip("the sandbox is live; the simulated kernel runs in the test's own process")
    monkeypatch.setattr(ex08_levels, "TIMEOUT", 2.0)
    monkeypatch.setattr(ex08_cgroup, "TIMEOUT", 2.0)
    monkeypatch.setattr(ex08_rootfs, "TIMEOUT", 2.0)


def waits_for_a_sleeper(k, argv):
    pid = k.fork()
    if pid == 0:
        k.execvp("sleep", ["sleep", "60"])
    k.waitpid(pid, 0)


def forks_and_raises(k, argv):
    k.fork()
    k.fork()
    raise RuntimeError("half way")


def forgets_a_sleeper(k, argv, hostname):
    if k.fork() == 0:
        k.unshare(k.CLONE_NEWPID)
        if k.fork() == 0:
            k.execvp("sleep", ["sleep", "60"])
        k._exit(0)
    return 0


def test_a_runtime_that_hangs_is_stopped_with_its_children():
    verdict = check("08.3", waits_for_a_sleeper)
    assert verdict.reason == "hung", str(verdict)


def test_a_runtime_whose_processes_all_raise_leaves_none_of_them():
    verdict = check("08.3", forks_and_raises)
    assert verdict.reason == "child-returned", str(verdict)


def test_a_process_left_running_in_its_own_pid_namespace_is_stopped():
    verdict = check("08.5", forgets_a_sleeper)
    assert verdict.reason == "no-wait", str(verdict)


def test_ctrl_c_while_the_learners_runtime_runs_stops_the_sandbox():
    with Interrupter("child-started") as press, pytest.raises(KeyboardInterrupt):
        check("08.3", waits_for_a_sleeper)
    assert press.reached


def reads_then_raises(k, upper):
    k.listdir(upper)
    raise RuntimeError("half way")


def test_the_commit_level_reads_a_real_upper_dir_and_removes_it_even_when_the_answer_raises():
    from layerlab.live import probe

    if probe.missing("overlayfs"):
        pytest.skip("no real upper dir without root: read from memory instead")
    devices = []

    def spy(k, upper):
        info = k.lstat(f"{upper}/etc/motd")
        devices.append((stat.S_ISCHR(info.st_mode), info.st_rdev))
        return {}

    check("08.8", spy)
    assert devices[0] == (True, 0)  # a real char device 0/0, as overlayfs makes
    verdict = check("08.8", reads_then_raises)
    assert verdict.reason == "raised", str(verdict)
    assert "half way" in str(verdict)


def test_ctrl_c_while_the_learners_commit_reads_leaves_no_upper_dir():
    def interrupted(k, upper):
        k.listdir(upper)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check("08.8", interrupted)


def _leftover_cgroups() -> list[str]:
    from layerlab.live.kernel.cgroupfs import detect_layout

    pids = detect_layout().hierarchies.get("pids")
    if pids is None:
        return []
    return [name for name in os.listdir(pids.mount) if name.startswith("layerlab-level-")]


def cgroup_runtime(k, argv, hostname, cgroup, limit):
    k.mkdir(cgroup)
    k.write_file(f"{cgroup}/pids.max", str(limit))
    shim = k.fork()
    if shim == 0:
        k.write_file(f"{cgroup}/cgroup.procs", "0")
        k.unshare(k.CLONE_NEWUTS | k.CLONE_NEWPID)
        k.sethostname(hostname)
        pid_one = k.fork()
        if pid_one == 0:
            try:
                k.execvp(argv[0], argv)
            finally:
                k._exit(127)
        k._exit(k.waitstatus_to_exitcode(k.waitpid(pid_one, 0)[1]))
    code = k.waitstatus_to_exitcode(k.waitpid(shim, 0)[1])
    k.rmdir(cgroup)
    return code


def hangs_in_its_cgroup(k, argv, hostname, cgroup, limit):
    k.mkdir(cgroup)
    if k.fork() == 0:
        k.write_file(f"{cgroup}/cgroup.procs", "0")
        k.execvp("sleep", ["sleep", "60"])
    k.waitpid(-1, 0)


def need_live_cgroup_level():
    if WORLD != "root":
        pytest.skip("the cgroup level is live as root only; elsewhere it runs on the model")


def test_the_kernel_refuses_the_command_a_fork_past_its_pids_max():
    from layerlab.exercises.ex08_cgroup import cgroup_cases, observe_cgroup

    need_live_cgroup_level()
    case = cgroup_cases()[0]
    seen, box = observe_cgroup(cgroup_runtime, case)
    inside = seen.ran[0]
    assert (inside.cgroup, inside.pids_max, inside.refused) == (box, str(case.limit), True)
    assert seen.value == case.code and not seen.cgroup_left
    assert _leftover_cgroups() == []


def test_a_runtime_that_hangs_in_its_cgroup_is_stopped_and_the_cgroup_removed():
    need_live_cgroup_level()
    verdict = check("08.7", hangs_in_its_cgroup)
    assert verdict.reason == "hung", str(verdict)
    assert _leftover_cgroups() == []


def test_ctrl_c_while_the_cgroup_level_runs_removes_the_cgroup():
    need_live_cgroup_level()
    with Interrupter("child-started") as press, pytest.raises(KeyboardInterrupt):
        check("08.7", hangs_in_its_cgroup)
    assert press.reached
    assert _leftover_cgroups() == []


def need_live_rootfs_level():
    from layerlab.live import probe

    if probe.missing(*ex08_rootfs._live_features()):
        pytest.skip("this world runs level 4 on the simulated kernel")


def mounts_on_the_host_then_hangs(k, argv, hostname, layers, box):
    """Mounts the overlay in the sandbox's own namespace ("the host"), then never returns."""
    lower = ":".join(reversed(layers))
    k.mount("overlay", f"{box}/merged", "overlay", 0,
            f"lowerdir={lower},upperdir={box}/upper,workdir={box}/work")  # fmt: skip
    while True:
        pass


def pivots_then_raises(k, argv, hostname, layers, box):
    """A child pivots into the overlay and keeps the old root; the runtime raises."""
    if k.fork() == 0:
        k.unshare(k.CLONE_NEWNS)
        k.mount(None, "/", None, k.MS_REC | k.MS_PRIVATE)
        k.mount("overlay", f"{box}/merged", "overlay", 0,
                f"lowerdir={layers[0]},upperdir={box}/upper,workdir={box}/work")  # fmt: skip
        k.mkdir(f"{box}/merged/old")
        k.pivot_root(f"{box}/merged", f"{box}/merged/old")
        k._exit(0)
    raise RuntimeError("half way")


def test_a_rootfs_runtime_that_hangs_with_an_overlay_mounted_leaves_no_mount_behind():
    need_live_rootfs_level()
    verdict = check("08.6", mounts_on_the_host_then_hangs)
    assert verdict.reason == "hung", str(verdict)  # no_leftovers: no mount, no temp dir


def test_a_rootfs_runtime_that_raises_after_a_pivot_leaves_no_mount_behind():
    need_live_rootfs_level()
    verdict = check("08.6", pivots_then_raises)
    assert verdict.reason == "raised", str(verdict)


def test_ctrl_c_while_the_rootfs_level_runs_leaves_no_mount_behind():
    need_live_rootfs_level()
    with Interrupter("child-started") as press, pytest.raises(KeyboardInterrupt):
        check("08.6", mounts_on_the_host_then_hangs)
    assert press.reached
