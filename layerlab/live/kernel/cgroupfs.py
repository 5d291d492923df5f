"""Control groups: where the kernel keeps a container's limits, found rather than assumed.

A cgroup is a directory. Making one is `mkdir`; limiting it is writing a number into one of
its files; putting a process in it is writing the PID into `cgroup.procs`. What differs
between machines is *where* those directories live:

- cgroup v2 (Debian 12, Ubuntu 22.04+, Fedora): one tree at /sys/fs/cgroup, files
  `memory.max`, `pids.max`, `cpu.max`;
- cgroup v1 (older systems, and "hybrid" ones): one tree per controller, at
  /sys/fs/cgroup/memory, /sys/fs/cgroup/pids, /sys/fs/cgroup/cpu, with older file names
  (`memory.limit_in_bytes`, `cpu.cfs_quota_us`).

A hybrid machine mounts both, but a controller can be bound to only one of them; there the
v2 tree exists yet has no controllers. So we look up each controller on its own: v2 if the
v2 tree offers it, else the v1 tree that has it. Course code written for v1 alone breaks on
today's machines; code written for v2 alone breaks on hybrid ones.

Where in a tree our cgroups go: root makes them at the top of each tree. An ordinary user
may make them only inside a v2 subtree *delegated* to them: one whose directory and
`cgroup.procs`, `cgroup.threads` and `cgroup.subtree_control` they own, as systemd does for
`user@UID.service` and for `systemd-run --user --scope -p Delegate=yes`. `lab_parent` finds
it above our own cgroup (from /proc/self/cgroup).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import time
from dataclasses import dataclass, field

from .cleanup import shield_interrupts

CONTROLLERS = ("memory", "pids", "cpu")
PERIOD_US = 100_000  # the CPU bandwidth period; a quota is a share of it


@dataclass(frozen=True)
class Hierarchy:
    """Where one controller's files live: cgroup `version`, its mount point, our own cgroup."""

    controller: str
    version: int
    mount: str
    current: str


@dataclass(frozen=True)
class CgroupLayout:
    """The detected cgroup layout of this machine, controller by controller."""

    hierarchies: dict[str, Hierarchy]
    v2_mount: str | None
    missing: tuple[str, ...]

    @property
    def kind(self) -> str:
        """ "v2", "v1", "hybrid" (v1 controllers beside a v2 mount) or "none"."""
        versions = {h.version for h in self.hierarchies.values()}
        if not versions:
            return "none"
        if versions == {2}:
            return "v2"
        return "hybrid" if self.v2_mount else "v1"

    def describe(self) -> str:
        """One stable sentence about the layout, for probe reasons and notebooks."""
        where = ", ".join(f"{c}: v{h.version} at {h.mount}" for c, h in self.hierarchies.items())
        missing = f"; missing: {', '.join(self.missing)}" if self.missing else ""
        return f"cgroup layout {self.kind} ({where or 'no controllers'}){missing}"


def parse_mountinfo(text: str) -> list[tuple[str, str, str, set[str]]]:
    """(mount point, root within the fs, fs type, super options) for each mountinfo line."""
    mounts = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        point = fields[4].encode().decode("unicode_escape")  # mountinfo escapes spaces as \040
        mounts.append((point, fields[3], tail[0], set(tail[2].split(","))))
    return mounts


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Map each v1 controller (and "" for v2) to this process's cgroup path."""
    paths = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def detect_layout(
    mountinfo: str | None = None, proc_cgroup: str | None = None, v2_controllers: str | None = None
) -> CgroupLayout:
    """Find each controller from /proc/self/mountinfo and /proc/self/cgroup, v2 first.

    The arguments replace the files read (/proc/self/mountinfo, /proc/self/cgroup and the
    v2 mount's cgroup.controllers), so the detection can be tried on other machines' texts.
    """
    mountinfo = mountinfo if mountinfo is not None else _read("/proc/self/mountinfo")
    proc_cgroup = proc_cgroup if proc_cgroup is not None else _read("/proc/self/cgroup")
    ours = parse_proc_cgroup(proc_cgroup)
    v2_mount, v2_offers, v1 = None, set(), {}
    for point, _root, fstype, options in parse_mountinfo(mountinfo):
        if fstype == "cgroup2" and v2_mount is None:
            v2_mount = point
            offered = v2_controllers
            if offered is None:
                offered = _read_or(os.path.join(point, "cgroup.controllers"), "")
            v2_offers = set(offered.split())
        elif fstype == "cgroup":
            for name in options & set(CONTROLLERS):
                v1.setdefault(name, point)
    found: dict[str, Hierarchy] = {}
    for name in CONTROLLERS:
        if v2_mount and name in v2_offers:
            found[name] = Hierarchy(name, 2, v2_mount, ours.get("", "/"))
        elif name in v1:
            found[name] = Hierarchy(name, 1, v1[name], ours.get(name, "/"))
    missing = tuple(name for name in CONTROLLERS if name not in found)
    return CgroupLayout(found, v2_mount, missing)


