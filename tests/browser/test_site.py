"""The static course site (`make site` -> build/site), offline, in headless Chromium.

build/site is served by a plain file server on 127.0.0.1 and every request to another
host is blocked, as on a static host with no CDN. The book must show every notebook with
its pictures, in course order, with working search and links; its JupyterLite button must
open the notebook in JupyterLite, where Pyodide runs layerlab's simulated world:
notebooks 04 to 07 Run-All without an error and with the same pictures as the committed
outputs, the stack explorer answers a click, an exercise prints its verdict, and the
learner's work is still there after a reload (browser storage). Screenshots of the book
and of JupyterLite go to artifacts/screenshots/.

The site is built by `make site` (part of `make test`), not here: building takes a
minute or two, and this test checks what would be published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import static_site
from lab_checks import (
    console_failures,
    error_failures,
    log_console_failures,
    notebook_failures,
    read_notebook,
)
from lab_page import (
    ACTIVE_PANEL,
    PageLog,
    click_menu,
    keep_on_localhost,
    screenshot_notebook,
    snapshot,
    wait_for_idle,
    watch,
)
from needs import unavailable

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "build" / "site"
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
IN_LITE = [nb for nb in NOTEBOOKS if nb.name[:2] in {"04", "05", "06", "07"}]
#: What a learner would sit through on a slow laptop before giving up: a cold kernel (the
#: runtime and its preloaded wheels, ~25 MB) starts in well under this on our loaded CI box.
KERNEL_START_MS = 90_000
RUN_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def site(chromium: str):
    if not (SITE / "index.html").exists() or not (SITE / "lite" / "lab" / "index.html").exists():
        unavailable("build/site is missing or incomplete; build it with: make site")
    served = static_site.serve(SITE)
    try:
        yield served
    finally:
        static_site.stop(served)


@dataclass
class Watched:
    page: Any
    log: PageLog
    requests: dict[str, list[str]]

    @property
    def blocked(self) -> list[str]:
        return self.requests.get("blocked", [])


@pytest.fixture
def watched_page(browser):
    """A fresh context (own storage: a first visit) whose requests stay on 127.0.0.1."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(120_000)  # a loaded 2-CPU machine is slow to load pages
    requests: dict[str, list[str]] = {}
    keep_on_localhost(context, requests)
    page = context.new_page()
    yield Watched(page, watch(page), requests)
    context.close()


def book_failures(watched) -> list[str]:
    return console_failures(watched.log, watched.blocked)


def test_book_shows_every_notebook_in_order_with_pictures(site, watched_page, screenshots):
    page = watched_page.page
    page.goto(site.url("index.html"))
    toc = page.locator("nav.bd-docs-nav a.reference.internal")
    hrefs = [toc.nth(i).get_attribute("href") for i in range(toc.count())]
    assert hrefs == [f"{nb.stem}.html" for nb in NOTEBOOKS], hrefs

    for notebook in NOTEBOOKS:
        page.goto(site.url(f"{notebook.stem}.html"))
        committed = sum(
            "image/svg+xml" in output.get("data", {})
            for cell in read_notebook(notebook)["cells"]
            for output in cell.get("outputs", [])
        )
        drawn = page.evaluate(
            """() => [...document.querySelectorAll('.cell_output img')]
                 .filter(img => /\\.svg$/.test(img.src) && img.complete && img.naturalWidth > 0)
                 .length"""
        )
        assert drawn == committed, f"{notebook.name}: {drawn} of {committed} pictures shown"
        button = page.locator(f"a[href$='lite/lab/index.html?path={notebook.name}']")
        assert button.count() == 1, f"{notebook.name}: no JupyterLite button"
        if notebook.stem.startswith("05"):
            page.screenshot(path=str(screenshots / "site-book-05.png"), full_page=True)

    # The "next" link at the bottom of a page leads to the next notebook.
    page.goto(site.url(f"{NOTEBOOKS[4].stem}.html"))
    page.locator("a.right-next").click()
    page.wait_for_url(re.compile(re.escape(NOTEBOOKS[5].stem) + r"\.html$"))

    failures = book_failures(watched_page)
    assert not failures, "the book:\n  " + "\n  ".join(failures)


