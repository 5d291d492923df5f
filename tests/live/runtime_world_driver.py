"""Run the overlay lab and layerlab.run once, live and simulated, and print JSON.

Used by test_runtime.py to look at the rootless world from a root test run: it runs as
uid 65534 with Debian's python and only the layerlab package on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import tempfile

from layerlab.container import Container
from layerlab.live import overlay_mount as overlay
from layerlab.live import runtime
from layerlab.samples import busybox_image

OPS = [("unlink", "/etc/motd"), ("remove", "/srv"), ("mkdir", "/srv"), ("write", "/srv/a", "a")]
SCRIPT = "echo $$; hostname; rm /etc/motd; rm -r /srv; mkdir /srv; echo hi > /srv/new; ls /"


def _state() -> dict[str, list[str]]:
    with open("/proc/self/mountinfo") as table:
        mounts = sorted(table.read().splitlines())
    temp = sorted(n for n in os.listdir(tempfile.gettempdir()) if n.startswith("layerlab-live-"))
    return {"mounts": mounts, "temp dirs": temp}


def _both(lab) -> dict:
    """The lab live (as this user) and simulated (LAYERLAB_LIVE=0), as plain data."""
    answers = {}
    for world, switch in (("live", "1"), ("simulated", "0")):
        os.environ["LAYERLAB_LIVE"] = switch
        result, container = lab()
        answers[world] = {
            "live": result.live,
            "world": result.world,
            "reason": result.reason,
            "facts": {label: str(value) for label, value in result.facts()},
            "text": str(result),
            "diff_id": container.commit().diff_id,
        }
        if isinstance(result, overlay.OverlayLab):
            answers[world]["tree"] = result.overlay2_tree
            answers[world]["mount_options"] = result.mount_options
            answers[world]["opaque_xattr"] = result.opaque_xattr
    return answers


def main() -> None:
    before = _state()
    image = busybox_image()

    def overlay_lab():
        container = Container(image)
        return overlay.overlay_lab(container, OPS), container

    def run():
        result = runtime.run(image, ["sh", "-c", SCRIPT], hostname="box", memory="64m")
        return result, result.container

    labs = {"overlay": _both(overlay_lab), "run": _both(run)}
    after = _state()
    left = {kind: sorted(set(after[kind]) - set(before[kind])) for kind in before}
    print(json.dumps({"euid": os.geteuid(), "labs": labs, "left": left}))


if __name__ == "__main__":
    main()
