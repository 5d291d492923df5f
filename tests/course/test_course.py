"""The instructor's view of the course stays true to the notebooks: every header states
what the notebook really holds, every section is a slide with a question, optional
sections are really skippable, and the guide's schedule adds up."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from layerlab.course import (
    HEADER_MARK,
    MINUTES_PER_CELL,
    MINUTES_PER_EXERCISE,
    WORDS_PER_MINUTE,
    header_cell_index,
    header_markdown,
    outline,
    skip_optional,
    with_header,
)
from layerlab.live.kernel.probe import Capability, ProbeReport
from layerlab.live.machine import LABS, here

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def source(cell: dict) -> str:
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name[:2])
def notebook(request) -> tuple[str, dict]:
    return request.param.name[:2], json.loads(request.param.read_text(encoding="utf-8"))


def cell(kind: str, text: str, **metadata) -> dict:
    made = {"cell_type": kind, "metadata": metadata, "source": text}
    if kind == "code":
        made.update(outputs=[], execution_count=None)
    return made


SAMPLE = {
    "cells": [
        cell("markdown", "# 99 · Sample\n\n" + "word " * 118),
        cell("markdown", "## 1. Core part\n\n" + "word " * 237),
        cell("code", "x = 1"),
        cell("code", "check('99.1', x)", tags=["exercise"], layerlab={"exercise": "99.1"}),
        cell("markdown", "## 2. Side trip (optional)\n\n" + "word " * 116),
        cell("code", "y = x"),
        cell("code", "check('99.2', y)", tags=["exercise"], layerlab={"exercise": "99.2"}),
        cell("markdown", "## Check your understanding\n\n1. Why?"),
    ]
}


def test_the_estimate_is_the_documented_rule():
    plan = outline(SAMPLE)
    words = (4 + 118) + (4 + 237) + (5 + 116) + 6  # headings count as words too
    assert plan.estimate.reading == pytest.approx(words / WORDS_PER_MINUTE)
    assert plan.estimate.running == 2 * MINUTES_PER_CELL
    assert plan.estimate.exercises == 2 * MINUTES_PER_EXERCISE
    raw = words / WORDS_PER_MINUTE + 2 * MINUTES_PER_CELL + 2 * MINUTES_PER_EXERCISE
    assert plan.estimate.total % 5 == 0 and raw <= plan.estimate.total < raw + 5
    assert plan.exercises == ("99.1", "99.2") and plan.core_exercises == ("99.1",)
    assert [s.number for s in plan.core] == ["1"] and [s.number for s in plan.optional] == ["2"]


def test_skipping_optional_sections_keeps_everything_else_in_order():
    short = skip_optional(SAMPLE)["cells"]
    assert [source(c).split("\n")[0] for c in short if c["cell_type"] == "markdown"] == [
        "# 99 · Sample",
        "## 1. Core part",
        "## Check your understanding",
    ]
    assert [source(c) for c in short if c["cell_type"] == "code"] == ["x = 1", "check('99.1', x)"]


def test_a_header_is_inserted_once_and_settles():
    first = with_header(SAMPLE, "99")
    assert header_cell_index(first) == 1
    assert source(first["cells"][2]) == 'from layerlab import here\n\nhere("99")'
    assert with_header(first, "99") == first
    assert "§2" in source(first["cells"][1]) and "(optional)" in source(first["cells"][1])


def test_each_notebook_opens_with_its_true_header(notebook):
    number, nb = notebook
    index = header_cell_index(nb)
    assert index == 1, "run: python -m layerlab.course --update-headers"
    assert source(nb["cells"][index]) == header_markdown(outline(nb)), (
        "the header no longer matches the notebook; run: "
        "python -m layerlab.course --update-headers, then make notebooks"
    )
    assert source(nb["cells"][index + 1]).strip().endswith(f'here("{number}")')


def test_optional_marks_sit_only_on_numbered_sections(notebook):
    _, nb = notebook
    for section in outline(nb).sections:
        if section.optional:
            assert section.number, f"only numbered sections can be optional: {section.title}"


def test_every_section_is_a_slide_with_a_question(notebook):
    _, nb = notebook
    cells = nb["cells"]
    assert cells[0]["metadata"].get("slideshow", {}).get("slide_type") == "slide"
    for section in outline(nb).sections:
        meta = cells[section.first_cell]["metadata"]
        if not section.number:
            continue
        assert meta.get("slideshow", {}).get("slide_type") == "slide", section.title
        question = meta.get("layerlab", {}).get("question", "")
        assert question.endswith("?") and len(question) > 20, section.title


def test_each_notebook_with_a_picture_puts_one_in_its_deck(notebook):
    _, nb = notebook
    pictures = [
        c
        for c in nb["cells"]
        if c["cell_type"] == "code"
        and any("image/svg+xml" in o.get("data", {}) for o in c.get("outputs", []))
    ]
    tagged = [c for c in pictures if c["metadata"].get("slideshow", {}).get("slide_type")]
    assert bool(tagged) == bool(pictures)


def fake_report(available: set[str]) -> ProbeReport:
    names = {n for _, needs in LABS for need in needs for n in need.split("|")}
    return ProbeReport({n: Capability(n in available, "test") for n in sorted(names)})


def test_here_splits_a_notebooks_labs_by_what_the_probe_allows():
    rootless = fake_report({"user_namespaces", "uts_namespace", "mount_namespace"})
    line = str(here("03", rootless))
    assert line.startswith("On this machine: live: chroot and its escape;")
    assert "simulated (labelled): pivot_root closing the escape." in line
    nothing = str(here("04", fake_report(set())))
    assert nothing == (
        "On this machine: no lab here needs the kernel; every cell runs the same anywhere."
    )


def test_the_sanitizer_hides_only_the_machine_dependent_header_line():
    config = (ROOT / "notebooks" / "nbval-sanitize.cfg").read_text()
    rule = re.search(r"\[header-here\]\n(?:#.*\n)*regex: (.*)\nreplace: (.*)", config)
    assert rule
    pattern = re.compile(rule[1])
    live = str(here("03", fake_report({"mount_namespace", "pivot_root"})))
    assert pattern.sub(rule[2], live) == pattern.sub(rule[2], str(here("03", fake_report(set()))))
    fixed = str(here("04", fake_report(set())))
    assert pattern.sub(rule[2], fixed) == fixed


def test_the_guides_schedule_matches_the_notebooks():
    guide = (ROOT / "docs" / "instructors.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        plan = outline(path)
        row = re.search(rf"^\| `{plan.number}` .*$", guide, re.M)
        assert row, f"docs/instructors.md has no row for notebook {plan.number}"
        minutes = f"| {plan.estimate.total} | {plan.core_estimate.total} |"
        assert minutes in row[0], f"run: python -m layerlab.course --update-headers ({row[0]})"
    assert HEADER_MARK.strip("*:") in guide


def test_the_misconception_table_is_in_step_with_the_checkers():
    script = ROOT / "tests" / "support" / "misconceptions"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    table = (ROOT / "docs" / "misconceptions.md").read_text(encoding="utf-8")
    assert "(see the hint)" not in table, "every mutant in WRONG needs its one line of why"
