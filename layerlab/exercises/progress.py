"""Which exercises has this learner solved? A small JSON file that `check` keeps up to date.

The `check` that notebooks call is this module's: the framework's judge, plus a note of
every solve.

A learner works through the course over days, on Binder, a workshop hub or a laptop, and
`layerlab.progress()` answers "where was I?". The file lives in the learner's own data
directory (`$XDG_DATA_HOME/layerlab/progress.json`, normally `~/.local/share/...`), or
wherever `LAYERLAB_PROGRESS` points (a workshop can point it into a persistent volume).

Progress is a convenience, never a reason for a cell to fail: a missing file is an empty
record, a corrupt or foreign one is read as empty (and replaced on the next solve), and a
directory that cannot be written is silently left alone. Writes go to a temp file beside
the record and are renamed over it, so a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..i18n import _
from . import framework
from .framework import Result, exercises_of

__all__ = ["Progress", "check", "progress", "progress_path", "record"]

_NOTEBOOKS = ("00", "01", "02", "03", "04", "05", "06", "07", "08")
_FORMAT = 1


def progress_path() -> Path:
    """Where the record lives: `LAYERLAB_PROGRESS`, else the XDG data directory."""
    explicit = os.environ.get("LAYERLAB_PROGRESS")
    if explicit:
        return Path(explicit)
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local/share")
    return Path(data, "layerlab", "progress.json")


def _load(path: Path) -> set[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    solved = data.get("solved") if isinstance(data, dict) else None
    if not isinstance(solved, list):
        return set()
    return {item for item in solved if isinstance(item, str)}


def _save(path: Path, solved: set[str]) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"format": _FORMAT, "solved": sorted(solved)}, handle)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def record(result: Result) -> None:
    """Remember a solved exercise (`check` calls this). Never raises: see the module doc."""
    if not result.ok:
        return
    try:
        path = progress_path()
        solved = _load(path)
        if result.exercise not in solved:
            _save(path, solved | {result.exercise})
    except Exception:  # noqa: BLE001 - progress must never break a notebook
        return


def check(exercise_id: str, answer: Any) -> Result:
    """Judge your answer to an exercise: ✓ solved, ✗ with a hint, or not solved yet."""
    result = framework.check(exercise_id, answer)
    record(result)
    return result


@dataclass(frozen=True)
class Progress:
    """The course's exercises, notebook by notebook, and which of them are solved."""

    exercises: dict[str, tuple[str, ...]]
    solved: frozenset[str]

    @property
    def done(self) -> int:
        return sum(e in self.solved for ids in self.exercises.values() for e in ids)

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.exercises.values())

    def __str__(self) -> str:
        lines = [_("Solved {done} of {total} exercises.").format(done=self.done, total=self.total)]
        for notebook, ids in self.exercises.items():
            marks = " ".join(f"{'✓' if e in self.solved else '·'} {e}" for e in ids)
            count = sum(e in self.solved for e in ids)
            lines.append(f"  {notebook}  {count}/{len(ids)}   {marks}")
        return "\n".join(lines)

    __repr__ = __str__


def progress() -> Progress:
    """Which exercises of the course you have solved, read from your progress record."""
    exercises = {nb: tuple(e.id for e in exercises_of(nb)) for nb in _NOTEBOOKS}
    solved = frozenset(_load(progress_path()))
    return Progress({nb: ids for nb, ids in exercises.items() if ids}, solved)
