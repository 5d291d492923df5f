"""Fixtures for the reference tests: a real overlayfs (root and rootless) and a real Docker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from needs import need_root, need_tool, unavailable
from overlay_kernel import run_on_kernel
from rootless import RootlessWorker

from layerlab.layer import Layer


@pytest.fixture(scope="session")
def root_overlay() -> None:
    """Overlayfs mounts as root in this process's mount namespace."""
    need_root("mounting overlayfs outside a user namespace")
    need_tool("mount")
    try:
        run_on_kernel([Layer()], [], rootless=False)
    except Exception as exc:  # the kernel's word, whatever form it takes
        unavailable(f"this kernel refuses an overlayfs mount as root: {exc}")


@pytest.fixture(scope="session")
def rootless_overlay() -> Iterator[RootlessWorker]:
    """A worker running as uid 65534 in `unshare -Urm`, mounting with -o userxattr."""
    need_root("switching to uid 65534 for the rootless overlayfs tests")
    need_tool("setpriv")
    need_tool("unshare")
    try:
        worker = RootlessWorker()
    except Exception as exc:
        unavailable(f"cannot start the rootless overlayfs worker: {exc}")
    try:
        try:
            worker.run([Layer()], [])
        except Exception as exc:
            unavailable(f"rootless overlayfs (userxattr) does not work here: {exc}")
        yield worker
    finally:
        worker.close()


@pytest.fixture(params=["root", "rootless"])
def kernel(request: pytest.FixtureRequest):
    """Run (lowers, ops) on the kernel, as root or rootless: returns the kernel's Outcome."""
    if request.param == "root":
        request.getfixturevalue("root_overlay")
        return lambda lowers, ops: run_on_kernel(lowers, ops, rootless=False)
    worker = request.getfixturevalue("rootless_overlay")
    return worker.run
