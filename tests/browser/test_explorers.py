"""The layer-stack explorer and the copy-on-write player, clicked in a real JupyterLab.

The widgets' Python side is tested without a browser (tests/render); here we prove that a
click on the page reaches the kernel and that the page redraws: a layer switched off
changes the merged view, a path picked in the list shows its history, and the player's
slider steps through the container's log, one command at a time.

The fixture notebook tests/browser/fixtures/explorers.ipynb builds a small container and
shows both explorers. Its first code cell is also run here, in the test process, to know
what the page must show at each step of the log.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lab_checks import (
    console_failures,
    error_failures,
    log_console_failures,
    picture_failures,
    read_notebook,
    unrun_failures,
)
from lab_page import open_notebook, run_all_cells, screenshot_notebook, snapshot

pytestmark = pytest.mark.browser

EXPLORERS = Path(__file__).resolve().parent / "fixtures" / "explorers.ipynb"
UPDATE_MS = 15_000  # a click's round trip to the kernel and back, on a busy machine


def expected_log() -> list:
    """The container's log, built by the very code the fixture notebook runs."""
    setup = "".join(read_notebook(EXPLORERS)["cells"][1]["source"])
    namespace: dict = {}
    exec(setup, namespace)  # noqa: S102 - our own fixture cell
    return namespace["container"].log


def text_of(page, css: str) -> str:
    """The text a person sees in the element, scrolled into view (JupyterLab does not
    render off-screen cells, so their innerText is empty)."""
    element = page.locator(css).first
    element.scroll_into_view_if_needed()
    return element.inner_text()


def wait_for_text(page, css: str, pattern: str, *, present: bool = True) -> None:
    """Wait until the element's text matches (or no longer matches) the JavaScript regular
    expression `pattern`, applied line by line (flag m)."""
    page.locator(css).first.scroll_into_view_if_needed()
    page.wait_for_function(
        "([css, pattern, present]) => {"
        "  const node = document.querySelector(css);"
        "  return !!node && new RegExp(pattern, 'm').test(node.innerText) === present; }",
        arg=[css, pattern, present],
        timeout=UPDATE_MS,
    )


def click_as_a_person(locator, what: str, screenshots: Path) -> None:
    """A real mouse click: the element must be visible, enabled and on top. When something
    covers it, fail with what covers it (and a screenshot), as a learner would be stuck."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        locator.click(timeout=UPDATE_MS)
        return
    except PlaywrightTimeout as error:
        message = str(error)
    name = re.sub(r"\W+", "-", what).strip("-")
    locator.page.screenshot(path=str(screenshots / f"cannot-click-{name}.png"))
    covered = [line.strip() for line in message.splitlines() if "intercepts pointer" in line]
    reason = covered[-1] if covered else message.splitlines()[0]
    pytest.fail(f"a learner cannot click {what}: {reason}", pytrace=False)


def page_failures(watched) -> list[str]:
    snap = snapshot(watched.page)
    return (
        unrun_failures(snap)
        + error_failures(snap)
        + log_console_failures(snap)
        + console_failures(watched.log, watched.blocked)
        + picture_failures(snap, {})
    )


@pytest.fixture
def explorers_page(lab, lab_page_for):
    watched = lab_page_for(lab)
    open_notebook(watched.page, lab, "fixtures/explorers.ipynb")
    run_all_cells(watched.page, lab)
    watched.page.locator(".layerlab-stack-explorer").wait_for(state="attached")
    watched.page.locator(".layerlab-cow-player").wait_for(state="attached")
    failures = page_failures(watched)
    assert not failures, "the explorers did not come up cleanly:\n  " + "\n  ".join(failures)
    return watched


def test_stack_explorer_toggles_layers_and_shows_a_paths_history(explorers_page, screenshots):
    page = explorers_page.page
    explorer = ".layerlab-stack-explorer"
    merged = f"{explorer} .layerlab-merged-view"
    history = f"{explorer} .layerlab-path-history"

    # All layers on: the rw layer's new file is visible, the file it deleted is not.
    assert "/data/notes.txt" in text_of(page, merged)
    assert "/app/old.log" not in text_of(page, merged)

    # Click a path: its history lists a version from each layer that has one, top first.
    path_option = page.locator(
        f"{explorer} .layerlab-path-select option", has_text="/app/config.txt"
    )
    click_as_a_person(path_option, "the path /app/config.txt", screenshots)
    wait_for_text(page, history, r"/app/config\.txt: visible")
    rows = [line for line in text_of(page, history).splitlines() if line.strip()]
    owners = [line.split()[0] for line in rows if re.match(r"^(rw|L\d)\b", line.strip())]
    assert owners == ["rw", "L1", "L0"], rows
    assert "port=8080" in text_of(page, f"{explorer} .layerlab-path-diff")

    # Switch the rw layer off: the merged view is the image's own view again.
    rw_toggle = page.locator(f"{explorer} .layerlab-layer-toggle:has(span[title^='rw ']) input")
    click_as_a_person(rw_toggle, "the rw layer's checkbox", screenshots)
    assert not rw_toggle.is_checked()
    wait_for_text(page, merged, r"/app/old\.log")
    assert "/data/notes.txt" not in text_of(page, merged)
    # ... and the history of the selected path loses the rw version.
    wait_for_text(page, history, r"^\s*rw\b", present=False)

    screenshot_notebook(page, screenshots / "widget-stack-explorer.png")
    failures = page_failures(explorers_page)
    assert not failures, "after clicking:\n  " + "\n  ".join(failures)


def test_cow_player_slider_steps_through_the_log(explorers_page, screenshots):
    page = explorers_page.page
    player = ".layerlab-cow-player"
    command = f"{player} .layerlab-step-command"
    log = expected_log()
    assert len(log) >= 3, "the fixture container should have a few steps to play"

    assert "step 0" in text_of(page, command)
    handle = page.locator(f"{player} .layerlab-step-slider .noUi-handle")
    for step in log:
        handle.focus()
        page.keyboard.press("ArrowRight")
        shown = step.command.replace("\n", "\\n")  # the player shows a command on one line
        wait_for_text(page, command, rf"step {step.number}: " + re.escape(shown))
        copies = text_of(page, f"{player} .layerlab-step-copyups")
        for path in step.copied_up:
            assert path in copies, f"step {step.number}: {path} not shown as copied up"
        rw_paths = {path for path in step.rw.paths() if path != "/"}
        rw_text = text_of(page, f"{player} .layerlab-rw-layer")
        assert all(path in rw_text for path in rw_paths), (step.number, rw_paths, rw_text)

    screenshot_notebook(page, screenshots / "widget-cow-player.png")
    failures = page_failures(explorers_page)
    assert not failures, "after stepping:\n  " + "\n  ".join(failures)
