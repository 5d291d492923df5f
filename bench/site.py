"""The static site's weight, and how long JupyterLite takes to run a learner's first cell.

Run: `make site && .venv/bin/python bench/site.py [NOTEBOOK]` (default: notebook 04).

Size: build/site in MB, split into the book, JupyterLite's own app, the Pyodide runtime
and the wheels it preloads.

Start time, in headless Chromium against build/site served on 127.0.0.1 (no other host
reachable), from `page.goto` of the notebook's JupyterLite URL until its first code cell
has run (Run > Run Selected Cell on the first cell, its prompt shows a number):

- cold: a fresh browser context, so an empty HTTP cache and empty browser storage;
- warm: the same context again (a reload: the files come from the browser's cache).

Budgets: 15 s cold, 5 s warm. As the reference from the same run, the bare Pyodide runtime
(import pyodide.mjs, loadPyodide(), no packages) is timed in a fresh context too: it is
the floor any Pyodide site pays on this machine, so `cold / bare` says what JupyterLite,
the kernel and the course's packages add, whatever the machine's load.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "browser"))

import static_site  # noqa: E402
from lab_page import ACTIVE_PANEL, CHROMIUM_ARGS, click_menu, keep_on_localhost  # noqa: E402

SITE = REPO / "build" / "site"
BUDGET_COLD_S, BUDGET_WARM_S = 15.0, 5.0
DEADLINE_MS = 600_000


def megabytes(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def sizes() -> list[tuple[str, float]]:
    pyodide = SITE / "lite" / "static" / "pyodide"
    wheels = sum(megabytes(w) for w in pyodide.glob("*.whl"))
    runtime = megabytes(pyodide) - wheels
    lite = megabytes(SITE / "lite") - megabytes(pyodide)
    book = megabytes(SITE) - megabytes(SITE / "lite")
    return [
        ("the whole site", megabytes(SITE)),
        ("book (HTML, pictures, theme, search index)", book),
        ("JupyterLite app and extensions", lite),
        ("Pyodide runtime + WebAssembly Graphviz", runtime),
        ("preloaded wheels", wheels),
    ]


def first_cell_seconds(page, url: str) -> float:
    """Seconds from navigation to the first code cell's prompt showing a number."""
    start = time.monotonic()
    page.goto(url, wait_until="domcontentloaded")
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).wait_for(
        timeout=DEADLINE_MS
    )
    first = page.locator(f"{ACTIVE_PANEL} .jp-Notebook .jp-CodeCell").first
    first.locator(".jp-InputArea-prompt").click()
    click_menu(page, "Run", "Run Selected Cell")
    page.wait_for_function(
        f"""() => /\\d/.test(document.querySelector(
              '{ACTIVE_PANEL} .jp-Notebook .jp-CodeCell .jp-InputArea-prompt').textContent)""",
        timeout=DEADLINE_MS,
    )
    return time.monotonic() - start


def bare_pyodide_seconds(page, site) -> float:
    page.goto(site.url("index.html"))
    millis = page.evaluate(
        """async () => {
             const t = performance.now();
             const {loadPyodide} = await import('./lite/static/pyodide/pyodide.mjs');
             await loadPyodide();
             return performance.now() - t; }"""
    )
    return millis / 1000


def main() -> int:
    from playwright.sync_api import sync_playwright

    if not (SITE / "lite" / "lab" / "index.html").exists():
        print("bench/site.py: error: build/site is missing; run `make site` first", file=sys.stderr)
        return 1
    notebook = sys.argv[1] if len(sys.argv) > 1 else "04-layers-and-union-mounts.ipynb"
    for name, size in sizes():
        print(f"{name:<45} {size:7.1f} MB")
    site = static_site.serve(SITE)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                headless=True,
                args=list(CHROMIUM_ARGS),
            )
            fresh = browser.new_context()
            keep_on_localhost(fresh, {})
            bare = bare_pyodide_seconds(fresh.new_page(), site)
            print(f"bare Pyodide runtime (reference)          {bare:6.1f} s", flush=True)
            fresh.close()
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            blocked: dict[str, list[str]] = {}
            keep_on_localhost(context, blocked)
            page = context.new_page()
            cold = first_cell_seconds(page, site.lab_url(notebook))
            warm = first_cell_seconds(page, site.lab_url(notebook))
            browser.close()
    finally:
        static_site.stop(site)
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"{notebook}: first cell, cold   {cold:6.1f} s  "
        f"= {cold / BUDGET_COLD_S:.2f}x the {BUDGET_COLD_S:.0f} s budget, {cold / bare:.1f}x bare"
    )
    print(
        f"{notebook}: first cell, warm   {warm:6.1f} s  "
        f"= {warm / BUDGET_WARM_S:.2f}x the {BUDGET_WARM_S:.0f} s budget, {warm / bare:.1f}x bare"
    )
    if blocked.get("blocked"):
        print(f"requests to other hosts (blocked): {blocked['blocked'][:5]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
