"""The notebooks keep the exercise conventions, and their solutions version passes.

For every notebook with exercises: each exercise cell sits under its `### Exercise NN.k:`
heading and ships exactly the stub from `layerlab.exercises`, its committed output says
"not solved yet", and the notebook generated with the reference solutions filled in runs
top to bottom with every check answering ✓ (NOTEBOOKS.md, "Exercises").
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from layerlab.exercises import exercises_of
from layerlab.exercises.solutions import (
    cell_source,
    exercise_cells,
    solutions_notebook,
    stub_drift,
)

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _has_exercises(path: Path) -> bool:
    number = path.name[:2]
    module = importlib.util.find_spec(f"layerlab.exercises.ex{number}")
    return module is not None or bool(exercise_cells(json.loads(path.read_text())))


COURSE = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb") if _has_exercises(p))


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def output_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(cell_source({"source": output["text"]}))
        elif "data" in output:
            parts.append(cell_source({"source": output["data"].get("text/plain", "")}))
        elif output.get("output_type") == "error":
            parts.append(f"ERROR {output['ename']}: {output['evalue']}")
    return "".join(parts)


@pytest.fixture(params=COURSE, ids=lambda p: p.name[:2])
def notebook(request) -> tuple[Path, dict]:
    return request.param, load(request.param)


def test_the_course_has_notebooks_with_exercises():
    assert {p.name[:2] for p in COURSE} == {"00", "01", "02", "03", "04", "05", "06", "07", "08"}


def test_each_exercise_cell_ships_its_stub_and_every_exercise_has_a_cell(notebook):
    path, nb = notebook
    ids = [eid for _, eid in exercise_cells(nb)]
    assert stub_drift(nb) == [], "edit the stub in layerlab/exercises/exNN.py, not only the cell"
    assert ids == [e.id for e in exercises_of(path.name[:2])]
    assert len(ids) >= (1 if path.name.startswith("00") else 2)


def test_each_exercise_sits_under_its_own_heading(notebook):
    _, nb = notebook
    cells = nb["cells"]
    previous = -1
    for index, exercise_id in exercise_cells(nb):
        between = "\n".join(
            cell_source(c) for c in cells[previous + 1 : index] if c["cell_type"] == "markdown"
        )
        assert re.search(rf"^### Exercise {re.escape(exercise_id)}: \S", between, re.M), (
            f"no '### Exercise {exercise_id}: ...' heading before its cell"
        )
        previous = index


def test_the_notebook_closes_with_understanding_and_further_reading(notebook):
    _, nb = notebook
    markdown = "\n".join(cell_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert re.search(r"^## Check your understanding", markdown, re.M)
    assert re.search(r"^## Going further", markdown, re.M)


def test_as_shipped_every_check_says_not_solved_yet(notebook):
    _, nb = notebook
    for index, exercise_id in exercise_cells(nb):
        text = output_text(nb["cells"][index])
        assert text.startswith(f"· Exercise {exercise_id} "), text
        assert "not solved yet" in text


def test_the_solutions_notebook_runs_and_every_check_passes(notebook):
    from nbclient import NotebookClient
    from nbformat import reads

    path, nb = notebook
    solved = reads(json.dumps(solutions_notebook(nb)), as_version=4)
    client = NotebookClient(
        solved,
        kernel_name="python3",
        timeout=120,
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    for index, exercise_id in exercise_cells(nb):
        text = output_text(solved["cells"][index])
        assert text.startswith(f"✓ Exercise {exercise_id} "), text
