"""Run every live lab once and print what happened as JSON (used by test_worlds.py).

Runs as a separate program, so a test as root can look at another world: as uid 65534
with Debian's python (the rootless world), or with LAYERLAB_LIVE=0 (the simulated one).
It needs only the standard library and the layerlab package on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import tempfile

from layerlab.live import cgroup_limits as cgroup_labs
from layerlab.live import namespaces, rootfs
from layerlab.live.kernel import probe


def _state() -> dict[str, list[str]]:
    with open("/proc/self/mountinfo") as table:
        mounts = sorted(table.read().splitlines())
    temp = sorted(n for n in os.listdir(tempfile.gettempdir()) if n.startswith("layerlab-live-"))
    return {"mounts": mounts, "temp dirs": temp}


def main() -> None:
    before = _state()
    labs = {
        "links": namespaces.namespace_links,
        "pid": namespaces.pid_isolation,
        "hostname": namespaces.hostname_isolation,
        "network": namespaces.network_isolation,
        "mount": namespaces.mount_isolation,
        "user": namespaces.user_mapping,
        "chroot": rootfs.chroot_escape,
        "pivot": rootfs.pivot_root_jail,
        "oom": cgroup_labs.oom_kill,
        "pids": cgroup_labs.fork_limit,
        "cpu": cgroup_labs.cpu_throttle,
    }
    results = {}
    for name, lab in labs.items():
        result = lab()
        results[name] = {
            "live": result.live,
            "world": result.world,
            "reason": result.reason,
            "facts": dict(result.facts()),
            "text": str(result),
        }
    after = _state()
    print(
        json.dumps(
            {
                "euid": os.geteuid(),
                "probe": json.loads(probe.probe_json()),
                "labs": results,
                "left": {kind: sorted(set(after[kind]) - set(before[kind])) for kind in before},
            }
        )
    )


if __name__ == "__main__":
    main()
