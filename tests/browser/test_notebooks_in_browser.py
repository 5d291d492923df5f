"""Every course notebook, run top to bottom in JupyterLab in a real browser.

nbval proves the kernel side; this proves what the learner sees: no traceback on the page,
no JavaScript error in the console, every widget drawn, and every Graphviz picture a real
SVG with the labels that the committed outputs show (e.g. the `rw` and `-init` layers of a
stack diagram). A screenshot of each notebook goes to artifacts/screenshots/.

The Chinese edition (notebooks/zh/) is run the same way, and its page must draw Chinese
with real glyphs: no "tofu" boxes where the browser lacks a CJK font (issue 15).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_checks import notebook_failures, tofu_failures
from lab_page import glyph_report, open_notebook, run_all_cells, screenshot_notebook, snapshot

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
    (ROOT / "notebooks" / "zh").glob("*.ipynb")
)


def _name(notebook: Path) -> str:
    return notebook.relative_to(ROOT / "notebooks").with_suffix("").as_posix()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[_name(nb) for nb in NOTEBOOKS])
def test_notebook_runs_clean_in_jupyterlab(notebook: Path, lab, lab_page_for, screenshots):
    path = notebook.relative_to(ROOT).as_posix()
    stored = lab.stored_notebook(path)
    watched = lab_page_for(lab)
    open_notebook(watched.page, lab, path)
    run_all_cells(watched.page, lab)
    snap = snapshot(watched.page)
    screenshot_notebook(watched.page, screenshots / f"{_name(notebook).replace('/', '-')}.png")

    assert len(snap["dom"]) == len(snap["model"]), "page and notebook model disagree on cells"
    failures = notebook_failures(snap, watched.log, watched.blocked, stored)
    if notebook.parent.name == "zh":
        failures += tofu_failures(glyph_report(watched.page))
    assert not failures, f"{path} in JupyterLab:\n  " + "\n  ".join(failures)