def _may_manage(directory: str) -> bool:
    """Can we make child cgroups here, hand them controllers and move processes in?"""
    files = ("cgroup.procs", "cgroup.subtree_control")
    return os.access(directory, os.W_OK | os.X_OK) and all(
        os.access(os.path.join(directory, name), os.W_OK) for name in files
    )


def delegated_subtree(mount: str, current: str) -> str | None:
    """The nearest cgroup at or above `current` that is delegated to us and holds no process.

    v2 lets a cgroup hand controllers to its children only while it holds no process
    itself (the root excepted), so our own cgroup, where we run, rarely qualifies: in a
    systemd scope or session leaf the answer is the process-free parent that we own.
    """
    path = current.rstrip("/")
    while path:
        directory = mount + path
        if _may_manage(directory) and not _read_or(os.path.join(directory, "cgroup.procs"), "x"):
            return directory
        path = path.rpartition("/")[0]
    return None


def lab_parent(hierarchy: Hierarchy) -> str:
    """Where our cgroups go in this hierarchy: its top (root), else the delegated subtree.

    With neither, the top is returned: making a cgroup there then fails with EACCES, which
    is the honest answer the probe reports.
    """
    if hierarchy.version == 1 or _may_manage(hierarchy.mount):
        return hierarchy.mount
    return delegated_subtree(hierarchy.mount, hierarchy.current) or hierarchy.mount


@dataclass(frozen=True)
class CgroupSnapshot:
    """Usage and limits of one cgroup at one moment: the numbers a cgroup-tree figure draws.

    None means "no limit" for limits and "this kernel does not report it" for counters.
    `paths` (the real directories) is for tools; it holds a random suffix, so do not print it.
    """

    name: str
    versions: dict[str, int]
    paths: dict[str, str] = field(default_factory=dict, repr=False)
    written: dict[str, str] = field(default_factory=dict, repr=False)  # file name -> text
    processes: int = 0
    memory_current: int | None = None
    memory_max: int | None = None
    memory_peak: int | None = None
    oom_kills: int | None = None
    pids_current: int | None = None
    pids_max: int | None = None
    pids_refused: int | None = None
    cpu_quota_us: int | None = None
    cpu_period_us: int | None = None
    cpu_usage_us: int | None = None
    nr_periods: int | None = None
    nr_throttled: int | None = None
    throttled_us: int | None = None


