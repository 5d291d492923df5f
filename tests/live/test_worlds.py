"""The other two worlds, seen from a root test run: uid 65534 and LAYERLAB_LIVE=0.

`make test-notebooks-rootless` and `make test-notebooks-sim` run the whole live suite in
those worlds. These tests make a plain `pytest tests/live` as root cover them too: they run
every lab in a separate program (world_driver.py) and check what each world must show.

/root is mode 700, so uid 65534 can read neither this checkout nor the venv's python: the
package is copied to a world-readable temp dir and run with Debian's /usr/bin/python3.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import elsewhere
import pytest
from livetools import WORLD, need

pytestmark = pytest.mark.live

NOBODY = 65534
HERE = Path(__file__).resolve().parent
NAMESPACE_LABS = ["links", "pid", "hostname", "network", "mount", "user"]
ROOTFS_LABS = ["chroot", "pivot"]
CGROUP_LABS = ["oom", "pids", "cpu"]


@pytest.fixture(scope="module")
def readable_copy() -> Iterator[str]:
    """layerlab and the driver in a temp dir any user can read; removed afterwards."""
    with elsewhere.readable_copy(HERE / "world_driver.py") as top:
        yield top


def run_world(top: str, argv: list[str], python: str, **env: str) -> dict:
    clean = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONPATH": top,
        "LC_ALL": "C.UTF-8",
        "HOME": top,
        **env,
    }
    done = subprocess.run(
        [*argv, python, os.path.join(top, "world_driver.py")],
        cwd=top,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def rootless(readable_copy: str) -> dict:
    """Every lab run as uid 65534, the user `nobody`, with Debian's python."""
    need(os.geteuid() == 0, "switching to uid 65534 needs root")
    setpriv = shutil.which("setpriv")
    need(setpriv is not None, "setpriv (util-linux) is not installed")
    python = "/usr/bin/python3"
    need(os.access(python, os.X_OK), "Debian's /usr/bin/python3 is needed for uid 65534")
    as_nobody = [setpriv or "", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return run_world(readable_copy, as_nobody, python)


@pytest.mark.skipif(WORLD != "root", reason="looks at the rootless world from root")
def test_probe_as_uid_65534_tells_the_truth(rootless: dict) -> None:
    """issue 4: as uid 65534, user namespaces and rootless overlay yes, cgroups not writable."""
    assert rootless["euid"] == NOBODY
    report = rootless["probe"]
    for feature in (
        "user_namespaces",
        "mount_namespace",
        "pid_namespace",
        "uts_namespace",
        "net_namespace",
        "ipc_namespace",
        "overlayfs_rootless",
        "pivot_root",
    ):
        assert report[feature]["available"], (feature, report[feature]["reason"])
    assert not report["cgroups"]["available"]
    assert "EACCES" in report["cgroups"]["reason"]
    assert not report["overlayfs"]["available"]
    assert "EPERM" in report["overlayfs"]["reason"]


@pytest.mark.skipif(WORLD != "root", reason="looks at the rootless world from root")
@pytest.mark.parametrize("name", NAMESPACE_LABS + ROOTFS_LABS)
def test_namespace_and_rootfs_labs_run_live_rootless(rootless: dict, name: str) -> None:
    lab = rootless["labs"][name]
    assert (lab["live"], lab["world"]) == (True, "rootless"), lab["reason"]
    assert lab["text"].startswith("LIVE (rootless)")


@pytest.mark.skipif(WORLD != "root", reason="looks at the rootless world from root")
def test_rootless_facts_are_what_the_course_teaches(rootless: dict) -> None:
    labs = rootless["labs"]
    assert set(labs["links"]["facts"].values()) == {True}
    assert labs["pid"]["facts"] == {"pid inside": 1, "processes visible in /proc": 1}
    assert labs["network"]["facts"] == {"interfaces inside": ["lo"]}
    assert labs["mount"]["facts"]["host sees the file"] is False
    assert labs["user"]["facts"]["uid 0 inside maps to your uid outside"] is True
    assert labs["chroot"]["facts"]["escaped to the host's root"] is True
    assert labs["pivot"]["facts"]["the chroot escape reached the host"] is False


@pytest.mark.skipif(WORLD != "root", reason="looks at the rootless world from root")
@pytest.mark.parametrize("name", CGROUP_LABS)
def test_cgroup_labs_are_labelled_simulations_rootless(rootless: dict, name: str) -> None:
    lab = rootless["labs"][name]
    assert (lab["live"], lab["world"]) == (False, "simulated")
    assert lab["text"].startswith("SIMULATED: this is what a Linux machine that allows it shows")
    assert "cgroups is not available" in lab["reason"]


@pytest.mark.skipif(WORLD != "root", reason="looks at the rootless world from root")
def test_rootless_labs_leave_nothing_behind(rootless: dict, readable_copy: str) -> None:
    """No mount, temp dir or process (the driver's forks carry its path in their cmdline)."""
    assert rootless["left"] == {"mounts": [], "temp dirs": []}
    still = subprocess.run(["ps", "-u", str(NOBODY), "-o", "args="], capture_output=True, text=True)
    assert readable_copy not in still.stdout


@pytest.mark.skipif(WORLD == "simulated", reason="already simulated")
def test_switched_off_world_labels_every_lab(readable_copy: str) -> None:
    """LAYERLAB_LIVE=0: every lab simulated and labelled, the probe all off."""
    off = run_world(readable_copy, [], sys.executable, LAYERLAB_LIVE="0")
    assert not any(answer["available"] for answer in off["probe"].values())
    for name, lab in off["labs"].items():
        assert (lab["live"], lab["world"]) == (False, "simulated"), name
        assert lab["text"].startswith("SIMULATED"), name
        assert "LAYERLAB_LIVE=0" in lab["reason"], name
    assert off["left"] == {"mounts": [], "temp dirs": []}
