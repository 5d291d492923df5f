"""The solutions version of a notebook, generated from the notebook itself.

The learner's notebook is the one source. Each exercise cell carries its id in the cell
metadata (`{"tags": ["exercise"], "layerlab": {"exercise": "05.1"}}`); this module swaps
every such cell for the exercise's reference solution, so the tests can run the result and
insist that every check passes, as nbgrader and the Neuromatch courses do.

    python -m layerlab.exercises.solutions notebooks/05-whiteouts-and-copy-on-write.ipynb \\
        -o /tmp/05-solutions.ipynb
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from .framework import get

__all__ = ["exercise_cells", "cell_source", "stub_drift", "solutions_notebook", "main"]


def cell_source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (notebooks store it as a list of lines or a string)."""
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def exercise_cells(notebook: dict[str, Any]) -> list[tuple[int, str]]:
    """(cell index, exercise id) of every cell tagged as an exercise, in notebook order."""
    found = []
    for index, cell in enumerate(notebook.get("cells", [])):
        meta = cell.get("metadata", {})
        if "exercise" in meta.get("tags", []):
            exercise_id = meta.get("layerlab", {}).get("exercise")
            if not exercise_id:
                raise ValueError(
                    f"cell {index} is tagged 'exercise' but names no exercise id "
                    "in metadata.layerlab.exercise"
                )
            found.append((index, exercise_id))
    return found


def stub_drift(notebook: dict[str, Any]) -> list[str]:
    """Ids of exercise cells whose code differs from the stub in `layerlab.exercises`."""
    cells = notebook.get("cells", [])
    return [
        eid
        for index, eid in exercise_cells(notebook)
        if cell_source(cells[index]).strip("\n") != get(eid).stub
    ]


def solutions_notebook(notebook: dict[str, Any]) -> dict[str, Any]:
    """A copy of `notebook` with every exercise cell replaced by its reference solution
    and all outputs cleared, ready to be executed."""
    result = copy.deepcopy(notebook)
    solutions = dict(exercise_cells(result))
    for index, cell in enumerate(result["cells"]):
        if cell.get("cell_type") != "code":
            continue
        if index in solutions:
            cell["source"] = get(solutions[index]).solution
        cell["outputs"] = []
        cell["execution_count"] = None
    return result


def _write_atomically(path: Path, notebook: dict[str, Any]) -> None:
    """Write next to `path`, then rename: a reader never sees half a notebook."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(notebook, handle, indent=1, ensure_ascii=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    """Command line: write the solutions version of one notebook."""
    parser = argparse.ArgumentParser(
        prog="python -m layerlab.exercises.solutions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("notebook", type=Path)
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="where to write the solutions notebook"
    )
    args = parser.parse_args(argv)
    try:
        notebook = json.loads(args.notebook.read_text(encoding="utf-8"))
        if args.output.resolve() == args.notebook.resolve():
            raise ValueError(
                "the output would overwrite the learner's notebook; choose another path"
            )
        _write_atomically(args.output, solutions_notebook(notebook))
    except (OSError, ValueError, LookupError) as exc:
        print(f"layerlab: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
