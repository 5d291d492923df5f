"""Run rootless Podman's lab once as this (unprivileged) user and print JSON.

Used by test_podman_rootless.py as uid 65534, with Debian's python and only the layerlab
package on PYTHONPATH; it also reports what the run left behind.
"""

from __future__ import annotations

import glob
import json
import os

from layerlab.live.podman_rootless import measure, model_commit


def _leftovers() -> dict[str, list[str]]:
    with open("/proc/self/mountinfo") as table:
        mounts = [line for line in table if "layerlab-podman." in line]
    mine = [p for p in glob.glob("/var/tmp/layerlab-podman.*") if os.stat(p).st_uid == os.getuid()]
    pause = [pid for pid in os.listdir("/proc") if pid.isdigit() and _is_my_podman(pid)]
    return {"mounts": mounts, "dirs": mine, "podman processes": pause}


def _is_my_podman(pid: str) -> bool:
    try:
        if os.stat(f"/proc/{pid}").st_uid != os.getuid():
            return False
        with open(f"/proc/{pid}/comm") as comm:
            name = comm.read().strip()  # the pause process calls itself "podman pause"
        return name.startswith("podman") or name in ("conmon", "catatonit")
    except OSError:
        return False


measured = measure()
measured["committed"] = list(measured["committed"])
measured["overlay_xattrs"] = list(measured["overlay_xattrs"])
print(json.dumps({"measured": measured, "model": list(model_commit()), "left": _leftovers()}))
