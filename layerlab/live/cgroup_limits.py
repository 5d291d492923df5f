"""Three cgroup labs: the kernel enforcing a memory, a process-count and a CPU limit.

Namespaces decide what a container sees; cgroups decide how much it may use. Each lab
makes a fresh cgroup (see `kernel/cgroupfs.py`), runs a small Python workload inside it in a forked
child, reads the kernel's own counters, and removes the cgroup whatever happens:

- memory: allocate past the limit; the kernel's OOM killer ends the process with SIGKILL
  and counts it (v2 `memory.events` oom_kill, v1 `memory.oom_control` oom_kill);
- pids: fork more children than the limit allows; fork() fails with EAGAIN past it;
- cpu: spin for half a second with a 10 % quota; the scheduler throttles the process
  (`cpu.stat` nr_throttled), so it gets about a tenth of one CPU.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from .kernel.cgroupfs import Cgroup, CgroupSnapshot
from .kernel.child import Outcome, spawn
from .kernel.cleanup import checkpoint
from .kernel.probe import run_live
from .kernel.result import LiveResult, fact, live_world

MIB = 1 << 20


def run_limited(
    fn: Callable[..., Any],
    *args: Any,
    memory: int | None = None,
    pids: int | None = None,
    cpu: float | None = None,
    name: str = "lab",
    timeout: float = 10.0,
) -> tuple[Outcome, CgroupSnapshot]:
    """fn(*args) in a child inside a new cgroup with these limits; how it ended, and the counters.

    The child joins the cgroup before running anything, so every page and process it makes
    is charged there. The snapshot is read after the child ended, just before removal.
    """
    with Cgroup(name) as group:
        group.create(memory=memory, pids=pids, cpu=cpu)
        checkpoint("cgroup-created")
        outcome = spawn(fn, *args, setup=group.join, timeout=timeout)
        return outcome, group.snapshot()


def _allocate_forever(step: int = MIB) -> int:
    """Keep allocating and touching memory; under a memory limit this ends in an OOM kill."""
    hoard = []
    checkpoint("allocating")
    for _ in range(64 * 1024):  # 64 GiB: far past any limit the lab sets
        hoard.append(b"\x01" * step)  # written, not just reserved: it really costs memory
    return len(hoard)


def _fork_many(attempts: int) -> tuple[int, int, str]:
    """Fork `attempts` children that wait; count successes and refusals, then release them."""
    release_r, release_w = os.pipe()
    children, refused, error = [], 0, ""
    for _ in range(attempts):
        try:
            pid = os.fork()
        except OSError as exc:  # BlockingIOError: EAGAIN from the pids controller
            refused, error = refused + 1, errno.errorcode.get(exc.errno or 0, "?")
            continue
        if pid == 0:
            os.close(release_w)
            os.read(release_r, 1)  # wait until the parent has counted
            os._exit(0)
        children.append(pid)
    checkpoint("forked")
    os.close(release_w)
    for pid in children:
        os.waitpid(pid, 0)
    return len(children), refused, error


def _spin(seconds: float) -> float:
    """Busy-loop for `seconds` of wall time; return the share of one CPU actually received."""
    start_wall, start_cpu = time.monotonic(), time.process_time()
    checkpoint("spinning")
    while time.monotonic() - start_wall < seconds:
        pass
    return (time.process_time() - start_cpu) / (time.monotonic() - start_wall)


@dataclass(frozen=True, kw_only=True)
class OomKill(LiveResult):
    """A workload allocating past memory.max (v1: memory.limit_in_bytes)."""

    limit_mib: int = fact("memory limit", show=lambda mib: f"{mib} MiB")
    killed_by: str = fact("workload ended by", simulated="SIGKILL")
    oom_kills: int = fact("OOM kills counted by the cgroup", simulated=1)
    reached_limit: bool = fact("usage reached the limit", simulated=True)
    snapshot: CgroupSnapshot
    title: ClassVar[str] = "cgroup memory limit: the OOM killer"
    lesson: ClassVar[str] = (
        "Past its memory limit a cgroup's process is killed (SIGKILL) by the "
        "kernel's OOM killer: `docker run --memory` is this file."
    )

    @classmethod
    def simulated(cls, reason: str, limit_mib: int = 64) -> OomKill:  # type: ignore[override]
        """The typical run for this limit: the counters follow from it."""
        snap = _typical_snapshot(
            "oom", memory_max=limit_mib * MIB, memory_peak=limit_mib * MIB, oom_kills=1
        )
        return super().simulated(reason, limit_mib=limit_mib, snapshot=snap)


def oom_kill(limit_mib: int = 64, timeout: float = 20.0) -> OomKill:
    """Allocate without end inside a cgroup limited to `limit_mib` MiB, and watch it die."""

    def live() -> OomKill:
        outcome, snap = run_limited(
            _allocate_forever, memory=limit_mib * MIB, name="oom", timeout=timeout
        )
        killer = signal.Signals(outcome.signal).name if outcome.signal else "normal exit"
        peak = snap.memory_peak or 0
        return OomKill(
            live=True,
            world=live_world(),
            limit_mib=limit_mib,
            killed_by=killer,
            oom_kills=snap.oom_kills or 0,
            reached_limit=peak >= 0.9 * limit_mib * MIB,
            snapshot=snap,
        )

    return run_live(["cgroups"], live, lambda why: OomKill.simulated(why, limit_mib))


@dataclass(frozen=True, kw_only=True)
class ForkLimit(LiveResult):
    """A workload forking more children than pids.max allows."""

    pids_max: int = fact("pids.max")
    attempts: int = fact("forks attempted")
    forks_succeeded: int = fact("forks succeeded")
    forks_refused: int = fact("forks refused")
    refusal_errno: str = fact("fork() failed with", simulated="EAGAIN")
    snapshot: CgroupSnapshot
    title: ClassVar[str] = "cgroup pids limit: fork refused"
    lesson: ClassVar[str] = (
        "pids.max counts every process and thread in the cgroup; past it "
        "fork() fails with EAGAIN. This stops fork bombs (`--pids-limit`)."
    )

    @classmethod
    def simulated(  # type: ignore[override]
        cls, reason: str, pids_max: int = 8, attempts: int = 20
    ) -> ForkLimit:
        """The typical run for this limit: the counts follow from it."""
        ok = pids_max - 1  # the workload itself is one of the pids
        snap = _typical_snapshot("pids", pids_max=pids_max, pids_refused=attempts - ok)
        return super().simulated(
            reason,
            pids_max=pids_max,
            attempts=attempts,
            forks_succeeded=ok,
            forks_refused=attempts - ok,
            snapshot=snap,
        )


def fork_limit(pids_max: int = 8, attempts: int = 20, timeout: float = 10.0) -> ForkLimit:
    """Fork `attempts` times inside a cgroup with pids.max = `pids_max`."""

    def live() -> ForkLimit:
        outcome, snap = run_limited(
            _fork_many, attempts, pids=pids_max, name="pids", timeout=timeout
        )
        ok, refused, error = outcome.unwrap()
        return ForkLimit(
            live=True,
            world=live_world(),
            pids_max=pids_max,
            attempts=attempts,
            forks_succeeded=ok,
            forks_refused=refused,
            refusal_errno=error,
            snapshot=snap,
        )

    return run_live(["cgroups"], live, lambda why: ForkLimit.simulated(why, pids_max, attempts))


@dataclass(frozen=True, kw_only=True)
class CpuThrottle(LiveResult):
    """A busy loop under a CPU quota (v2 cpu.max, v1 cpu.cfs_quota_us)."""

    quota_percent: int = fact("quota", show=lambda percent: f"{percent} % of one CPU")
    throttled: bool = fact("throttled by the scheduler (cpu.stat nr_throttled > 0)", simulated=True)
    within_quota: bool = fact("received no more than about the quota", simulated=True)
    cpu_share: float  # measured; varies run to run, so never printed
    snapshot: CgroupSnapshot
    title: ClassVar[str] = "cgroup cpu limit: throttling"
    lesson: ClassVar[str] = (
        "A CPU quota is time per period (10 ms per 100 ms = 10 %); once used "
        "up, the scheduler throttles the cgroup until the next period "
        "(`docker run --cpus`)."
    )

    @classmethod
    def simulated(cls, reason: str, fraction: float = 0.1) -> CpuThrottle:  # type: ignore[override]
        """The typical run for this quota: the counters follow from it."""
        snap = _typical_snapshot(
            "cpu",
            cpu_quota_us=int(fraction * 100_000),
            nr_periods=5,
            nr_throttled=5,
            throttled_us=450_000,
        )
        return super().simulated(
            reason, quota_percent=round(fraction * 100), cpu_share=fraction, snapshot=snap
        )


def cpu_throttle(fraction: float = 0.1, seconds: float = 0.5, timeout: float = 10.0) -> CpuThrottle:
    """Spin for `seconds` inside a cgroup allowed `fraction` of one CPU."""

    def live() -> CpuThrottle:
        outcome, snap = run_limited(_spin, seconds, cpu=fraction, name="cpu", timeout=timeout)
        share = outcome.unwrap()
        return CpuThrottle(
            live=True,
            world=live_world(),
            quota_percent=round(fraction * 100),
            throttled=(snap.nr_throttled or 0) > 0,
            within_quota=share <= fraction * 1.5 + 0.02,
            cpu_share=share,
            snapshot=snap,
        )

    return run_live(["cgroups"], live, lambda why: CpuThrottle.simulated(why, fraction))


def _typical_snapshot(name: str, **values: Any) -> CgroupSnapshot:
    """A cgroup v2 snapshot as a pure-v2 machine reports it after the lab."""
    base = dict(
        memory_current=0,
        memory_max=None,
        memory_peak=4 * MIB,
        oom_kills=0,
        pids_current=0,
        pids_max=None,
        pids_refused=0,
        cpu_quota_us=None,
        cpu_period_us=100_000,
        cpu_usage_us=None,
        nr_periods=0,
        nr_throttled=0,
        throttled_us=0,
    )
    base.update(values)
    return CgroupSnapshot(name=name, versions=dict.fromkeys(("memory", "pids", "cpu"), 2), **base)
