"""Questions the checkers ask of the model, in one place so every exercise asks them alike.

A checker judges outcomes: did the image stay untouched, what does the container see,
which names would the committed tar hold. These helpers answer with plain values
(sets, tuples of names) that a checker can compare and quote in a hint.
"""

from __future__ import annotations

import numbers
import posixpath
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from ..container import Container
from ..entries import Dir, File, Symlink
from ..i18n import _
from ..layer import Layer
from ..safety import OPAQUE_MARKER, WHITEOUT_PREFIX
from ..tar.write import layer_names, member_names
from .framework import Wrong

__all__ = [
    "snapshot",
    "require_image_untouched",
    "visible_paths",
    "layer_names",
    "tar_paths",
    "as_items",
    "as_int",
    "as_text",
    "visible_state",
    "require_no_collateral",
]


# -- answers in any correct form ------------------------------------------------------------
# A learner may return a list, a tuple, a set or a generator; a str or a PurePosixPath; an
# int, a numpy integer or any other integral type; text with a stray newline. Checkers
# read answers through these helpers, which accept every form that means the same, and
# consume an iterable exactly once (a generator cannot be read twice).


def as_text(value: Any) -> Any:
    """A str or path-like answer as stripped text; anything else unchanged."""
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, str):
        return value.strip()
    return value


def as_items(answer: Any, *, what: str, example: str) -> list[Any]:
    """An iterable answer as a list (read once), its strings and paths as stripped text.

    Raises `Wrong("not-a-collection")` for a str, a number or anything not iterable."""
    if isinstance(answer, (str, bytes, PurePath, Mapping)) or not hasattr(answer, "__iter__"):
        raise Wrong(
            "not-a-collection",
            _("give {what}, like {example}; got a {type}").format(
                what=what, example=example, type=type(answer).__name__
            ),
        )
    try:
        items = list(answer)
    except Exception as exc:
        raise Wrong(
            "raised",
            _("reading your answer raised {type}: {error}").format(
                type=type(exc).__name__, error=exc
            ),
        ) from None
    return [as_text(item) for item in items]


def as_int(answer: Any, *, what: str) -> int:
    """Any integral answer (int, numpy integer, ...) as an int; bool and float are refused."""
    if isinstance(answer, numbers.Integral) and not isinstance(answer, bool):
        return int(answer)
    if isinstance(answer, float) and answer.is_integer():
        raise Wrong(
            "not-an-int",
            _("return {what} as a whole number (int), not the float {answer}").format(
                what=what, answer=answer
            ),
        )
    raise Wrong(
        "not-an-int",
        _("return {what} as a whole number, not {answer!r}").format(what=what, answer=answer),
    )


def snapshot(layers: list[Layer]) -> list[Layer]:
    """Copies of layers, to prove later that nobody edited them."""
    return [layer.copy() for layer in layers]


def require_image_untouched(before: list[Layer], container: Container) -> None:
    """A ✗ for the learner who edits an image layer object instead of using the container."""
    if container.image_layers != before:
        raise Wrong(
            "edited-image",
            _(
                "you changed an image layer object. Image layers are read-only and shared by "
                "every container of the image; a container changes files through its own rw "
                "layer (container.unlink, container.write, ...)."
            ),
        )


def visible_paths(container: Container) -> set[str]:
    """Every path a process in the container can see (bind mounts aside)."""
    return {node.path for node in container.view().walk() if node.path != "/"}


def tar_paths(tar: bytes | None) -> set[str]:
    """The model paths a layer tar changes: '.wh.x' counts as a change to x."""
    paths = set()
    for name in member_names(tar) if tar else ():
        parent, base = posixpath.split(name)
        if base != OPAQUE_MARKER:
            paths.add("/" + posixpath.join(parent, base.removeprefix(WHITEOUT_PREFIX)))
    return paths


# -- the whole outcome, not only the asked path -----------------------------------------------
def visible_state(source: Container | Any) -> dict[str, tuple[object, ...]]:
    """What `ls -lR` and `cat` would show of every visible path of a container or an image:
    kind, mode, owner, and a file's bytes or a symlink's target (mtimes aside: a model
    clock is not a change)."""
    state: dict[str, tuple[object, ...]] = {}
    for node in source.view().walk():
        entry, meta = node.entry, node.entry.meta
        what: object = entry.kind if not isinstance(entry, Dir) else "dir"
        if isinstance(entry, File):
            what = entry.content.digest
        elif isinstance(entry, Symlink):
            what = f"-> {entry.target}"
        state[node.path] = (what, meta.mode, meta.uid, meta.gid)
    return state


def require_no_collateral(
    before: dict[str, tuple[object, ...]], container: Container | Any, allowed: set[str]
) -> None:
    """A ✗ naming the first path, other than `allowed` (and their subtrees), that the
    answer made appear, vanish or change: deleting or re-creating image files, a lost
    mode, a rename posing as a delete."""
    after = visible_state(container)

    def exempt(path: str) -> bool:
        return any(path == a or path.startswith(a.rstrip("/") + "/") for a in allowed)

    for path in sorted(set(before) | set(after)):
        if exempt(path) or before.get(path) == after.get(path):
            continue
        if path not in after:
            raise Wrong(
                "collateral", _("{path} is gone too: change only what was asked.").format(path=path)
            )
        if path not in before:
            raise Wrong(
                "collateral",
                _(
                    "{path} appeared, which nobody asked for (a rename is not a delete): "
                    "change only what was asked."
                ).format(path=path),
            )
        old_mode, new_mode = before[path][1], after[path][1]
        if before[path][0] == after[path][0] and old_mode != new_mode:
            raise Wrong(
                "collateral",
                _(
                    "{path} lost its mode: {old} became {new} "
                    "(re-made instead of left alone?). Change only what was asked."
                ).format(path=path, old=oct(old_mode)[2:], new=oct(new_mode)[2:]),
            )
        raise Wrong(
            "collateral", _("{path} changed too: change only what was asked.").format(path=path)
        )
