"""The Chinese edition (notebooks/zh/) cannot drift from the English notebooks.

Code has one source of truth: a zh code cell equals its English cell, the first one with the
language line on top. The cells are the same, in the same order, with the same ids and types,
so a markdown cell added or removed in English, or a section moved, fails here. A translated
markdown cell records the sha256 of the English text it translates; when English changes, the
cell is stale and fails with its id. `python -m layerlab.course --sync-zh` repairs the code and
lists the cells to translate again (docs/translating.md).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from layerlab.course import (
    ZH_LANGUAGE_LINE,
    drift,
    en_sha256,
    header_cell_index,
    header_markdown,
    outline,
    skip_optional,
    sync_zh,
    with_header,
    zh_path,
)
from layerlab.exercises.solutions import exercise_cells

ROOT = Path(__file__).resolve().parents[2]
ENGLISH = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
ZH_DIR = ROOT / "notebooks" / "zh"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def cell(kind: str, cell_id: str, text: str, **metadata) -> dict:
    made = {"cell_type": kind, "id": cell_id, "metadata": metadata, "source": text}
    if kind == "code":
        made.update(execution_count=None, outputs=[])
    return made


ENGLISH_SAMPLE = {
    "cells": [
        cell("markdown", "t", "# 99 · Sample"),
        cell("code", "a", "x = 1"),
        cell("markdown", "s1", "## 1. Layers\n\nA layer is a tar file."),
        cell("code", "b", "print(x)"),
        cell("markdown", "s2", "## 2. Side trip (optional)\n\nMore."),
        cell("code", "c", "print(2)"),
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def translated(english: dict) -> dict:
    """A well-kept zh notebook of `english`: markdown 'translated', code synced."""
    chinese = sync_zh(english, None)
    for zh_cell, en_cell in zip(chinese["cells"], english["cells"], strict=True):
        if zh_cell["cell_type"] == "markdown":
            zh_cell["source"] = (
                source(en_cell).replace("Layers", "层").replace("(optional)", "（可选）")
            )
            zh_cell["metadata"]["layerlab"] = {"en_sha256": en_sha256(en_cell)}
    return chinese


# --- the checks themselves can fail: one sample notebook, each kind of drift -------------


def test_a_kept_translation_is_in_step():
    chinese = translated(ENGLISH_SAMPLE)
    assert source(chinese["cells"][1]) == ZH_LANGUAGE_LINE + "x = 1"
    assert source(chinese["cells"][3]) == "print(x)"
    assert drift(ENGLISH_SAMPLE, chinese) == []
    assert sync_zh(ENGLISH_SAMPLE, chinese) == chinese


def test_changed_english_code_is_drift_and_sync_repairs_it():
    chinese = translated(ENGLISH_SAMPLE)
    english = copy.deepcopy(ENGLISH_SAMPLE)
    english["cells"][3]["source"] = "print(x + 1)"
    assert drift(english, chinese) == ["code cell `b` differs from English"]
    synced = sync_zh(english, chinese)
    assert drift(english, synced) == []
    assert source(synced["cells"][3]) == "print(x + 1)"


def test_a_missing_language_line_is_drift():
    chinese = translated(ENGLISH_SAMPLE)
    chinese["cells"][1]["source"] = "x = 1"
    assert drift(ENGLISH_SAMPLE, chinese) == [
        "code cell `a` differs from English (or lacks the language line)"
    ]


def test_a_markdown_cell_added_in_english_is_drift_until_translated():
    chinese = translated(ENGLISH_SAMPLE)
    english = copy.deepcopy(ENGLISH_SAMPLE)
    english["cells"].insert(3, cell("markdown", "new", "A new paragraph."))
    problems = drift(english, chinese)
    assert problems and "cell 4 is code `b` in Chinese but markdown `new` in English" in problems[0]
    synced = sync_zh(english, chinese)
    assert drift(english, synced) == ["markdown cell `new` is not translated yet (no en_sha256)"]


def test_a_markdown_cell_removed_in_english_is_drift():
    chinese = translated(ENGLISH_SAMPLE)
    english = copy.deepcopy(ENGLISH_SAMPLE)
    del english["cells"][4:]
    assert "Chinese has 2 more cell(s), from `s2`" in drift(english, chinese)[0]
    assert drift(english, sync_zh(english, chinese)) == []


def test_a_moved_section_is_drift():
    chinese = translated(ENGLISH_SAMPLE)
    english = copy.deepcopy(ENGLISH_SAMPLE)
    english["cells"] = english["cells"][:2] + english["cells"][4:] + english["cells"][2:4]
    assert drift(english, chinese)[0].startswith("cells differ in order, id or type")
    synced = sync_zh(english, chinese)
    assert [c["id"] for c in synced["cells"]] == [c["id"] for c in english["cells"]]
    assert drift(english, synced) == []


def test_a_stale_translation_fails_naming_its_cell():
    chinese = translated(ENGLISH_SAMPLE)
    english = copy.deepcopy(ENGLISH_SAMPLE)
    english["cells"][2]["source"] = "## 1. Layers\n\nA layer is a tar archive."
    assert drift(english, chinese) == [
        "markdown cell `s1` is stale: its English text changed since it was translated"
    ]
    # sync keeps the old translation (a translator's starting point) and still lists it
    assert drift(english, sync_zh(english, chinese)) == drift(english, chinese)


def test_the_course_reads_chinese_headings():
    chinese = translated(ENGLISH_SAMPLE)
    plan = outline(chinese)
    assert [(s.number, s.optional) for s in plan.sections] == [("1", False), ("2", True)]
    assert [c["id"] for c in skip_optional(chinese)["cells"]] == ["t", "a", "s1", "b"]
    header = with_header(chinese, "99", "zh")
    index = header_cell_index(header)
    assert source(header["cells"][index]).startswith("**计划：** 约 **")
    assert "§2" in source(header["cells"][index]) and "（可选）" in source(header["cells"][index])
    assert with_header(header, "99", "zh") == header


# --- the committed Chinese edition ---------------------------------------------------------

needs_zh = pytest.mark.skipif(
    not ZH_DIR.is_dir(), reason="notebooks/zh/ is not in this checkout yet (issue 15)"
)


@pytest.fixture(params=ENGLISH, ids=lambda p: p.name[:2])
def pair(request) -> tuple[dict, dict, Path]:
    target = zh_path(request.param)
    assert target.exists(), (
        f"{target.relative_to(ROOT)} is missing: run `python -m layerlab.course --sync-zh` "
        "and translate the cells it lists"
    )
    return load(request.param), load(target), target


@needs_zh
def test_no_zh_notebook_without_an_english_one():
    orphans = {p.name for p in ZH_DIR.glob("*.ipynb")} - {p.name for p in ENGLISH}
    assert not orphans, f"zh notebooks without an English original: {sorted(orphans)}"


@needs_zh
def test_the_zh_notebook_is_in_step_with_english(pair):
    english, chinese, target = pair
    problems = drift(english, chinese)
    assert not problems, (
        f"{target.relative_to(ROOT)} lags behind English; run "
        "`python -m layerlab.course --sync-zh`, then translate:\n" + "\n".join(problems)
    )


@needs_zh
def test_the_zh_header_is_chinese_and_current(pair):
    _, chinese, target = pair
    index = header_cell_index(chinese)
    assert index is not None and source(chinese["cells"][index]).startswith("**计划：**")
    assert source(chinese["cells"][index]) == header_markdown(outline(chinese), "zh"), (
        f"{target.name}: run `python -m layerlab.course --update-headers`"
    )


@needs_zh
def test_zh_sections_and_exercises_match_english(pair):
    english, chinese, _ = pair
    en_plan, zh_plan = outline(english), outline(chinese)
    assert [(s.number, s.optional) for s in zh_plan.sections] == [
        (s.number, s.optional) for s in en_plan.sections
    ]
    assert zh_plan.exercises == en_plan.exercises
    assert [c["id"] for c in skip_optional(chinese)["cells"]] == [
        c["id"] for c in skip_optional(english)["cells"]
    ]


@needs_zh
def test_zh_headings_follow_the_conventions(pair):
    english, chinese, target = pair
    cells = chinese["cells"]
    previous = -1
    for index, exercise_id in exercise_cells(chinese):
        between = "\n".join(
            source(c) for c in cells[previous + 1 : index] if c["cell_type"] == "markdown"
        )
        assert re.search(rf"^### 练习 {re.escape(exercise_id)}：\S", between, re.M), (
            f"{target.name}: no '### 练习 {exercise_id}：...' heading before its cell"
        )
        previous = index
    markdown = "\n".join(source(c) for c in cells if c["cell_type"] == "markdown")
    english_markdown = "\n".join(
        source(c) for c in english["cells"] if c["cell_type"] == "markdown"
    )
    for en_heading, zh_heading in [
        ("## Check your understanding", "## 检查你的理解"),
        ("## Going further", "## 延伸阅读"),
        ("## Sources", "## 参考资料"),
    ]:
        if re.search(rf"^{en_heading}\s*$", english_markdown, re.M):
            assert re.search(rf"^{zh_heading}\s*$", markdown, re.M), f"{target.name}: {zh_heading}"


def test_sync_zh_creates_then_keeps_a_zh_notebook(tmp_path, monkeypatch, capsys):
    """The maintainer's command: a missing zh notebook is created with every prose cell
    listed; a second run changes nothing; a translated cell is kept and stops being listed."""
    import nbformat

    from layerlab.course import main

    (tmp_path / "notebooks").mkdir()
    english = tmp_path / "notebooks" / "99-sample.ipynb"
    nbformat.write(nbformat.from_dict(copy.deepcopy(ENGLISH_SAMPLE)), english)
    monkeypatch.chdir(tmp_path)

    assert main(["--sync-zh", "notebooks/99-sample.ipynb"]) == 0
    first = capsys.readouterr().out
    target = tmp_path / "notebooks" / "zh" / "99-sample.ipynb"
    assert "created notebooks/zh/99-sample.ipynb" in first
    assert "3 markdown cell(s) to translate" in first  # the title and two sections
    created = target.read_bytes()

    assert main(["--sync-zh", "notebooks/99-sample.ipynb"]) == 0
    assert "updated" not in capsys.readouterr().out and target.read_bytes() == created

    chinese = load(target)
    cell = next(c for c in chinese["cells"] if c["id"] == "s1")
    cell["source"] = "## 1. 层\n\n层就是一个 tar 包。"
    cell["metadata"]["layerlab"] = {"en_sha256": en_sha256(ENGLISH_SAMPLE["cells"][2])}
    nbformat.write(nbformat.from_dict(chinese), target)
    assert main(["--sync-zh", "notebooks/99-sample.ipynb"]) == 0
    out = capsys.readouterr().out
    assert "2 markdown cell(s) to translate" in out and "`s1`" not in out
    assert "层就是一个 tar 包" in target.read_text(encoding="utf-8")


@needs_zh
def test_every_zh_section_keeps_its_slide_question_in_chinese(pair):
    english, chinese, target = pair
    en_cells = {c["id"]: c for c in english["cells"]}
    for section in outline(chinese).sections:
        cell = chinese["cells"][section.first_cell]
        question = cell.get("metadata", {}).get("layerlab", {}).get("question", "")
        wanted = en_cells[cell["id"]].get("metadata", {}).get("layerlab", {}).get("question")
        if wanted:
            assert re.search(r"[\u4e00-\u9fff]", question) and question.endswith("？"), (
                f"{target.name} {section.title}: slide question {question!r}"
            )
