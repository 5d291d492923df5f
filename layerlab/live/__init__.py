"""The live kernel bridge: the labs that make the real kernel do what the model explains.

Every lab asks `probe()` first and runs in one of three worlds: "root", "rootless" (an
ordinary user inside a user namespace) or "simulated" (labelled; same result shape), so a
notebook cell never crashes because a kernel says no. `LAYERLAB_LIVE=0` forces simulation.

    from layerlab.live import probe        # the module: probe.probe(), probe.probe_json()
    print(probe.probe())

    probe.py          what this machine allows, found by trying (`layerlab probe --json`)
    machine.py        the probe and cgroup layout as notebook tables (notebooks 00, 02)
    namespaces.py     PID 1, hostname, lo-only network, private mounts, uid mapping
    ipc.py            a System V message queue the host cannot see (IPC namespace)
    unshare.py        the same isolation with the real `unshare` command
    cgroups.py        finding v2/v1 controllers; a Cgroup you create, limit, snapshot, remove
    cgroup_labs.py    the OOM kill, fork refusal at pids.max, CPU throttling
    rootfs.py         a tiny rootfs; chroot and its escape; pivot_root closing it
    storage.py        Docker's on-disk layouts: overlay2 today, AuFS in the article
    overlay.py        real overlay mounts of a Container, the upper dir read back
    fileops.py        one list of file operations, through a mount or through the model
    copy_up.py        timing a real copy-up (notebook 05)
    docker_commit.py  the same commit in layerlab and in a real Docker engine (notebook 07)
    busybox.py        a real image to run, from Debian's static busybox
    runtime.py        `layerlab.run`: docker run in about 150 lines (notebook 08)
    run_result.py     what `layerlab.run` returns
    simshell.py       a pocket shell over the model for the simulated world
    umoci.py          asking umoci to read an image layerlab wrote (notebook 08)
    child.py          fork + unshare + uid maps + cleanup: the machinery under every lab
    cleanup.py        temp dirs, Ctrl-C during cleanup, named checkpoints for tests
    result.py         the result shape: live, world, stable facts; SIMULATED labels
    syscalls.py       unshare, mount, umount2, pivot_root through ctypes
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