def test_book_search_finds_the_whiteout_notebook(site, watched_page, screenshots):
    page = watched_page.page
    page.goto(site.url("search.html?q=whiteout"))
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=30_000)
    found = [results.nth(i).get_attribute("href") for i in range(results.count())]
    assert any("05-whiteouts-and-copy-on-write" in href for href in found), found
    page.screenshot(path=str(screenshots / "site-search.png"))
    failures = book_failures(watched_page)
    assert not failures, "search:\n  " + "\n  ".join(failures)


def test_the_sites_python_comes_compiled():
    """web/precompile.py: each module in the standard library zip and in the preloaded
    wheels has its bytecode beside it, as an unchecked-hash .pyc (PEP 552: flags 0b01),
    which Pyodide uses without comparing file times. Otherwise every learner's browser
    compiles IPython and the standard library on every start."""
    import zipfile

    pyodide = SITE / "lite" / "static" / "pyodide"
    if not (pyodide / "python_stdlib.zip").exists():
        unavailable("build/site is missing or incomplete; build it with: make site")
    uncompiled, flags = [], set()
    for archive in [pyodide / "python_stdlib.zip", *sorted(pyodide.glob("*.whl"))]:
        with zipfile.ZipFile(archive) as zipped:
            names = set(zipped.namelist())
            for name in filter(lambda n: n.endswith(".py"), names):
                folder, _, base = name.rpartition("/")
                pyc = (  # zipimport looks beside the source; the path finder in __pycache__
                    name + "c"
                    if archive.suffix == ".zip"
                    else f"{folder}/__pycache__/{base[:-3]}.cpython-314.pyc".lstrip("/")
                )
                if pyc in names:
                    flags.add(int.from_bytes(zipped.read(pyc)[4:8], "little"))
                else:
                    uncompiled.append(f"{archive.name}: {name}")
    assert not uncompiled, f"{len(uncompiled)} modules without bytecode: {uncompiled[:5]}"
    assert flags == {0b01}, flags


def open_in_lite(watched, site, notebook: str, navigate: bool = True) -> None:
    """Open `notebook` in JupyterLite (unless the page is already on its way there) and
    wait until its Pyodide kernel is idle."""
    page = watched.page
    if navigate:
        page.goto(site.lab_url(notebook), wait_until="domcontentloaded")
    page.locator(f".lm-TabBar-tab[data-type='document-title'] >> text='{notebook}'").first.wait_for(
        timeout=KERNEL_START_MS
    )
    page.locator(f"{ACTIVE_PANEL} .jp-Notebook .jp-Cell").first.wait_for(timeout=KERNEL_START_MS)
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).wait_for(
        timeout=KERNEL_START_MS
    )


def run_all_in_lite(watched, site) -> dict:
    page = watched.page
    click_menu(page, "Edit", "Clear Outputs of All Cells")
    click_menu(page, "Run", "Run All Cells")
    wait_for_idle(page, site, RUN_TIMEOUT_S)
    return snapshot(page)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", IN_LITE, ids=[nb.stem for nb in IN_LITE])