class Cgroup:
    """One cgroup, present in every hierarchy that holds a controller we limit.

    Use it as a context manager: whatever happens inside the `with`, leaving it kills every
    process still in the cgroup and removes its directories.
    """

    def __init__(self, name: str = "lab", layout: CgroupLayout | None = None) -> None:
        self.name = name
        self.layout = layout or detect_layout()
        if self.layout.missing:
            raise OSError(
                errno.ENOENT, f"no cgroup controller for {', '.join(self.layout.missing)}"
            )
        suffix = f"layerlab-{name}-{secrets.token_hex(3)}"
        self.parents = {c: lab_parent(h) for c, h in self.layout.hierarchies.items()}
        self.dirs = {c: os.path.join(self.parents[c], suffix) for c in self.parents}
        self.written: dict[str, str] = {}  # each limit file, as written: the v1/v2 comparison

    def create(
        self, memory: int | None = None, pids: int | None = None, cpu: float | None = None
    ) -> None:
        """mkdir the cgroup and write the limits: bytes, a process count, a share of one CPU."""
        for directory in self._unique_dirs():
            os.mkdir(directory)
        version = {c: h.version for c, h in self.layout.hierarchies.items()}
        if version["memory"] == 2:
            self._enable_v2_controllers()
        if memory is not None:
            self._set_memory(int(memory), version["memory"])
        if pids is not None:
            self._limit("pids", "pids.max", str(int(pids)))
        if cpu is not None:
            quota = max(1000, int(cpu * PERIOD_US))
            if version["cpu"] == 2:
                self._limit("cpu", "cpu.max", f"{quota} {PERIOD_US}")
            else:
                self._limit("cpu", "cpu.cfs_period_us", str(PERIOD_US))
                self._limit("cpu", "cpu.cfs_quota_us", str(quota))

    def join(self, pid: int = 0) -> None:
        """Move `pid` (0: the calling process) into this cgroup, in every hierarchy."""
        for directory in self._unique_dirs():
            _write(os.path.join(directory, "cgroup.procs"), str(pid or os.getpid()))

    def pids(self) -> set[int]:
        """Every process currently in the cgroup (in any of its hierarchies)."""
        found: set[int] = set()
        for directory in self._unique_dirs():
            with contextlib.suppress(FileNotFoundError):
                found |= {int(p) for p in _read(os.path.join(directory, "cgroup.procs")).split()}
        return found

    def snapshot(self) -> CgroupSnapshot:
        """Read usage, limits and event counters now (see CgroupSnapshot)."""
        versions = {c: h.version for c, h in self.layout.hierarchies.items()}
        mem, pid, cpu = (self.dirs[c] for c in CONTROLLERS)
        values: dict[str, int | None] = {}
        if versions["memory"] == 2:
            values.update(
                memory_current=_num(mem, "memory.current"),
                memory_max=_num(mem, "memory.max"),
                memory_peak=_num(mem, "memory.peak"),
                oom_kills=_keyed(mem, "memory.events", "oom_kill"),
            )
        else:
            values.update(
                memory_current=_num(mem, "memory.usage_in_bytes"),
                memory_max=_num(mem, "memory.limit_in_bytes"),
                memory_peak=_num(mem, "memory.max_usage_in_bytes"),
                oom_kills=_keyed(mem, "memory.oom_control", "oom_kill"),
            )
        values.update(
            pids_current=_num(pid, "pids.current"),
            pids_max=_num(pid, "pids.max"),
            pids_refused=_keyed(pid, "pids.events", "max"),
        )
        values.update(
            nr_periods=_keyed(cpu, "cpu.stat", "nr_periods"),
            nr_throttled=_keyed(cpu, "cpu.stat", "nr_throttled"),
        )
        if versions["cpu"] == 2:
            quota, _, period = _read_or(os.path.join(cpu, "cpu.max"), "max 100000").partition(" ")
            values.update(
                cpu_quota_us=_int_or_none(quota),
                cpu_period_us=_int_or_none(period),
                cpu_usage_us=_keyed(cpu, "cpu.stat", "usage_usec"),
                throttled_us=_keyed(cpu, "cpu.stat", "throttled_usec"),
            )
        else:
            ns = _keyed(cpu, "cpu.stat", "throttled_time")
            usage = _num(cpu, "cpuacct.usage")  # only when cpu and cpuacct share a mount
            values.update(
                cpu_quota_us=_num(cpu, "cpu.cfs_quota_us"),
                cpu_period_us=_num(cpu, "cpu.cfs_period_us"),
                cpu_usage_us=None if usage is None else usage // 1000,
                throttled_us=None if ns is None else ns // 1000,
            )
        return CgroupSnapshot(
            name=self.name,
            versions=versions,
            paths=dict(self.dirs),
            written=dict(self.written),
            processes=len(self.pids()),
            **values,
        )

    def remove(self, timeout: float = 5.0) -> None:
        """Kill everything inside, wait until the kernel says it is empty, then rmdir."""
        deadline = time.monotonic() + timeout
        for directory in self._unique_dirs():
            if not os.path.basename(directory).startswith("layerlab-"):
                raise ValueError(f"refusing to empty a cgroup layerlab did not make: {directory}")
            if not os.path.isdir(directory):
                continue
            kill_file = os.path.join(directory, "cgroup.kill")  # v2, Linux 5.14+
            with contextlib.suppress(OSError):
                _write(kill_file, "1")
            while True:
                for pid in self.pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                try:
                    os.rmdir(directory)
                    break
                except OSError as exc:  # EBUSY until the last process is gone
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)

    def __enter__(self) -> Cgroup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with shield_interrupts():
            self.remove()

    def _limit(self, controller: str, name: str, text: str) -> None:
        _write(os.path.join(self.dirs[controller], name), text)
        self.written[name] = text

    def _unique_dirs(self) -> list[str]:
        return sorted(set(self.dirs.values()))

    def _enable_v2_controllers(self) -> None:
        """v2 hands a controller to children only if the parent lists it in subtree_control."""
        parent = self.parents["memory"]
        wanted = [c for c, h in self.layout.hierarchies.items() if h.version == 2]
        enabled = set(_read(os.path.join(parent, "cgroup.subtree_control")).split())
        if not set(wanted) <= enabled:
            _write(
                os.path.join(parent, "cgroup.subtree_control"), " ".join(f"+{c}" for c in wanted)
            )

    def _set_memory(self, limit: int, version: int) -> None:
        """Set the limit and forbid swap, so going over it means an OOM kill, not swapping."""
        directory = self.dirs["memory"]
        names = (
            ("memory.max", "memory.swap.max")
            if version == 2
            else ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
        )
        self._limit("memory", names[0], str(limit))
        if os.path.exists(os.path.join(directory, names[1])):
            self._limit("memory", names[1], "0" if version == 2 else str(limit))  # v1: mem + swap


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def _read_or(path: str, default: str) -> str:
    try:
        return _read(path).strip()
    except OSError:
        return default


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _int_or_none(text: str) -> int | None:
    """Limits read "max" (v2), -1 or 2**63-4096 rounded (v1) when unlimited: all become None."""
    try:
        value = int(text)
    except ValueError:
        return None
    return None if value < 0 or value >= 2**62 else value


def _num(directory: str, name: str) -> int | None:
    return _int_or_none(_read_or(os.path.join(directory, name), ""))


def _keyed(directory: str, name: str, key: str) -> int | None:
    """A counter from a "key value" per line file such as memory.events or cpu.stat."""
    for line in _read_or(os.path.join(directory, name), "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key:
            return int(parts[1])
    return None
