"""Cgroup labs: layout found not assumed; OOM kill, fork refusal, throttling; always removed."""

from __future__ import annotations

import dataclasses
import os
import subprocess

import pytest
from livetools import WORLD, Interrupter, cgroups_live, need_feature, need_live_cgroups

from layerlab.live import cgroup_limits as labs
from layerlab.live import cgroup_observed
from layerlab.live.kernel import probe
from layerlab.live.kernel.cgroupfs import Cgroup, delegated_subtree, detect_layout, parse_mountinfo
from layerlab.live.kernel.child import LiveTimeout
from layerlab.live.kernel.result import SIMULATED_BANNER, LiveResult

pytestmark = pytest.mark.live

# Real machines' texts (trimmed): Debian 12 (pure v2), this CI machine (hybrid), CentOS 7 (v1).
PURE_V2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
PURE_V2_SELF = "0::/user.slice/user-1000.slice/session-2.scope\n"
HYBRID = """31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_SELF = "8:pids:/\n4:memory:/lab/one\n1:cpu:/\n0::/\n"
PURE_V1 = """25 18 0:21 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755
26 25 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu
27 25 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
28 25 0:24 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
"""
PURE_V1_SELF = "4:pids:/\n3:memory:/\n2:cpuacct,cpu:/\n"


def test_pure_v2_uses_one_tree() -> None:
    """Debian 12 / Ubuntu 22.04: memory.max, pids.max and cpu.max in one tree."""
    layout = detect_layout(PURE_V2, PURE_V2_SELF, "cpuset cpu io memory hugetlb pids")
    assert layout.kind == "v2"
    assert {h.version for h in layout.hierarchies.values()} == {2}
    assert layout.hierarchies["memory"].mount == "/sys/fs/cgroup"
    assert layout.hierarchies["memory"].current == "/user.slice/user-1000.slice/session-2.scope"


def test_hybrid_with_empty_v2_tree_falls_back_to_v1() -> None:
    """This machine: a v2 mount with no controllers, so every limit goes through v1."""
    layout = detect_layout(HYBRID, HYBRID_SELF, "")
    assert layout.kind == "hybrid"
    assert {c: h.mount for c, h in layout.hierarchies.items()} == {
        "memory": "/sys/fs/cgroup/memory",
        "pids": "/sys/fs/cgroup/pids",
        "cpu": "/sys/fs/cgroup/cpu",
    }
    assert layout.hierarchies["memory"].current == "/lab/one"


def test_hybrid_takes_a_controller_from_v2_when_v2_has_it() -> None:
    layout = detect_layout(HYBRID, HYBRID_SELF, "pids")
    assert layout.hierarchies["pids"].version == 2
    assert layout.hierarchies["memory"].version == 1


def test_pure_v1_with_comounted_cpu_and_cpuacct() -> None:
    layout = detect_layout(PURE_V1, PURE_V1_SELF, None)
    assert layout.kind == "v1"
    assert layout.hierarchies["cpu"].mount == "/sys/fs/cgroup/cpu,cpuacct"


def test_no_cgroups_mounted_says_what_is_missing() -> None:
    layout = detect_layout("22 1 0:5 / /proc rw - proc proc rw\n", "", None)
    assert layout.kind == "none"
    assert layout.missing == ("memory", "pids", "cpu")
    assert "missing: memory, pids, cpu" in layout.describe()


def test_layout_here_agrees_with_the_filesystem_type(need_tool) -> None:
    """stat(1): /sys/fs/cgroup is cgroup2fs exactly on pure v2 machines."""
    fstype = subprocess.run(
        [need_tool("stat"), "-f", "-c", "%T", "/sys/fs/cgroup"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    layout = detect_layout()
    assert (layout.kind == "v2") == (fstype == "cgroup2fs")


def test_removal_refuses_a_directory_it_did_not_make(tmp_path) -> None:
    """A bug must never turn cleanup into killing every process of a real cgroup."""
    group = Cgroup.__new__(Cgroup)
    group.dirs = {"pids": str(tmp_path)}
    with pytest.raises(ValueError, match="did not make"):
        group.remove()


def test_cgroup_holds_the_limits_written_and_is_removed_even_on_error() -> None:
    need_live_cgroups()
    need_feature("cgroups")
    with pytest.raises(RuntimeError, match="boom"), Cgroup("limits") as group:
        group.create(memory=32 << 20, pids=5, cpu=0.25)
        snap = group.snapshot()
        raise RuntimeError("boom")
    assert (snap.memory_max, snap.pids_max, snap.cpu_quota_us) == (32 << 20, 5, 25_000)
    assert all(os.path.basename(p).startswith("layerlab-limits-") for p in snap.paths.values())
    assert not any(os.path.exists(p) for p in snap.paths.values())


# Set by tests/support/kernel-vm --as-learner: root delegated this subtree to us.
DELEGATED = os.environ.get("LAYERLAB_DELEGATED_CGROUP")


def check_world(result: LiveResult) -> None:
    """Live where cgroups are writable (root, delegation); labelled SIMULATED elsewhere."""
    writable = cgroups_live()
    assert result.live is writable
    if writable:
        assert result.world == WORLD
    else:
        assert result.world == "simulated"
        assert str(result).startswith(SIMULATED_BANNER)
        assert "cgroups is not available" in result.reason or "LAYERLAB_LIVE=0" in result.reason
    if DELEGATED:
        assert result.live, "a delegated subtree must make the labs live without root"
        assert all(p.startswith(DELEGATED + "/layerlab-") for p in result.snapshot.paths.values())
    if WORLD == "root":
        assert result.live, "as root (CI) the cgroup labs must run live"


def test_memory_limit_ends_in_an_oom_kill() -> None:
    """issue 4: past memory.max the kernel OOM-kills the workload and counts it."""
    result = labs.oom_kill(limit_mib=64)
    check_world(result)
    assert result.killed_by == "SIGKILL"
    assert result.oom_kills == 1
    assert result.reached_limit
    assert result.snapshot.memory_max == 64 << 20
    assert result.snapshot.oom_kills == 1


def test_pids_limit_refuses_forks_with_eagain() -> None:
    """issue 4: with pids.max = 8, the workload plus 7 children fit; 13 more forks fail."""
    result = labs.fork_limit(pids_max=8, attempts=20)
    check_world(result)
    assert (result.forks_succeeded, result.forks_refused) == (7, 13)
    assert result.refusal_errno == "EAGAIN"
    assert result.snapshot.pids_max == 8
    assert result.snapshot.pids_refused == 13


def test_cpu_quota_throttles() -> None:
    """issue 4: a busy loop under a 10 % quota is throttled (cpu.stat nr_throttled)."""
    result = labs.cpu_throttle(fraction=0.1, seconds=0.5)
    check_world(result)
    assert result.throttled
    assert result.within_quota
    assert (result.snapshot.nr_throttled or 0) > 0
    assert result.snapshot.cpu_quota_us == 10_000


LABS = {"oom": labs.oom_kill, "pids": labs.fork_limit, "cpu": labs.cpu_throttle}


@pytest.mark.parametrize("name", LABS)
def test_simulation_shows_what_the_kernel_shows(name: str, monkeypatch) -> None:
    need_live_cgroups()
    live = LABS[name]()
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    simulated = LABS[name]()
    assert type(simulated) is type(live)
    for field in dataclasses.fields(live):
        assert type(getattr(simulated, field.name)) is type(getattr(live, field.name)), field.name
    assert simulated.facts() == live.facts()
    assert str(live).splitlines()[1:] == str(simulated).splitlines()[3:]
    assert repr(live) == str(live)  # no cgroup path, no byte counts: stable in notebooks


INTERRUPTS = [
    ("oom", "cgroup-created"),
    ("oom", "allocating"),
    ("pids", "forked"),
    ("cpu", "spinning"),
]


@pytest.mark.parametrize(("name", "stage"), INTERRUPTS)
def test_ctrl_c_midway_removes_the_cgroup_and_its_processes(name: str, stage: str) -> None:
    """Ctrl-C while the workload runs inside the cgroup: processes killed, cgroup rmdir'ed."""
    need_live_cgroups()
    with Interrupter(stage) as press, pytest.raises(KeyboardInterrupt):
        LABS[name]()
    assert press.reached


