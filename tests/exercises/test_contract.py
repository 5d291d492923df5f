"""The checker contract, for every exercise of the course (also ones added later).

* Never crash: whatever the answer is or raises, `check` returns a verdict; an exception
  from the answer is a ✗ that names it and its line.
* Accept any correct form: the reference answer as a tuple, a set, a generator (read once),
  a PurePosixPath, a non-int integral type, with a trailing newline: all still ✓.
* An answer that prints instead of returning gets a hint saying so.
"""

from __future__ import annotations

import numbers
import sys
from pathlib import PurePosixPath

import pytest
from conftest import run_cell

from layerlab.exercises import Result, check, every_exercise

EXERCISES = [exercise.id for exercise in every_exercise()]


def test_the_course_registers_its_exercises():
    assert len(EXERCISES) >= 20 and EXERCISES[0] == "00.1"


def reference_answer(exercise_id: str) -> object:
    """What the reference solution cell passes to check()."""
    from layerlab.exercises import get

    seen: list[object] = []

    def recording(eid: str, answer: object) -> Result:
        seen.append(answer)
        return check(eid, answer)

    exec(compile(get(exercise_id).solution, "<solution>", "exec"), {"check": recording})
    return seen[0]


class Count:
    """An integral type that is not int (as numpy.int64 is not)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value

    __int__ = __index__

    def __eq__(self, other: object) -> bool:
        return int(self) == other

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"Count({self.value})"


numbers.Integral.register(Count)


def _generator(items):
    yield from items


def reform(value: object, form: str) -> object:
    """The same answer in another correct form."""
    if callable(value):
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return Count(value) if form == "integral" else value
    if isinstance(value, str):
        if form == "path" and value.startswith("/"):
            return PurePosixPath(value)
        return value + "\n" if form == "whitespace" else value
    if isinstance(value, dict):
        if not all(isinstance(v, (str, int)) for v in value.values()):
            return value  # a document (an image config): its lists are part of its content
        return {k: reform(v, form) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [reform(v, form) for v in value]
        ordered = not isinstance(value, (set, frozenset))
        if form == "tuple":
            return tuple(items)
        if form == "generator":
            return _generator(items)
        if form == "set" and not ordered:
            return frozenset(items)
        if form == "list" and not ordered:
            return list(items)
        return type(value)(items) if not isinstance(value, tuple) else tuple(items)
    return value


FORMS = ("tuple", "generator", "set", "list", "path", "integral", "whitespace")


def in_form(answer: object, form: str) -> object:
    if callable(answer):

        def reformed(*args):
            return reform(answer(*args), form)

        return reformed
    if isinstance(answer, tuple) and all(callable(a) for a in answer):
        return answer if form != "generator" else list(answer)
    return reform(answer, form)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_any_correct_form_of_the_reference_answer_is_accepted(exercise_id, form):
    verdict = check(exercise_id, in_form(reference_answer(exercise_id), form))
    assert verdict.ok, str(verdict)


def _raises(*args):
    return 1 // 0


def _exits(*args):
    sys.exit(3)


def _bad_generator(*args):
    yield "a"
    raise RuntimeError("half way")


JUNK = {
    "None": None,
    "int": 7,
    "negative": -1,
    "bool": True,
    "float": 2.5,
    "text": "x",
    "bytes": b"x",
    "empty list": [],
    "list of None": [None],
    "dict": {"a": 1},
    "object": object(),
    "no arguments": lambda: 0,
    "returns None": lambda *a: None,
    "returns an int": lambda *a: 3,
    "returns text": lambda *a: "/x",
    "returns an object": lambda *a: object(),
    "returns a list of objects": lambda *a: [object(), None],
    "returns a dict": lambda *a: {"x": object()},
    "returns a generator that fails": lambda *a: _bad_generator(),
    "exits": _exits,
    "pair of junk": (1, 2),
    "pair of functions that raise": (_raises, _raises),
}


@pytest.mark.parametrize("junk", JUNK, ids=list(JUNK))
@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_no_answer_crashes_the_check(exercise_id, junk):
    verdict = check(exercise_id, JUNK[junk])
    assert isinstance(verdict, Result)
    assert verdict.status in ("wrong", "unsolved"), str(verdict)
    assert verdict.reason != "check-raised", str(verdict)


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_an_exception_from_the_answer_is_named_with_its_line(exercise_id):
    answer = reference_answer(exercise_id)
    if not callable(answer):
        answer = (_raises, _raises) if isinstance(answer, tuple) else None
        if answer is None:
            pytest.skip("this exercise's answer is a value, not code")
    else:
        answer = _raises
    verdict = check(exercise_id, answer)
    assert verdict.status == "wrong" and verdict.reason == "raised", str(verdict)
    assert "ZeroDivisionError" in verdict.message and "line" in verdict.message


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_printing_the_answer_instead_of_returning_it_gets_a_hint(exercise_id, capsys, monkeypatch):
    answer = reference_answer(exercise_id)
    if not callable(answer):
        pytest.skip("this exercise's answer is a value, not code")
    returned: list[object] = []

    def printing(*args):
        result = answer(*args)
        returned.append(result)
        print(result)

    verdict = check(exercise_id, printing)
    if not returned:  # it ran in a child process (the runtime levels' sandbox): again in ours
        monkeypatch.setenv("LAYERLAB_LIVE", "0")
        in_child, verdict = verdict, check(exercise_id, printing)
        assert (in_child.status, in_child.reason) == (verdict.status, verdict.reason)
    if all(r is None for r in returned):
        assert verdict.ok, str(verdict)  # it changes things; printing None is harmless
    else:
        assert verdict.reason == "printed", str(verdict)
        assert "return" in verdict.message
    capsys.readouterr()


def test_the_solution_cells_still_pass():
    for exercise_id in EXERCISES:
        from layerlab.exercises import get

        assert run_cell(get(exercise_id).solution).ok, exercise_id
