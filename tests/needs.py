"""What a test needs from the machine, said in one line, with one rule for missing things.

layerlab is proven against real references: the kernel's overlayfs, umoci, skopeo, a
Docker engine, Podman, Graphviz and Chromium. On a laptop, a test whose tool is missing skips
and says how to install it. Under CI=true the same test FAILS: a suite that quietly
skips its references proves nothing, and CI machines are set up by `make test`.

Import it from any test module (tests/ is on sys.path because tests/conftest.py lives
there; the name `conftest` itself is ambiguous once sub-directories have their own):

    from needs import need_root, need_tool, unavailable

The same functions are fixtures too, next to `docker`, `umoci`, ...: see tests/conftest.py.
"""

from __future__ import annotations

import os
import shutil

import pytest

# The Debian package that provides each command, for the "install it with" hint.
DEBIAN_PACKAGE = {
    "dot": "graphviz",
    "umoci": "umoci",
    "skopeo": "skopeo",
    "docker": "docker.io",
    "dockerd": "docker.io",
    "podman": "podman",
    "containerd": "containerd",
    "ctr": "containerd",
    "busybox": "busybox-static",
    "getfattr": "attr",
    "setfattr": "attr",
    "chromium": "chromium",
    "ip": "iproute2",
    "ps": "procps",
    "pgrep": "procps",
    "unshare": "util-linux",
    "setpriv": "util-linux",
    "mount": "mount",
    "make": "make",
}


def on_ci() -> bool:
    """True under CI=true, where a missing reference is a failure rather than a skip."""
    return os.environ.get("CI") == "true"


def unavailable(reason: str) -> None:
    """Stop this test because the machine lacks something: skip on a laptop, fail in CI."""
    if on_ci():
        pytest.fail(f"CI=true, so this cannot skip: {reason}", pytrace=False)
    pytest.skip(reason)


def need_tool(name: str) -> str:
    """Return the absolute path of command `name`, or stop the test (see `unavailable`)."""
    path = shutil.which(name)
    if path is None:
        package = DEBIAN_PACKAGE.get(name, name)
        unavailable(f"{name} is not installed; install it with: sudo apt-get install {package}")
    return path


def need_root(why: str) -> None:
    """Skip unless running as root; `why` names the privileged step, for the skip reason.

    Never a failure, even in CI: running without root is a world we test on purpose
    (make test-notebooks-rootless), not a broken machine.
    """
    if os.geteuid() != 0:
        pytest.skip(f"needs root: {why}")


def current_world() -> str:
    """Which of the course's three worlds this run is in: root, rootless or simulated."""
    if os.environ.get("LAYERLAB_LIVE") == "0":
        return "simulated"
    return "root" if os.geteuid() == 0 else "rootless"