def test_timeout_removes_the_cgroup() -> None:
    need_live_cgroups()
    with pytest.raises(LiveTimeout):
        labs.cpu_throttle(fraction=0.05, seconds=30, timeout=0.5)


def test_delegated_subtree_is_the_nearest_process_free_one_we_own(tmp_path) -> None:
    """Our own cgroup holds us, so it cannot hand controllers down: its owned parent can."""
    leaf = tmp_path / "user.slice" / "app.slice" / "app-lab.scope"
    leaf.mkdir(parents=True)
    for directory, procs in ((leaf, "4242\n"), (leaf.parent, ""), (leaf.parent.parent, "")):
        (directory / "cgroup.procs").write_text(procs)
        (directory / "cgroup.subtree_control").write_text("")
    found = delegated_subtree(str(tmp_path), "/user.slice/app.slice/app-lab.scope")
    assert found == str(leaf.parent)
    (leaf.parent / "cgroup.procs").write_text("4243\n")  # a process there: one more step up
    assert delegated_subtree(str(tmp_path), "/user.slice/app.slice/app-lab.scope") == str(
        leaf.parent.parent
    )
    assert delegated_subtree(str(tmp_path), "/elsewhere") is None


@pytest.mark.skipif(not DELEGATED, reason="only where root delegated a subtree to us")
def test_delegation_is_detected_and_used() -> None:
    """kernel-vm --as-learner: root chowned a subtree to us, as systemd does; labs run in it."""
    assert WORLD == "rootless"
    cap = probe.probe()["cgroups"]
    assert cap.available, cap.reason
    assert f"in the subtree delegated to you, {DELEGATED}" in cap.reason
    assert os.stat(DELEGATED).st_uid == os.geteuid()
    assert os.stat(os.path.join(DELEGATED, "memory.max")).st_uid == 0  # its own limit stays root's


