"""`layerlab.progress()`: the learner's record of solved exercises, and why it never breaks
a notebook (missing, corrupt or unwritable record)."""

from __future__ import annotations

import json

import pytest

import layerlab
from layerlab.exercises import check, get, progress
from layerlab.exercises.progress import progress_path


def run_cell(source: str):
    """Run an exercise cell as the notebook does, with the remembering `check`."""
    verdicts = []
    exec(source, {"check": lambda eid, answer: verdicts.append(check(eid, answer))})
    return verdicts[0]


@pytest.fixture
def record(tmp_path, monkeypatch):
    path = tmp_path / "data" / "progress.json"
    monkeypatch.setenv("LAYERLAB_PROGRESS", str(path))
    return path


def solve(exercise_id: str):
    return run_cell(get(exercise_id).solution)


def test_no_record_yet_means_nothing_solved_and_nothing_written(record):
    report = progress()
    assert report.done == 0 and report.total >= 20
    assert str(report).startswith(f"Solved 0 of {report.total} exercises.")
    assert not record.exists()


def test_a_solve_is_remembered_and_shown_under_its_notebook(record):
    assert solve("05.1").ok
    assert json.loads(record.read_text())["solved"] == ["05.1"]
    report = layerlab.progress()
    assert report.done == 1 and "05.1" in report.solved
    line = next(x for x in str(report).splitlines() if x.strip().startswith("05 "))
    assert "✓ 05.1" in line and "· 05.2" in line


def test_stubs_and_wrong_answers_are_not_solves(record):
    assert run_cell(get("05.1").stub).status == "unsolved"
    assert check("00.1", lambda container: None).status != "solved"
    assert progress().done == 0


@pytest.mark.parametrize(
    "content",
    ["", "{not json", "[]", '{"solved": "05.1"}', '{"solved": [1, null]}', "\udcff"],
    ids=["empty", "garbage", "a-list", "a-string", "not-ids", "undecodable"],
)
def test_a_corrupt_record_reads_as_empty_and_the_next_solve_repairs_it(record, content):
    record.parent.mkdir(parents=True)
    record.write_bytes(content.encode("utf-8", "surrogateescape"))
    assert progress().done == 0
    assert solve("04.1").ok
    assert json.loads(record.read_text())["solved"] == ["04.1"]


def test_an_unwritable_place_never_breaks_check(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("LAYERLAB_PROGRESS", str(blocker / "progress.json"))
    verdict = solve("05.1")
    assert verdict.ok and "solved" in str(verdict)
    assert progress().done == 0


def test_writes_leave_no_temp_files_behind(record):
    for exercise_id in ("05.1", "04.1", "05.1"):
        solve(exercise_id)
    assert sorted(p.name for p in record.parent.iterdir()) == ["progress.json"]
    assert json.loads(record.read_text())["solved"] == ["04.1", "05.1"]


def test_without_an_override_the_record_lives_in_the_xdg_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("LAYERLAB_PROGRESS", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert progress_path() == tmp_path / "layerlab" / "progress.json"
