"""The exercise machinery: an exercise, a verdict, and the `check` / `reveal` calls.

An exercise cell in a notebook looks like this:

    def solve(container):
        ...  # YOUR CODE HERE

    check("05.1", solve)

`check` hands the learner's answer (usually the function) to the exercise's *checker*,
which runs it on fresh model objects and judges what came out: the state of a container,
a layer, a tree or a returned value, never the code's text. Any correct way to get there
passes. A checker speaks in one of three ways:

* it returns a sentence saying what the learner achieved: solved (✓);
* it raises `Wrong(reason, hint)`: a specific misconception was recognised (✗ + hint);
* it raises `NotSolved`: nothing happened yet, as with the stub the notebook ships.

The printed verdict is plain, stable text, so notebooks keep their committed outputs.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import textwrap
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..i18n import _

__all__ = [
    "Exercise",
    "Result",
    "Wrong",
    "NotSolved",
    "register",
    "get",
    "exercises_of",
    "every_exercise",
    "check",
    "reveal",
    "attempt",
]


class Wrong(Exception):
    """The answer is wrong in a way we recognise. `reason` is a short stable key
    (tests assert on it), `hint` the sentence the learner reads."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(hint)
        self.reason = reason
        self.hint = hint


class NotSolved(Exception):
    """The answer did nothing yet (the shipped stub): not wrong, just not started."""


@dataclass(frozen=True)
class Result:
    """A verdict. Its text is the cell's output, so it holds no volatile values."""

    exercise: str
    title: str
    status: str  # "solved", "wrong" or "unsolved"
    message: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "solved"

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        # The title is stored in English and translated here, when the verdict is shown.
        head = _("Exercise {id} ({title})").format(id=self.exercise, title=_(self.title))
        if self.status == "solved":
            return _("✓ {head}: solved.").format(head=head) + f"\n  {self.message}"
        if self.status == "wrong":
            hint = _("Hint: {hint}").format(hint=self.message)
            return _("✗ {head}: not yet.").format(head=head) + f"\n  {hint}"
        return _("· {head}: not solved yet.").format(head=head) + f"\n  {self.message}"

    __repr__ = __str__


@dataclass(frozen=True)
class Exercise:
    """One exercise: the cell as shipped (`stub`), the reference cell (`solution`), and a
    `checker` that judges an answer (see the module docstring for how it speaks)."""

    id: str
    title: str
    stub: str
    solution: str
    checker: Callable[[Any], str]

    def __post_init__(self) -> None:
        # Store the cells without the indentation of the module that defines them.
        object.__setattr__(self, "stub", textwrap.dedent(self.stub).strip("\n"))
        object.__setattr__(self, "solution", textwrap.dedent(self.solution).strip("\n"))

    def judge(self, answer: Any) -> Result:
        """Run the checker on `answer` and turn what it says into a `Result`.

        Never raises (Ctrl-C aside): whatever goes wrong while judging becomes a ✗ that
        says what was raised and where, because a checker that crashes teaches nothing.
        """
        with _recording() as prints:
            try:
                message = self.checker(answer)
            except NotSolved:
                if prints.printed:
                    wrong = _printed_instead(prints)
                    return Result(self.id, self.title, "wrong", wrong.hint, wrong.reason)
                return Result(
                    self.id,
                    self.title,
                    "unsolved",
                    _(
                        "Fill in the code in this cell and run it again. Stuck? reveal({id!r})"
                    ).format(id=self.id),
                )
            except Wrong as wrong:
                return Result(self.id, self.title, "wrong", wrong.hint, wrong.reason)
            except Exception as exc:  # a checker bug must not look like the learner's crash
                hint = _(
                    "judging your answer raised {error}. Your answer has a shape "
                    "the check did not expect: compare it with what the exercise asks for "
                    "(and if it matches, this is a bug in the exercise; please report it)."
                ).format(error=_raised(exc))
                return Result(self.id, self.title, "wrong", hint, "check-raised")
        return Result(self.id, self.title, "solved", message)


_REGISTRY: dict[str, Exercise] = {}


def register(*exercises: Exercise) -> None:
    """Make exercises known to `check` and `reveal` (each exNN module calls this)."""
    for exercise in exercises:
        if exercise.id in _REGISTRY and _REGISTRY[exercise.id] is not exercise:
            raise ValueError(f"exercise {exercise.id} is defined twice")
        _REGISTRY[exercise.id] = exercise


def get(exercise_id: str) -> Exercise:
    """The exercise with this id; "05.1" lives in `layerlab.exercises.ex05`."""
    if exercise_id not in _REGISTRY:
        notebook = exercise_id.split(".")[0]
        module = f"layerlab.exercises.ex{notebook}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real bug inside the module: let it show
                raise
    if exercise_id not in _REGISTRY:
        raise LookupError(
            _(
                "there is no exercise {id!r}; use the id from the exercise's heading, like '05.1'"
            ).format(id=exercise_id)
        )
    return _REGISTRY[exercise_id]


def exercises_of(notebook: str) -> list[Exercise]:
    """Every exercise of notebook "NN", in id order (imports `exNN` if needed)."""
    with contextlib.suppress(LookupError):
        get(f"{notebook}.1")
    return sorted(
        (e for e in _REGISTRY.values() if e.id.startswith(f"{notebook}.")),
        key=lambda e: [int(part) for part in e.id.split(".")],
    )


