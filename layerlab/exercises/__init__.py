"""Exercises that check themselves: `check("05.1", solve)` and `reveal("05.1")`.

Each notebook NN has a module `exNN.py` here holding its exercises. An exercise is an
`Exercise(id, title, stub, solution, checker)`:

* `id` is "NN.k", the number in the notebook heading `### Exercise NN.k: <title>`;
* `stub` is the code cell exactly as the notebook ships it; it must run without error
  and end with `check("NN.k", <answer>)`, which then says "not solved yet";
* `solution` is the reference cell: same shape, with the answer filled in. It imports
  what it uses, so it also runs on its own;
* `checker(answer) -> str` judges the *outcome* of the answer on fresh model objects.
  It returns a sentence on success, raises `Wrong(reason, hint)` for a recognised
  misconception (the hint speaks to that misconception), or `NotSolved` when the answer
  did nothing yet. Call the learner's function through `attempt(...)`, which turns a stub
  into `NotSolved` and any crash into a readable ✗.

How to add one (say 02.3):

1. In `layerlab/exercises/ex02.py` write the checker, the stub and the solution, build
   `Exercise("02.3", ...)` and pass it to `register(...)` at the bottom of the module.
2. In the notebook, add a markdown heading `### Exercise 02.3: <title>` and, right
   after it, a code cell whose source is exactly the stub, with cell metadata
   `{"tags": ["exercise"], "layerlab": {"exercise": "02.3"}}`.
3. In `tests/exercises/test_ex02.py`, list at least two realistic wrong answers per
   exercise, each with the `reason` its hint must carry, and use the `contract` fixture
   (see test_ex05.py): it checks that the stub is "not solved yet", that each wrong answer
   gets its own hint, and that the reference solution passes. `test_notebooks.py` then
   checks that the cell matches the stub, sits under its heading, and that the solutions
   notebook (`python -m layerlab.exercises.solutions NB -o OUT`) passes every check.

Number exercises in the order the notebook asks them. Ask the checker's questions
of fresh objects (`images.ubuntu_image()` builds a new image per call), so a learner's
mistake in one attempt cannot leak into the next; `judging.py` has the questions most
checkers ask (was the image edited, what is visible, which names would a commit hold).
"""

from __future__ import annotations

from .framework import (
    Exercise,
    NotSolved,
    Result,
    Wrong,
    attempt,
    check,
    every_exercise,
    exercises_of,
    get,
    register,
    reveal,
)

__all__ = [
    "Exercise",
    "NotSolved",
    "Result",
    "Wrong",
    "attempt",
    "check",
    "every_exercise",
    "exercises_of",
    "get",
    "register",
    "reveal",
]