def test_notebook_runs_in_jupyterlite(notebook, site, watched_page, screenshots):
    stored = read_notebook(notebook)
    # The way a reader gets there: the book page's JupyterLite button.
    book = watched_page.page
    book.goto(site.url(f"{notebook.stem}.html"))
    book.locator(".dropdown-launch-buttons button").click()
    with book.context.expect_page() as opened:  # the button opens JupyterLite in a new tab
        book.locator(f"a[href$='?path={notebook.name}']").click()
    lite = opened.value
    watched_page.page, watched_page.log = lite, watch(lite)
    lite.wait_for_url(re.compile(r"/lite/lab/index\.html\?path="))
    open_in_lite(watched_page, site, notebook.name, navigate=False)
    snap = run_all_in_lite(watched_page, site)
    screenshot_notebook(watched_page.page, screenshots / f"site-lite-{notebook.stem}.png")
    # JupyterLite has no window.jupyterapp, so the checks read the page only (errors show
    # there as tracebacks on stderr).
    assert len(snap["dom"]) == len(stored["cells"]), "the page lacks cells of the notebook"
    failures = notebook_failures(snap, watched_page.log, watched_page.blocked, stored)
    assert not failures, f"{notebook.name} in JupyterLite:\n  " + "\n  ".join(failures)
    if notebook.name.startswith("05"):  # it has live cells: the probe explains the simulation
        shown = " ".join(out["text"] for cell in snap["dom"] for out in cell["outputs"])
        assert "running in the browser" in shown


_CELL_TEXT_JS = f"""(index) => {{
  const cell = document.querySelectorAll('{ACTIVE_PANEL} .jp-Notebook .jp-Cell')[index];
  return cell ? cell.textContent : '';
}}"""


@pytest.mark.slow
def test_jupyterlite_widget_click_exercise_check_and_saved_work(site, watched_page, screenshots):
    from layerlab.exercises import framework

    notebook = next(nb for nb in NOTEBOOKS if nb.name.startswith("04"))
    cells = read_notebook(notebook)["cells"]
    exercise = next(i for i, cell in enumerate(cells) if 'check("04.1"' in "".join(cell["source"]))
    page = watched_page.page
    open_in_lite(watched_page, site, notebook.name)
    run_all_in_lite(watched_page, site)

    # The stack explorer: switching the top layer off changes the merged view.
    explorer = page.locator(".layerlab-stack-explorer").first
    explorer.scroll_into_view_if_needed()
    merged = explorer.locator(".layerlab-merged-view")
    before = merged.inner_text()
    toggle = explorer.locator(".layerlab-layer-toggle input").first
    toggle.click()
    page.wait_for_function(
        "([root, before]) => document.querySelectorAll(root)[0]"
        ".querySelector('.layerlab-merged-view').innerText !== before",
        arg=[".layerlab-stack-explorer", before],
        timeout=30_000,
    )
    assert not toggle.is_checked()

    # The exercise: the shipped stub is "not solved yet"; the reference solution is solved.
    assert "not solved yet" in page.evaluate(_CELL_TEXT_JS, exercise)
    # Type the answer as a learner pastes it: select the cell's code, put the new code in.
    editor = page.locator(f"{ACTIVE_PANEL} .jp-Notebook .jp-Cell").nth(exercise)
    editor.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(framework.get("04.1").solution)
    click_menu(page, "Run", "Run Selected Cell")
    page.wait_for_function(
        f"(i) => ({_CELL_TEXT_JS})(i).includes('✓')", arg=exercise, timeout=60_000
    )
    screenshot_notebook(page, screenshots / "site-lite-exercise.png")
    snap = snapshot(page)
    failures = (
        error_failures(snap)
        + log_console_failures(snap)
        + console_failures(watched_page.log, watched_page.blocked)
    )
    assert not failures, "after the clicks:\n  " + "\n  ".join(failures)

    # Saved work stays in this browser's storage: a reload shows the solved cell.
    page.keyboard.press("Control+s")
    page.locator(".jp-mod-dirty").first.wait_for(state="detached", timeout=30_000)
    page.reload(wait_until="domcontentloaded")
    page.locator(f"{ACTIVE_PANEL} .jp-Notebook .jp-Cell").first.wait_for(timeout=KERNEL_START_MS)
    page.wait_for_function(
        f"(i) => ({_CELL_TEXT_JS})(i).includes('hashlib')", arg=exercise, timeout=60_000
    )