def every_exercise() -> list[Exercise]:
    """Every exercise of the course, in id order: imports each `exNN` module of this package,
    so tests that must hold for all exercises also see ones added later."""
    import pkgutil

    package = importlib.import_module(__package__ or "layerlab.exercises")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("ex") and module.name[2:].isdigit():
            importlib.import_module(f"{package.__name__}.{module.name}")
    return sorted(
        (e for e in _REGISTRY.values() if e.checker.__module__.startswith(package.__name__)),
        key=lambda e: [int(part) for part in e.id.split(".")],
    )


def check(exercise_id: str, answer: Any) -> Result:
    """Judge your answer to an exercise: ✓ solved, ✗ with a hint, or not solved yet."""
    return get(exercise_id).judge(answer)


@dataclass(frozen=True)
class Solution:
    """A revealed reference solution; shows as the code you could have written."""

    exercise: Exercise

    def __str__(self) -> str:
        head = _("Reference solution for Exercise {id} ({title}):").format(
            id=self.exercise.id, title=_(self.exercise.title)
        )
        return f"{head}\n\n{self.exercise.solution}"

    __repr__ = __str__


def reveal(exercise_id: str) -> Solution:
    """Show the reference solution. Try first: a hint from `check` is often enough."""
    return Solution(get(exercise_id))


def require_function(answer: object, name: str) -> None:
    """A learner who calls their function (or passes its result) is told to pass the
    function itself: the most common slip with `check`, and an answer no checker can run."""
    if not callable(answer):
        raise Wrong(
            "not-a-function",
            _(
                "pass the function itself: check(..., {name}), not {name}(...) "
                "or another value (got a {type})"
            ).format(name=name, type=type(answer).__name__),
        )


def attempt(
    function: Any,
    *args: Any,
    name: str = "solve",
    explain: Callable[[BaseException], Wrong | None] | None = None,
    returns: bool = False,
) -> Any:
    """Call the learner's function the way a checker should.

    A stub (`...` or `raise NotImplementedError`) counts as not solved; any other
    exception becomes a ✗ that names it and the line it came from, unless `explain`
    recognises it as a known misconception and returns a more helpful `Wrong`. What the
    function prints still shows, and is remembered: with `returns=True` (the exercise wants
    a value back), a function that printed and returned None is told to return instead.
    """
    require_function(function, name)
    recorder = _CURRENT[-1] if _CURRENT else _Prints()
    tee = _Tee(sys.stdout)
    try:
        with contextlib.redirect_stdout(tee):
            result = function(*args)
    except NotImplementedError:
        raise NotSolved() from None
    except (Exception, SystemExit) as exc:  # the learner's code may raise anything
        known = explain(exc) if explain is not None and isinstance(exc, Exception) else None
        if known is not None:
            raise known from None
        raise Wrong(
            "raised", _("your {name}() raised {error}").format(name=name, error=_raised(exc))
        ) from None
    if tee.wrote:
        recorder.printed_by.setdefault(name, "".join(tee.wrote))
    if result is None and tee.wrote:
        recorder.returned_none.add(name)
        if returns:
            raise _printed_instead(recorder)
    return result


@dataclass
class _Prints:
    """What the learner's functions printed during one judging."""

    printed_by: dict[str, str] = field(default_factory=dict)
    returned_none: set[str] = field(default_factory=set)

    @property
    def printed(self) -> bool:
        return bool(self.returned_none)


_CURRENT: list[_Prints] = []


@contextlib.contextmanager
def _recording() -> Iterator[_Prints]:
    prints = _Prints()
    _CURRENT.append(prints)
    try:
        yield prints
    finally:
        _CURRENT.pop()


class _Tee(io.TextIOBase):
    """Passes what the learner prints through to the cell, and keeps a copy."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.wrote: list[str] = []

    def write(self, text: str) -> int:
        self.wrote.append(text)
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()


def _printed_instead(prints: _Prints) -> Wrong:
    name = sorted(prints.returned_none)[0]
    shown = prints.printed_by.get(name, "").strip()
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return Wrong(
        "printed",
        _(
            "your {name}() printed {shown!r} and returned None. The check reads what the "
            "function returns (or changes), not what it prints: use `return` instead of print()."
        ).format(name=name, shown=shown),
    )


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _raised(exc: BaseException) -> str:
    """'ZeroDivisionError: division by zero (in solve, line 3)': the exception and the
    innermost frame outside the library, or the library frame that raised when the call
    came from there. File names are left out: a notebook's are temporary."""
    frames = traceback.extract_tb(exc.__traceback__)
    outside = [f for f in frames if not os.path.abspath(f.filename).startswith(_PACKAGE)]
    frame = outside[-1] if outside else (frames[-1] if frames else None)
    where = ""
    if frame is not None:
        module = os.path.basename(frame.filename)
        inside = os.path.abspath(frame.filename).startswith(_PACKAGE)
        if inside:
            place = _("in {function}, line {line} of {module}")
        else:
            place = _("in {function}, line {line}")
        where = " (" + place.format(function=frame.name, line=frame.lineno, module=module) + ")"
        if outside and frames[-1] is not outside[-1]:
            where += _(", inside {function}()").format(function=frames[-1].name)
    text = str(exc)
    return f"{type(exc).__name__}{': ' + text if text else ''}{where}"
