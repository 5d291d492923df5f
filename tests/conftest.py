"""What a test needs from the machine, said in one line, with one rule for missing things.

layerlab is proven against real references: the kernel's overlayfs, umoci, skopeo, a
Docker engine, Graphviz and Chromium. On a laptop, a test whose tool is missing skips
and says how to install it. Under CI=true the same test FAILS: a suite that quietly
skips its references proves nothing, and CI machines are set up by `make test`.

How to use it (all of these are available to every test under tests/):

    def test_flatten_equals_umoci(umoci, tmp_path):        # fixture: umoci's path
        subprocess.run([umoci, "unpack", ...], check=True)

    def test_commit_equals_docker(docker):                  # fixture: an engine answers
        subprocess.run([docker, "commit", ...], check=True)

    def test_something(need_tool, need_root):               # the functions, as fixtures
        getfattr = need_tool("getfattr")                    # absolute path, or skip/fail
        need_root("mounting overlayfs outside a user namespace")

    def test_probe_is_honest(world):                        # "root", "rootless", "simulated"
        ...

In modules directly in tests/ you may also write `from conftest import need_tool`;
below a directory with its own conftest.py that name means the nearer conftest, so
prefer the fixtures there.

Markers (pass -m to select): `reference`, `live`, `browser` (declared in pyproject.toml)
and `slow` (declared here: over ~10 s; `-m "not slow"` for a quick run). Tests marked
`live` also run in the rootless and simulated worlds (see the Makefile).

need_root() never fails, even in CI: running without root is a world we test on
purpose (make test-notebooks-rootless), not a broken machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

# The Debian package that provides each command, for the "install it with" hint.
DEBIAN_PACKAGE = {
    "dot": "graphviz",
    "umoci": "umoci",
    "skopeo": "skopeo",
    "docker": "docker.io",
    "dockerd": "docker.io",
    "busybox": "busybox-static",
    "getfattr": "attr",
    "setfattr": "attr",
    "chromium": "chromium",
    "ip": "iproute2",
    "ps": "procps",
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
    """Skip unless running as root; `why` names the privileged step, for the skip reason."""
    if os.geteuid() != 0:
        pytest.skip(f"needs root: {why}")


def current_world() -> str:
    """Which of the course's three worlds this run is in: root, rootless or simulated."""
    if os.environ.get("LAYERLAB_LIVE") == "0":
        return "simulated"
    return "root" if os.geteuid() == 0 else "rootless"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than ~10 s; deselect with -m 'not slow'")


@pytest.fixture(name="need_tool")
def need_tool_fixture():
    """`need_tool` as a fixture, for test modules that cannot import conftest."""
    return need_tool


@pytest.fixture(name="need_root")
def need_root_fixture():
    """`need_root` as a fixture, for test modules that cannot import conftest."""
    return need_root


@pytest.fixture
def world() -> str:
    """The world this run is in: "root", "rootless" or "simulated" (LAYERLAB_LIVE=0)."""
    return current_world()


@pytest.fixture(scope="session")
def umoci() -> str:
    return need_tool("umoci")


@pytest.fixture(scope="session")
def skopeo() -> str:
    return need_tool("skopeo")


@pytest.fixture(scope="session")
def dot() -> str:
    return need_tool("dot")


@pytest.fixture(scope="session")
def chromium() -> str:
    return need_tool("chromium")


@pytest.fixture(scope="session")
def docker() -> str:
    """The docker CLI's path, once a Docker engine answers on DOCKER_HOST.

    `make test` starts a private engine as root (tests/support/with-dockerd). An engine
    that does not answer is a failure in CI only as root: an unprivileged learner cannot
    reach a root engine, and that world is tested on purpose.
    """
    path = need_tool("docker")
    try:
        answer = subprocess.run(
            [path, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        ok, detail = answer.returncode == 0, answer.stderr.strip()
    except subprocess.TimeoutExpired:
        ok, detail = False, "docker version timed out"
    if not ok:
        reason = (
            f"no Docker engine answers (DOCKER_HOST={os.environ.get('DOCKER_HOST', 'unset')}:"
            f" {detail.splitlines()[-1] if detail else 'no detail'}); run the tests with"
            " `make test-unit`, which starts a private engine as root"
        )
        if current_world() == "root":
            unavailable(reason)
        pytest.skip(reason)
    return path