def test_v2_files_written_and_read_as_the_kernel_documents(tmp_path) -> None:
    """cgroup-v2.rst names, on a stand-in tree: this CI machine has no v2 controllers.

    memory.max and pids.max take a number, cpu.max "$MAX $PERIOD"; controllers reach a
    child only through the parent's cgroup.subtree_control ("+memory +pids +cpu").
    """
    root = tmp_path
    (root / "cgroup.subtree_control").write_text("")
    layout = detect_layout(
        f"30 23 0:26 / {root} rw - cgroup2 cgroup2 rw\n", "0::/\n", "cpu memory pids"
    )
    group = Cgroup("v2", layout)
    group.create(memory=32 << 20, pids=5, cpu=0.5)
    made = root / os.path.basename(group.dirs["memory"])
    assert set(group.dirs.values()) == {str(made)}
    assert (root / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert (made / "memory.max").read_text() == str(32 << 20)
    assert (made / "pids.max").read_text() == "5"
    assert (made / "cpu.max").read_text() == "50000 100000"
    (made / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n")
    (made / "cpu.stat").write_text(
        "usage_usec 51000\nnr_periods 6\nnr_throttled 5\nthrottled_usec 420000\n"
    )
    (made / "pids.events").write_text("max 13\n")
    (made / "cgroup.procs").write_text("")
    snap = group.snapshot()
    assert (snap.oom_kills, snap.pids_refused, snap.nr_throttled) == (1, 13, 5)
    assert (snap.cpu_quota_us, snap.cpu_period_us, snap.cpu_usage_us) == (50_000, 100_000, 51_000)
    assert snap.throttled_us == 420_000
    assert snap.versions == {"memory": 2, "pids": 2, "cpu": 2}


def test_comparison_prints_both_recordings() -> None:
    """The notebook's v1/v2 table: both sides, each named by layout and kernel."""
    text = cgroup_observed.comparison()
    header = " ".join(text.splitlines()[0].split())
    assert header == "v1 (hybrid), Linux 6.18 v2 (pure), Linux 6.1"
    assert "memory.limit_in_bytes = 67108864" in text and "memory.max = 67108864" in text
    assert "memory.oom_control: oom_kill = 1" in text and "memory.events: oom_kill = 1" in text


def test_the_recording_of_this_kind_of_machine_holds_here() -> None:
    """Re-run the labs: a machine of a recorded layout must write and read what was recorded.

    This is what keeps the notebook's v1/v2 comparison honest: the hybrid side is re-checked
    on the host, the v2 side in tests/support/kernel-vm (Debian 12's kernel), as root and
    as a learner with a delegated subtree.
    """
    need_live_cgroups()
    kind = detect_layout().kind
    if kind not in cgroup_observed.LAYOUTS:
        pytest.skip(f"no recording for a {kind} machine")
    seen, recorded = cgroup_observed.observe(), cgroup_observed.recorded(kind)
    assert seen["labs"] == recorded["labs"]
    if kind == "v2":  # the VM boots the recorded kernel series
        assert seen["kernel"] == recorded["kernel"]


def test_nsdelegate_makes_a_cgroup_namespace_a_boundary(need_tool) -> None:
    """cgroup-v2.rst, nsdelegate: inside its cgroup namespace, even root may not rewrite the
    limits of the namespace's own cgroup (notebook 02, section 6). systemd mounts cgroup2
    so; tests/support/kernel-vm does too, and this host's v1 trees have no such option."""
    if WORLD != "root":
        pytest.skip("the boundary is about root inside a cgroup namespace")
    layout = detect_layout()
    with open("/proc/self/mountinfo") as handle:
        mounts = parse_mountinfo(handle.read())
    options = [o for point, _, fs, o in mounts if fs == "cgroup2" and point == layout.v2_mount]
    if layout.hierarchies["memory"].version != 2 or "nsdelegate" not in options[0]:
        pytest.skip(f"no nsdelegate here: {layout.describe()}")
    with Cgroup("nsdelegate", layout) as group:
        group.create(memory=64 << 20)
        limit = os.path.join(group.dirs["memory"], "memory.max")
        enter = f"echo $$ > {group.dirs['memory']}/cgroup.procs"
        inside = f"{enter} && exec {need_tool('unshare')} -C sh -c 'echo max > {limit}'"
        outside = f"{enter} && echo {32 << 20} > {limit}"
        assert subprocess.run(["sh", "-c", inside], capture_output=True).returncode != 0
        assert subprocess.run(["sh", "-c", outside], capture_output=True).returncode == 0
        assert group.snapshot().memory_max == 32 << 20
