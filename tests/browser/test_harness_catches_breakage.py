"""The browser checks must be able to fail: a notebook broken on purpose, run for real.

tests/browser/fixtures/broken.ipynb breaks in every way the suite claims to notice: a
widget whose JavaScript model does not exist, a picture that lost a label its committed
output had, an empty SVG, a widget callback that raises, a picture fetched from outside the
machine, a cell that raises, and a cell that therefore never runs. Each must be reported.
If one of these expectations stops matching, the check behind it has gone blind.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from lab_checks import (
    error_failures,
    notebook_failures,
    picture_failures,
    read_notebook,
    tofu_failures,
)
from lab_page import (
    CHROMIUM_ARGS,
    glyph_report,
    open_notebook,
    run_all_cells,
    screenshot_notebook,
    snapshot,
)

pytestmark = pytest.mark.browser

BROKEN = Path(__file__).resolve().parent / "fixtures" / "broken.ipynb"

EXPECTED = {
    "a widget whose JavaScript failed": r"cell 1: a widget failed to display",
    "a widget missing from the page": r"cell 1: 1 widget\(s\) sent by the kernel but only 0",
    "the widget's JavaScript error": r"console error: .*NoSuchModel",
    "a picture that lost a label": r"cell 2: picture lacks the labels \['init'\]",
    "an empty picture": r"cell 3 \(img SVG\) is empty",
    "a traceback in a widget callback": r"log console has entries",
    "a request leaving the machine": r"request to outside the machine: http://example\.invalid/",
    "a traceback on the page": r"cell 6 shows a traceback: RuntimeError",
    "an error output": r"cell 6 raised RuntimeError: this cell fails",
    "a cell that never ran": r"cell 7 did not run",
}


def test_every_breakage_of_a_broken_notebook_is_reported(lab, lab_page_for, screenshots):
    watched = lab_page_for(lab)
    page = watched.page
    open_notebook(page, lab, "fixtures/broken.ipynb")
    run_all_cells(page, lab)
    page.locator("button.widget-button", has_text="explode").click()
    page.locator(".jp-LogConsoleStatusItem [title*='log entr']").wait_for(timeout=15_000)
    snap = snapshot(page)
    screenshot_notebook(page, screenshots / "harness-broken-notebook.png")

    stored = read_notebook(BROKEN)
    report = "\n".join(notebook_failures(snap, watched.log, watched.blocked, stored))
    missed = [what for what, pattern in EXPECTED.items() if not re.search(pattern, report)]
    assert not missed, f"the harness did not notice {missed}; it reported:\n{report}"


def test_a_cell_tagged_raises_exception_may_show_its_error():
    """nbval's `raises-exception` tag marks an error that is the lesson, not a failure."""
    snap = {
        "dom": [
            {
                "index": 0,
                "kind": "code",
                "prompt": "[1]:",
                "outputs": [
                    {
                        "mime": "application/vnd.jupyter.stderr",
                        "nested": False,
                        "text": "Traceback (most recent call last)\nValueError: bad",
                        "widget": False,
                        "widgetError": False,
                        "svgs": [],
                    }
                ],
            }
        ],
        "model": [
            {
                "type": "code",
                "source": "raise ValueError('bad')",
                "outputs": [
                    {"output_type": "error", "mimes": [], "ename": "ValueError", "evalue": "bad"}
                ],
            }
        ],
    }
    assert error_failures(snap, allowed={0}) == []
    assert len(error_failures(snap)) == 2


def test_picture_labels_may_change_their_measurements_but_not_their_words():
    """A cgroup picture's memory reading differs on every run; a lost layer name must not."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg"><g class="graph">'
        "<text>rw</text><text>140.0 KiB / 64.0 MiB</text><text>throttled in 5 of 6</text>"
        "</g></svg>"
    )
    snap = {
        "dom": [
            {
                "index": 3,
                "kind": "code",
                "prompt": "[1]:",
                "outputs": [{"svgs": [{"how": "img", "source": svg, "loaded": True}]}],
            }
        ]
    }
    stored = {3: [{"rw", "init", "136.0 KiB / 64.0 MiB", "throttled in 4 of 6"}]}
    assert picture_failures(snap, stored) == ["cell 3: picture lacks the labels ['init']"]


GOOD_GLYPHS = {
    "family": "Helvetica, sans-Serif",
    "chars": 3,
    "distinct": 3,
    "like_tofu": 0,
    "advance_em": 1.0,
    "drawn": [{"text": "合并视图", "cjk": 4, "em": 4.0}],
}


def test_chinese_drawn_with_glyphs_passes_the_tofu_check():
    assert tofu_failures(GOOD_GLYPHS) == []


@pytest.mark.parametrize(
    "change",
    [
        {"distinct": 1, "like_tofu": 3},  # one box shape for every character
        {"like_tofu": 1},  # a character drawn as the missing-glyph box
        {"advance_em": 0.6},  # boxes narrower than a CJK glyph
        {"drawn": [{"text": "合并视图", "cjk": 4, "em": 2.4}]},  # a picture's text in boxes
    ],
)
def test_tofu_is_reported(change):
    assert tofu_failures({**GOOD_GLYPHS, **change})


PICTURE_PAGE = (
    '<div class="jp-OutputArea"><svg xmlns="http://www.w3.org/2000/svg" width="400" '
    'height="60"><text x="10" y="30" font-family="Helvetica,sans-Serif" font-size="14.00">'
    "合并视图：容器看到的内容</text></svg></div>"
)


@pytest.mark.parametrize("fonts", ["installed", "without CJK"])
def test_a_browser_without_a_cjk_font_is_caught(browser, chromium, tmp_path, fonts):
    """The real measure in a real Chromium: with the machine's fonts Chinese passes; with
    fontconfig limited to DejaVu (no CJK glyphs) every kind of tofu is reported."""
    env = dict(os.environ)
    if fonts == "without CJK":
        dejavu = Path("/usr/share/fonts/truetype/dejavu")
        if not dejavu.is_dir():
            pytest.skip("needs DejaVu (fonts-dejavu-core) as the font without CJK glyphs")
        config = tmp_path / "fonts.conf"
        config.write_text(
            '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
            f"<dir>{dejavu}</dir><cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>"
        )
        env["FONTCONFIG_FILE"] = str(config)
    instance = browser.browser_type.launch(
        executable_path=chromium, headless=True, args=list(CHROMIUM_ARGS), env=env
    )
    try:
        page = instance.new_page()
        page.set_content(PICTURE_PAGE)
        failures = tofu_failures(glyph_report(page))
    finally:
        instance.close()
    if fonts == "installed":
        assert failures == []
    else:
        assert len(failures) == 3, failures
