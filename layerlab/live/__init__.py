"""The live kernel bridge: the labs that make the real kernel do what the model explains.

Every lab asks `probe()` first and runs in one of three worlds: "root", "rootless" (an
ordinary user inside a user namespace) or "simulated" (labelled; same result shape), so a
notebook cell never crashes because a kernel says no. `LAYERLAB_LIVE=0` forces simulation.

    from layerlab.live import probe        # the module: probe.probe(), probe.probe_json()
    print(probe.probe())

    probe.py        what this machine allows, found by trying (`layerlab probe --json`)
    namespaces.py   PID 1, hostname, lo-only network, private mounts, uid mapping
    cgroups.py      finding v2/v1 controllers; a Cgroup you create, limit, snapshot, remove
    cgroup_labs.py  the OOM kill, fork refusal at pids.max, CPU throttling
    rootfs.py       a tiny rootfs; chroot and its escape; pivot_root closing it
    child.py        fork + unshare + uid maps + cleanup: the machinery under every lab
    cleanup.py      temp dirs, Ctrl-C during cleanup, named checkpoints for tests
    result.py       the result shape: live, world, stable facts; SIMULATED labels
    syscalls.py     unshare, mount, umount2, pivot_root through ctypes
"""

from . import probe
from .cgroup_labs import CpuThrottle, ForkLimit, OomKill, cpu_throttle, fork_limit, oom_kill
from .cgroups import Cgroup, CgroupLayout, CgroupSnapshot, detect_layout
from .child import CommandResult
from .namespaces import (
    HostnameIsolation,
    MountIsolation,
    NamespaceLinks,
    NetworkIsolation,
    PidIsolation,
    UserMapping,
    hostname_isolation,
    mount_isolation,
    namespace_links,
    network_isolation,
    pid_isolation,
    run_command,
    run_in_namespaces,
    user_mapping,
)
from .probe import FEATURES, Capability, ProbeReport, live_enabled
from .result import LiveError, LiveResult
from .rootfs import (
    ChrootEscape,
    PivotRootJail,
    Rootfs,
    build_rootfs,
    chroot_escape,
    pivot_root_jail,
    run_in_rootfs,
)

__all__ = [
    "probe",
    "FEATURES",
    "Capability",
    "ProbeReport",
    "live_enabled",
    "LiveError",
    "LiveResult",
    "run_in_namespaces",
    "run_command",
    "CommandResult",
    "namespace_links",
    "pid_isolation",
    "hostname_isolation",
    "network_isolation",
    "mount_isolation",
    "user_mapping",
    "NamespaceLinks",
    "PidIsolation",
    "HostnameIsolation",
    "NetworkIsolation",
    "MountIsolation",
    "UserMapping",
    "Cgroup",
    "CgroupLayout",
    "CgroupSnapshot",
    "detect_layout",
    "oom_kill",
    "fork_limit",
    "cpu_throttle",
    "OomKill",
    "ForkLimit",
    "CpuThrottle",
    "Rootfs",
    "build_rootfs",
    "chroot_escape",
    "pivot_root_jail",
    "run_in_rootfs",
    "ChrootEscape",
    "PivotRootJail",
]
