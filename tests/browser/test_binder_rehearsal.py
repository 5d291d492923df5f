"""Binder, rehearsed in the browser: no root, no kernel features, only what binder/ installs.

A workshop sends 40 people to the Binder link, which opens 00-start-here in JupyterLab.
There the kernel runs as an ordinary user with LAYERLAB_LIVE=0 semantics (no mounts, no
namespaces): every live demo must say SIMULATED, and nothing may error. The server here is
built from binder/ alone and runs as an unprivileged user (conftest.py's `binder_lab`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lab_checks import notebook_failures
from lab_page import open_notebook, run_all_cells, screenshot_notebook, snapshot
from lab_server import descendants_of, wait_until_ready

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
#: Building the learner's venv from binder/ downloads JupyterLab and friends: minutes.
BINDER_START_TIMEOUT = 480.0
START_NOTEBOOK = REPO / "notebooks" / "00-start-here.ipynb"
WORLD_BANNER = re.compile(r"^(LIVE \((root|rootless)\)|SIMULATED)\b", re.MULTILINE)


def shows_a_world_banner(notebook: Path) -> bool:
    """Do the committed outputs of `notebook` include a live demo's world banner?"""
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", "")) + "".join(
                output.get("data", {}).get("text/plain", "")
            )
            if WORLD_BANNER.search(text):
                return True
    return False


def banner_notebook() -> Path:
    """The start notebook if it shows a live demo, else the first notebook that does."""
    candidates = [START_NOTEBOOK, *sorted((REPO / "notebooks").glob("*.ipynb"))]
    found = next((nb for nb in candidates if nb.exists() and shows_a_world_banner(nb)), None)
    assert found, "no notebook shows a live demo's world banner, so Binder's cannot be checked"
    return found


def server_uids(server) -> set[int]:
    """Real uids of the JupyterLab processes under the rehearsal's launcher."""
    uids = set()
    for pid in descendants_of(server.process.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if b"jupyterlab" in cmdline:
            uids.add(int(re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE).group(1)))
    return uids


def run_as_learner(server, lab_page_for, notebook: Path, screenshots: Path):
    stored = server.stored_notebook(f"notebooks/{notebook.name}")  # the learner's copy
    watched = lab_page_for(server)
    open_notebook(watched.page, server, f"notebooks/{notebook.name}")
    run_all_cells(watched.page, server)
    snap = snapshot(watched.page)
    screenshot_notebook(watched.page, screenshots / f"binder-{notebook.stem}.png")
    failures = notebook_failures(snap, watched.log, watched.blocked, stored)
    assert not failures, f"{notebook.name} on Binder:\n  " + "\n  ".join(failures)
    return watched.page, snap


def test_binder_learner_runs_the_course_simulated_and_clean(binder_lab, lab_page_for, screenshots):
    assert START_NOTEBOOK.exists(), "Binder opens notebooks/00-start-here.ipynb; it is missing"
    assert binder_lab is not None, "the Binder server was not launched (see conftest.py)"
    wait_until_ready(binder_lab, BINDER_START_TIMEOUT)
    uids = server_uids(binder_lab)
    assert uids and 0 not in uids, f"the learner's JupyterLab must not run as root: uids {uids}"

    page, snap = run_as_learner(binder_lab, lab_page_for, START_NOTEBOOK, screenshots)
    notebook = banner_notebook()
    if notebook != START_NOTEBOOK:
        page, snap = run_as_learner(binder_lab, lab_page_for, notebook, screenshots)
    outputs = "\n".join(o["text"] for cell in snap["dom"] for o in cell["outputs"])
    assert "SIMULATED" in outputs, f"{notebook.name}: no SIMULATED banner in the outputs"
    assert not re.search(r"^LIVE \(", outputs, re.MULTILINE), "a live result under LAYERLAB_LIVE=0"
    banner = page.get_by_text("SIMULATED: this is what a Linux machine").first
    banner.scroll_into_view_if_needed()
    assert banner.is_visible(), "the SIMULATED banner is in the page but not visible"
