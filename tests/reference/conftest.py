"""Fixtures for the reference tests: a real overlayfs (root and rootless) and a real Docker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from docker_engine import Engine
from needs import need_root, need_tool, unavailable
from overlay_kernel import RootKernel
from rootless import RootlessWorker

from layerlab.layer import Layer


@pytest.fixture(scope="session")
def root_overlay() -> RootKernel:
    """Overlayfs mounts as root in this process's mount namespace."""
    need_root("mounting overlayfs outside a user namespace")
    need_tool("mount")
    kernel = RootKernel()
    try:
        kernel.run([Layer()], [])
    except Exception as exc:  # the kernel's word, whatever form it takes
        unavailable(f"this kernel refuses an overlayfs mount as root: {exc}")
    return kernel


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
def kernel(request: pytest.FixtureRequest) -> RootKernel | RootlessWorker:
    """The kernel as root, then rootless: `.run(lowers, ops)` gives its Outcome."""
    return request.getfixturevalue(f"{request.param}_overlay")


@pytest.fixture(scope="module")
def engine(docker: str) -> Iterator[Engine]:
    """The Docker engine of `docker`, on overlay2, with what a module made removed after it."""
    engine = Engine(docker)
    driver = engine("info", "--format", "{{.Driver}}")
    if driver != "overlay2":
        unavailable(f"the Docker engine stores layers with {driver!r}; these tests need overlay2")
    try:
        yield engine
    finally:
        engine.cleanup()
