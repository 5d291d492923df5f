"""Every course notebook, run top to bottom in JupyterLab in a real browser.

nbval proves the kernel side; this proves what the learner sees: no traceback on the page,
no JavaScript error in the console, every widget drawn, and every Graphviz picture a real
SVG with the labels that the committed outputs show (e.g. the `rw` and `-init` layers of a
stack diagram). A screenshot of each notebook goes to artifacts/screenshots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_checks import notebook_failures
from lab_page import open_notebook, run_all_cells, screenshot_notebook, snapshot

pytestmark = pytest.mark.browser

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_runs_clean_in_jupyterlab(notebook: Path, lab, lab_page_for, screenshots):
    stored = lab.stored_notebook(f"notebooks/{notebook.name}")
    watched = lab_page_for(lab)
    open_notebook(watched.page, lab, f"notebooks/{notebook.name}")
    run_all_cells(watched.page, lab)
    snap = snapshot(watched.page)
    screenshot_notebook(watched.page, screenshots / f"{notebook.stem}.png")

    assert len(snap["dom"]) == len(snap["model"]), "page and notebook model disagree on cells"
    failures = notebook_failures(snap, watched.log, watched.blocked, stored)
    assert not failures, f"{notebook.name} in JupyterLab:\n  " + "\n  ".join(failures)
