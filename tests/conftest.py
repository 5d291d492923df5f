"""Fixtures every test under tests/ can ask for: what the test needs from the machine.

The rule (tests/needs.py): a missing reference tool skips the test with the install
command on a laptop, and FAILS it under CI=true, where `make test` installed everything.

    def test_flatten_equals_umoci(umoci, tmp_path):        # umoci's absolute path
        subprocess.run([umoci, "unpack", ...], check=True)

    def test_commit_equals_docker(docker):                  # a Docker engine answers
        subprocess.run([docker, "commit", ...], check=True)

    def test_xattrs(need_tool, need_root):                  # the functions, as fixtures
        getfattr = need_tool("getfattr")
        need_root("mounting overlayfs outside a user namespace")

    def test_probe_is_honest(world):                        # "root", "rootless", "simulated"
        ...

or, in any module:  from needs import need_root, need_tool, unavailable

Markers (select with -m): `reference`, `live`, `browser` (declared in pyproject.toml) and
`slow` (declared here: over ~10 s; `-m "not slow"` for a quick run). Tests marked `live`
run in all three worlds: as root in `make test-unit`, as an unprivileged user in
`make test-notebooks-rootless`, and with LAYERLAB_LIVE=0 in `make test-notebooks-sim`.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from needs import current_world, need_root, need_tool, unavailable


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than ~10 s; deselect with -m 'not slow'")


@pytest.fixture(autouse=True, scope="session")
def _progress_out_of_home(tmp_path_factory):
    """Tests solve exercises by the hundred: keep that out of the tester's own progress."""
    saved = os.environ.get("LAYERLAB_PROGRESS")
    os.environ["LAYERLAB_PROGRESS"] = str(tmp_path_factory.mktemp("progress") / "progress.json")
    yield
    if saved is None:
        os.environ.pop("LAYERLAB_PROGRESS", None)
    else:
        os.environ["LAYERLAB_PROGRESS"] = saved


@pytest.fixture(name="need_tool")
def need_tool_fixture():
    """`needs.need_tool`: a command's absolute path, or skip (laptop) / fail (CI)."""
    return need_tool


@pytest.fixture(name="need_root")
def need_root_fixture():
    """`needs.need_root`: skip unless root, naming the privileged step."""
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
def podman() -> str:
    """The podman CLI's path. Podman has no daemon; tests/reference/podman_engine.py gives
    each run a private storage. Running containers needs root (see need_root)."""
    return need_tool("podman")


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
