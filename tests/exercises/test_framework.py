"""The exercise machinery: stable verdict text, lookups, reveal, and the solutions notebook."""

from __future__ import annotations

import json

import pytest

from layerlab.exercises import Exercise, NotSolved, Wrong, check, get, register, reveal
from layerlab.exercises.solutions import main, solutions_notebook, stub_drift


def judge_even(answer):
    if answer is Ellipsis:
        raise NotSolved()
    if answer % 2:
        raise Wrong("odd", f"{answer} is odd")
    return f"{answer} is even"


EVEN = Exercise(
    "99.1",
    "an even number",
    "answer = ...\ncheck('99.1', answer)",
    "answer = 2\ncheck('99.1', answer)",
    judge_even,
)
register(EVEN)


def test_verdicts_print_as_stable_text_with_a_mark_and_a_hint():
    assert str(check("99.1", 4)) == "✓ Exercise 99.1 (an even number): solved.\n  4 is even"
    assert str(check("99.1", 3)) == "✗ Exercise 99.1 (an even number): not yet.\n  Hint: 3 is odd"
    unsolved = check("99.1", ...)
    assert str(unsolved).startswith("· Exercise 99.1 (an even number): not solved yet.")
    assert "reveal('99.1')" in str(unsolved)
    assert repr(unsolved) == str(unsolved)  # what a notebook cell shows, no address


def test_a_verdict_is_truthy_only_when_solved():
    assert check("99.1", 2) and not check("99.1", 1) and not check("99.1", ...)


def test_reveal_shows_the_reference_cell():
    assert str(reveal("99.1")).endswith("answer = 2\ncheck('99.1', answer)")


def test_an_unknown_id_says_what_to_type():
    with pytest.raises(LookupError, match="use the id from the exercise's heading"):
        check("42.7", 1)


def test_ids_load_their_notebook_module_on_first_use():
    assert get("05.1").id == "05.1"


def test_the_same_id_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="defined twice"):
        register(Exercise("99.1", "again", "", "", judge_even))


def test_passing_the_result_instead_of_the_function_is_a_hint_not_a_crash():
    verdict = check("05.1", None)
    assert verdict.reason == "not-a-function"
    assert "pass the function itself" in verdict.message


def notebook(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def exercise_cell(exercise_id, source):
    return {
        "cell_type": "code",
        "id": "x",
        "execution_count": 3,
        "source": source,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "old"}],
        "metadata": {"tags": ["exercise"], "layerlab": {"exercise": exercise_id}},
    }


def test_the_solutions_notebook_swaps_exercise_cells_and_clears_outputs():
    stub = get("05.1").stub
    learner = notebook(
        {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# hi"},
        exercise_cell("05.1", stub.splitlines(keepends=True)),
    )
    assert stub_drift(learner) == []
    solved = solutions_notebook(learner)
    cell = solved["cells"][1]
    assert cell["source"] == get("05.1").solution
    assert cell["outputs"] == [] and cell["execution_count"] is None
    assert learner["cells"][1]["source"] != cell["source"]  # the learner's copy is untouched


def test_a_cell_edited_away_from_its_stub_is_reported():
    assert stub_drift(notebook(exercise_cell("05.1", "print('mine')"))) == ["05.1"]


def test_an_exercise_tag_without_an_id_is_refused():
    cell = exercise_cell("05.1", "")
    del cell["metadata"]["layerlab"]
    with pytest.raises(ValueError, match="names no exercise id"):
        solutions_notebook(notebook(cell))


def test_the_command_line_writes_a_solutions_notebook(tmp_path, capsys):
    source = tmp_path / "05.ipynb"
    source.write_text(json.dumps(notebook(exercise_cell("05.1", get("05.1").stub))))
    target = tmp_path / "05-solutions.ipynb"
    assert main([str(source), "-o", str(target)]) == 0
    assert json.loads(target.read_text())["cells"][0]["source"] == get("05.1").solution
    assert main([str(source), "-o", str(source)]) == 1
    assert capsys.readouterr().err.startswith("layerlab: error: the output would overwrite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["05-solutions.ipynb", "05.ipynb"]
