"""Run a driver program in the rootless world from a root test run, and read its JSON.

/root is mode 700, so uid 65534 can read neither this checkout nor the venv's python: the
package and the driver are copied to a world-readable temp dir and run as `nobody` with
Debian's /usr/bin/python3, the way test_worlds.py looks at the other worlds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from livetools import need

import layerlab

NOBODY = 65534
PYTHON = "/usr/bin/python3"


@contextlib.contextmanager
def readable_copy(driver: Path) -> Iterator[str]:
    """layerlab and `driver` in a temp dir any user can read; removed afterwards."""
    top = tempfile.mkdtemp(prefix="layerlab-elsewhere-")
    try:
        os.chmod(top, 0o755)
        package = Path(layerlab.__file__).parent
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(package, os.path.join(top, "layerlab"), ignore=ignore)
        shutil.copy(driver, top)
        for path, dirs, files in os.walk(top):
            for name in dirs:
                os.chmod(os.path.join(path, name), 0o755)
            for name in files:
                os.chmod(os.path.join(path, name), 0o644)
        yield top
    finally:
        shutil.rmtree(top)


def run_as_nobody(top: str, driver: str) -> dict:
    """Run `driver` (a file in `top`) as uid 65534; it must print one JSON object."""
    need(os.geteuid() == 0, "switching to uid 65534 needs root")
    setpriv = shutil.which("setpriv")
    need(setpriv is not None, "setpriv (util-linux) is not installed")
    need(os.access(PYTHON, os.X_OK), "Debian's /usr/bin/python3 is needed for uid 65534")
    argv = [setpriv or "", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": top, "LC_ALL": "C.UTF-8"}
    done = subprocess.run(
        [*argv, PYTHON, os.path.join(top, driver)],
        cwd=top,
        env={**env, "HOME": top},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return json.loads(done.stdout)
