"""Fixtures for the browser suite: a JupyterLab server, a headless Chromium, one page per test.

How the pieces fit (see lab_server.py, lab_page.py and lab_checks.py for the why):

    lab          one JupyterLab per session, from the project's own Python, on a free
                 127.0.0.1 port with a random token, serving a temp copy of notebooks/
                 (as notebooks/) and of tests/browser/fixtures/ (as fixtures/)
    browser      Debian's Chromium driven by Playwright (never Playwright's own download)
    binder_lab   JupyterLab as Binder would run it: built from binder/ only, as the
                 unprivileged user of tests/support/rootless-world, with LAYERLAB_LIVE=0;
                 started in the background when the session begins (see below)
    lab_page     a fresh browser context and page, with console errors recorded and every
                 request that would leave the machine blocked; afterwards the page is
                 closed and the test's kernel shut down
    screenshots  artifacts/screenshots/ in the repository (git ignores artifacts/)

Chromium missing: the test skips with the install hint on a laptop and fails under
CI=true (tests/conftest.py's `chromium` fixture). The same holds for the playwright package.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lab_page
import lab_server
import pytest
from needs import unavailable

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURES = HERE / "fixtures"
BINDER_TESTS = "test_binder_rehearsal.py"
SCREENSHOTS = REPO / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def lab(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab_server.LabServer]:
    """JupyterLab on copies of the notebooks; stopped with all its kernels at the end.
    (Asks for `chromium` first: without a browser, starting a server is wasted time.)"""
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(FIXTURES, root / "fixtures")
    server = lab_server.start(sys.executable, root, tmp_path_factory.mktemp("lab-state"))
    try:
        yield server
    finally:
        lab_server.stop(server)
    left = lab_server.leftover_processes(server)
    assert not left, f"JupyterLab left processes behind: {left}"


@pytest.fixture(scope="session")
def browser(chromium: str):
    """Headless Chromium (Debian's binary) under Playwright, for the whole session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is missing; install the test extra: make test")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=list(lab_page.CHROMIUM_ARGS),
            timeout=60_000,
        )
        try:
            yield instance
        finally:
            instance.close()


@dataclass
class LabPage:
    """One browser page plus what it reported: what a test drives and then judges."""

    page: Any  # playwright.sync_api.Page; imported lazily so collection needs no playwright
    log: lab_page.PageLog
    requests: dict[str, list[str]] = field(default_factory=dict)

    @property
    def blocked(self) -> list[str]:
        return self.requests.get("blocked", [])


def new_lab_page(browser) -> tuple[Any, LabPage]:
    """A fresh context (own cookies, storage, cache) and page, watched from the start."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    holder = LabPage(page=None, log=lab_page.PageLog())
    lab_page.keep_on_localhost(context, holder.requests)
    page = context.new_page()
    holder.page = page
    holder.log = lab_page.watch(page)
    return context, holder


@pytest.fixture
def lab_page_for(browser):
    """Factory: `lab_page_for(server)` opens a watched page and cleans up after the test:
    closes the browser context and shuts the server's kernels down."""
    opened = []

    def make(server: lab_server.LabServer) -> LabPage:
        context, holder = new_lab_page(browser)
        opened.append((context, server))
        return holder

    yield make
    for context, server in opened:
        context.close()
        server.remember_processes()
        server.shutdown_kernels()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """artifacts/screenshots/, emptied of an earlier run's pictures so that what is there
    afterwards is what this run saw."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the Binder rehearsal behind the other browser tests.

    Its server needs a venv built from binder/ (a couple of minutes of pip). `binder_lab`
    starts that build when the first browser test starts, so it overlaps the other
    browser tests instead of adding to the suite's time.
    """
    binder = [item for item in items if item.path.name == BINDER_TESTS]
    if not binder:
        return
    rest = [item for item in items if item.path.name != BINDER_TESTS]
    ours = [i for i, item in enumerate(rest) if HERE in item.path.parents]
    cut = ours[-1] + 1 if ours else len(rest)
    items[:] = rest[:cut] + binder + rest[cut:]


@pytest.fixture(scope="session", autouse=True)
def binder_lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The Binder rehearsal's server, launched (not yet waited for) when the first browser
    test of a session that includes the rehearsal begins; None otherwise.

    tests/support/rootless-world --binder does what mybinder.org does (a venv from Debian's
    python3 with binder/requirements.txt, then binder/postBuild) in a fresh copy of the
    repository, and runs the command as the unprivileged `layerlab-learner` (or as you,
    when you are not root); it removes the copy when the command ends.
    """
    wanted = any(item.path.name == BINDER_TESTS for item in request.session.items)
    if not wanted or shutil.which("chromium") is None:  # no browser: the test skips or fails
        yield None
        return
    script = REPO / "tests" / "support" / "rootless-world"
    token, port = secrets.token_hex(24), lab_server.free_port()
    command = [str(script), "--binder", "python", "-m", "jupyterlab", *lab_server.LAB_OPTIONS]
    # The token is on the command line here: rootless-world passes the learner a clean
    # environment without JUPYTER_TOKEN. It is random and the server listens on 127.0.0.1.
    command += [f"--ServerApp.port={port}", f"--IdentityProvider.token={token}"]
    env = {**os.environ, "LAYERLAB_LIVE": "0"}
    log = tmp_path_factory.mktemp("binder-lab") / "rootless-world.log"
    server = lab_server.launch(command, cwd=REPO, env=env, port=port, token=token, log_path=log)
    try:
        yield server
    finally:
        lab_server.stop(server, timeout=120)  # rootless-world then deletes the learner's copy
    left = lab_server.leftover_processes(server)
    assert not left, f"the Binder rehearsal left processes behind: {left}"
