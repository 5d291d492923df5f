"""Helpers for the live-lab tests: which world we are in, leftovers, and a Ctrl-C button.

The same tests run in three worlds (see layerlab/live/result.py): as root, as an ordinary
user (the rootless world of `make test-notebooks-rootless`) and with LAYERLAB_LIVE=0. Each
test asserts what must hold in the world it finds itself in.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time

import pytest

from layerlab.live.kernel import cleanup, probe


def world() -> str:
    """'simulated', 'root' or 'rootless': the world this test run is in."""
    if not probe.live_enabled():
        return "simulated"
    return "root" if os.geteuid() == 0 else "rootless"


WORLD = world()
IN_CI = os.environ.get("CI") == "true"


def cgroups_live() -> bool:
    """Do the cgroup labs run live here? As root, or as a user owning a delegated v2 subtree."""
    return WORLD != "simulated" and probe.probe()["cgroups"].available


def need_live_cgroups() -> None:
    """Skip unless the cgroup labs run live here; as root they must, so root never skips.

    A call inside the test, not a skipif at import: the probe then runs once per session,
    after collection, and a slow probe is a failing test, not a collection error.
    """
    if WORLD != "root" and not cgroups_live():
        pytest.skip("the cgroup labs need root or a delegated cgroup v2 subtree")


def need(condition: bool, why: str) -> None:
    """Skip on a laptop that cannot do something; under CI=true that is a failure instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must be able to run this: {why}")
    pytest.skip(why)


def need_feature(feature: str) -> None:
    cap = probe.probe()[feature]
    need(cap.available, f"{feature} is not available here: {cap.reason}")


def _mounts() -> set[str]:
    """Our mount table, minus mounts under other tools' temp dirs.

    Other test suites (the overlayfs references) may mount under the temp dir while we
    run; anything else new, anywhere, counts, and so does anything under our own prefix.
    """
    tmp = tempfile.gettempdir().rstrip("/") + "/"
    ours = tmp + cleanup.TEMP_PREFIX
    with open("/proc/self/mountinfo") as table:
        lines = table.read().splitlines()
    return {
        line
        for line in lines
        if not line.split()[4].startswith(tmp) or line.split()[4].startswith(ours)
    }


def _layerlab_cgroups() -> set[str]:
    found = set()
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        found |= {os.path.join(top, d) for d in dirs if d.startswith("layerlab-")}
        dirs[:] = [d for d in dirs if not d.startswith("layerlab-")]
    return found


def _session_processes() -> set[int]:
    """Every process (zombies too) in our session; lab children never leave the session."""
    sid, found = os.getsid(0), set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rpartition(b")")[2].split()
        except OSError:
            continue
        if int(fields[3]) == sid:
            found.add(int(name))
    return found


def _temp_dirs() -> set[str]:
    tmp = tempfile.gettempdir()
    return {name for name in os.listdir(tmp) if name.startswith(cleanup.TEMP_PREFIX)}


def leftovers(before: dict[str, set]) -> dict[str, set]:
    """What exists now that did not before, per kind; waits briefly for processes to go."""
    deadline = time.monotonic() + 2.0
    while True:
        now = {
            "mounts": _mounts() - before["mounts"],
            "cgroups": _layerlab_cgroups() - before["cgroups"],
            "processes": _session_processes() - before["processes"],
            "temp dirs": _temp_dirs() - before["temp dirs"],
        }
        if not any(now.values()) or time.monotonic() > deadline:
            return {kind: items for kind, items in now.items() if items}
        time.sleep(0.05)


def snapshot() -> dict[str, set]:
    return {
        "mounts": _mounts(),
        "cgroups": _layerlab_cgroups(),
        "processes": _session_processes(),
        "temp dirs": _temp_dirs(),
    }


class Interrupter:
    """Press Ctrl-C at a named checkpoint of a lab, wherever that checkpoint runs.

    In the test's own process the hook raises KeyboardInterrupt directly. In a lab's child
    (possibly inside a PID namespace, where our PID means nothing) it writes to a pipe; a
    thread here turns that into a real SIGINT to this process, exactly as a terminal or
    Jupyter's stop button would, and the child sleeps until the cleanup kills it.
    """

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.test_pid = os.getpid()
        self.reached = False
        self._read, self._write = os.pipe()
        self._thread = threading.Thread(target=self._relay, daemon=True)

    def __call__(self, stage: str) -> None:
        if stage != self.stage:
            return
        if os.getpid() == self.test_pid:
            self.reached = True
            raise KeyboardInterrupt
        os.write(self._write, b"!")
        time.sleep(60)  # killed by the cleanup long before this ends

    def _relay(self) -> None:
        if os.read(self._read, 1):
            self.reached = True
            os.kill(self.test_pid, signal.SIGINT)

    def __enter__(self) -> Interrupter:
        self._thread.start()
        cleanup.set_checkpoint_hook(self)
        return self

    def __exit__(self, *exc: object) -> None:
        cleanup.set_checkpoint_hook(None)
        os.close(self._write)  # ends the relay thread if the stage was never reached
        self._thread.join(timeout=5)
        os.close(self._read)
