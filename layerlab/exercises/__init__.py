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
  into `NotSolved` and any crash into a readable ✗ naming the exception and its line
  (`returns=True` when a value is wanted: printing it instead gets its own hint).

The checker contract (tests/exercises/test_contract.py holds every registered exercise to
it): a check never crashes, whatever the answer is or raises; it accepts every correct form
(read answers through `judging.as_items`, `as_int`, `as_text`: lists, tuples, sets and
generators read once, str or PurePosixPath, any integral type, stray whitespace); it judges
the whole outcome, not only the asked path (`judging.require_no_collateral`); and it runs
hand-picked adversarial cases plus seeded generated ones, compared with a model.

How to add one (say 02.3):

1. In `layerlab/exercises/ex02.py` write the checker, the stub and the solution, build
   `Exercise("02.3", ...)` and pass it to `register(...)` at the bottom of the module.
2. In the notebook, add a markdown heading `### Exercise 02.3: <title>` and, right
   after it, a code cell whose source is exactly the stub, with cell metadata
   `{"tags": ["exercise"], "layerlab": {"exercise": "02.3"}}`.
3. In `tests/exercises/test_ex02.py`, list at least five mutants of the reference
   solution per exercise in `WRONG`, each a plausible misconception with one line saying
   why, keyed by the `reason` of the hint it must get (one hint per mutant), and at least
   two differently written right answers in `RIGHT`; bind the tests of
   `exercise_contract.contract_tests("02", WRONG, RIGHT)` (see test_ex05.py): stub "not
   solved yet", each mutant its own hint, every right answer and the reference accepted.
   `test_notebooks.py` then checks that the cell matches the stub, sits under its
   heading, and that the solutions notebook
   (`python -m layerlab.exercises.solutions NB -o OUT`) passes every check.
4. Write every sentence a learner reads in English inside `_()` (from `layerlab.i18n`),
   with named fields, `_("{path} is gone").format(path=...)`, never an f-string; a table
   built at import marks its sentences with `N_()` and passes them through `_()` where
   it shows them, so that `set_language("zh")` in a notebook's first cell still applies.
   Then translate them in layerlab/locale/zh/LC_MESSAGES/exercises.po and compile it
   into exercises.mo, with Babel:

       pybabel extract -k _ -k N_ -k ngettext:1,2 --no-location \\
           -o /tmp/exercises.pot layerlab/exercises
       pybabel update -D exercises -d layerlab/locale -l zh -i /tmp/exercises.pot
       # fill in each empty or "fuzzy" msgstr, keeping every {field}; then:
       pybabel compile -D exercises -d layerlab/locale

   `tests/exercises/test_translations.py` fails while a message lacks its translation,
   while the .mo lags behind the .po, or while a hint of a mutant comes out in English.

Number exercises in the order the notebook asks them. Ask the checker's questions
of fresh objects (`samples.ubuntu_image()` builds a new image per call), so a learner's
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
    every_exercise,
    exercises_of,
    get,
    register,
    reveal,
)
from .progress import check, progress

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
    "progress",
    "register",
    "reveal",
]
