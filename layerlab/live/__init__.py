"""The live kernel bridge: the labs that make the real kernel do what the model explains.

Every lab asks `probe()` first and runs in one of three worlds: "root", "rootless" (an
ordinary user inside a user namespace) or "simulated" (labelled; same result shape), so a
notebook cell never crashes because a kernel says no. `LAYERLAB_LIVE=0` forces simulation.

    from layerlab.live import probe        # the module: probe.probe(), probe.probe_json()
    print(probe.probe())

Everything a notebook uses is importable from here. The labs, by notebook:

    machine.py          00, 02  the probe and cgroup layout as notebook tables
    namespaces.py       01      PID 1, hostname, lo-only network, private mounts, uid mapping
    ipc.py              01      a System V message queue the host cannot see
    unshare.py          01      the same isolation with the real `unshare` command
    cgroup_limits.py    02      the OOM kill, fork refusal at pids.max, CPU throttling
    cgroup_observed.py  02      v1 beside v2: which files the cgroup labs touch, recorded
    rootfs.py           03      a tiny rootfs; chroot and its escape; pivot_root closing it
    storage.py          04, 08  Docker's on-disk layouts: overlay2 today, AuFS in the article
    containerd.py       04      containerd's overlayfs snapshotter beside overlay2
    overlay_mount.py    05      real overlay mounts of a Container, the upper dir read back
    copy_up_timing.py   05      timing a real copy-up
    podman_rootless.py  01, 05  rootless Podman's user namespace and overlay mount
    podman_commit.py    06      the same commit in layerlab and in a real Podman
    docker_commit.py    06, 07  the same commit in layerlab and in a real Docker engine
    runtime.py          08      `layerlab.run`: docker run in about 150 lines, and its result
    umoci.py            08      asking umoci to read an image layerlab wrote

Their helpers: `fileops.py` (one list of file operations, through a mount or the model),
`simshell.py` (a pocket shell over the model for the simulated world), `podman.py` (a
private rootless Podman), `engine_facts.py` (what the engines' sources say).

`kernel/` is the plumbing under every lab, and knows nothing of them: `syscalls` (unshare,
mount, pivot_root through ctypes), `child` (fork + unshare + uid maps + cleanup),
`cleanup` (temp dirs, Ctrl-C, named checkpoints for tests), `probe` (what this machine
allows, found by trying), `cgroupfs` (finding controllers; a Cgroup you create, limit,
read and remove) and `result` (the result shape: live, world, facts declared once).
"""

import importlib
from typing import Any

from .cgroup_limits import CpuThrottle, ForkLimit, OomKill, cpu_throttle, fork_limit, oom_kill
from .kernel import probe
from .kernel.cgroupfs import Cgroup, CgroupLayout, CgroupSnapshot, detect_layout
from .kernel.child import CommandResult
from .kernel.probe import FEATURES, Capability, ProbeReport, live_enabled
from .kernel.result import LiveError, LiveResult
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
from .rootfs import (
    ChrootEscape,
    PivotRootJail,
    Rootfs,
    build_rootfs,
    chroot_escape,
    pivot_root_jail,
    run_in_rootfs,
)

#: Labs that load on first use: they pull in the image formats, engines or widgets, and
#: `import layerlab.live` stays quick. name -> (module, its name there).
_LAZY = {
    "lab_requirements": ("machine", "lab_requirements"),
    "probe_table": ("machine", "probe_table"),
    "cgroup_layout_table": ("machine", "cgroup_layout_table"),
    "ipc_isolation": ("ipc", "ipc_isolation"),
    "unshare_run": ("unshare", "unshare_run"),
    "cgroup_comparison": ("cgroup_observed", "comparison"),
    "predicted_listing": ("storage", "predicted_listing"),
    "layer_dirs": ("storage", "layer_dirs"),
    "containerd_lab": ("containerd", "containerd_lab"),
    "overlay_lab": ("overlay_mount", "overlay_lab"),
    "copy_up_cost": ("copy_up_timing", "copy_up_cost"),
    "rootless_podman": ("podman_rootless", "rootless_podman"),
    "compare_with_podman": ("podman_commit", "compare_with_podman"),
    "PODMAN_STEPS": ("podman_commit", "ENGINE_STEPS"),
    "compare_with_docker": ("docker_commit", "compare_with_docker"),
    "DOCKER_STEPS": ("docker_commit", "STEPS"),
    "busybox_base": ("docker_commit", "busybox_base"),
    "run": ("runtime", "run"),
    "RunResult": ("runtime", "RunResult"),
    "umoci_read": ("umoci", "umoci_read"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    *_LAZY,
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
