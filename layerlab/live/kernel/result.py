"""The shape every live lab returns: facts, plus which world produced them.

A lab runs in one of three worlds:

- "root": the real kernel, as root (CI, a learner's Linux box with sudo);
- "rootless": the real kernel, as an ordinary user inside a user namespace;
- "simulated": the kernel said no (Binder, macOS, LAYERLAB_LIVE=0), so the lab returns
  what a Linux machine that allows it shows, clearly labelled.

All three return the same result class with the same fields, so a notebook cell never
needs an `if`. A result class declares each fact the learner sees once, with `fact()`: its
label, how its value reads, and what a simulated run shows; `facts()` and `simulated()`
follow from those declarations.

The printed form holds only stable facts (booleans, small counts, names the lab chose),
never PIDs, inode numbers, namespace ids, temp paths or the machine's hostname, so
notebooks with committed outputs stay reproducible.
"""

from __future__ import annotations

import copy
import html
import itertools
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Literal, TypeVar

from ... import host
from ...i18n import N_, _

World = Literal["root", "rootless", "simulated"]

#: Above every simulated result; translated with `_` where shown, like every label below.
SIMULATED_BANNER = N_("SIMULATED: this is what a Linux machine that allows it shows")


def live_world() -> World:
    """The world a live lab runs in: "root" for uid 0, "rootless" for everyone else."""
    return "root" if host.euid() == 0 else "rootless"


_NOT_GIVEN: Any = object()
R = TypeVar("R", bound="LiveResult")
#: Facts print in the order they are declared, fields and derived facts alike.
_declared = itertools.count()


def fact(
    label: str,
    *,
    simulated: object = _NOT_GIVEN,
    show: Callable[[Any], object] | None = None,
    default: object = _NOT_GIVEN,
) -> Any:
    """A result field the learner sees, declared once: its label, how its value reads
    (`show`), and the value a simulated run shows (a list or dict is copied per result).

    The label may name other fields in braces ("best of {small_files}"). It is looked up
    in the learner's language when shown, not here, so mark it with `i18n.N_`. A field
    declared without `fact` is kept for tools and tests and never printed.
    """
    metadata = {"label": label, "simulated": simulated, "show": show, "order": next(_declared)}
    if default is _NOT_GIVEN:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Derived:
    """A fact worked out from a result's fields (a comparison, a sum, a constant note)."""

    label: str | None
    compute: Callable[[Any], object]
    order: int


def derived(label: str | None, compute: Callable[[Any], object]) -> Any:
    """A fact the learner sees that no single field holds: `compute(result)` is its value.

    Declare it as a class attribute without an annotation, where it should print. With
    `label` None, `compute` returns the (label, value) lines itself: one per namespace,
    per snapshot, per path.
    """
    return Derived(label, compute, next(_declared))


class LiveError(RuntimeError):
    """The kernel refused a step inside a lab's child process (the errno is kept)."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


@dataclass(frozen=True, kw_only=True)
class LiveResult:
    """Base of every lab result: `live`, `world`, and why it was simulated if it was."""

    live: bool
    world: World
    reason: str = ""

    title: ClassVar[str] = N_("live lab")
    lesson: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: object) -> None:
        # Put our __repr__ in each subclass before @dataclass runs: dataclass then keeps it
        # instead of generating one that would print volatile fields (paths, counters).
        super().__init_subclass__(**kwargs)
        cls.__repr__ = LiveResult.__repr__  # type: ignore[method-assign]

    def __repr__(self) -> str:
        """The printed form: what a notebook shows for a result at the end of a cell."""
        return str(self)

    def facts(self) -> list[tuple[str, object]]:
        """(label, value) pairs shown to the learner: the fields declared with `fact` and
        the facts declared with `derived`, in the order they were declared."""
        declared: list[tuple[int, str | None, Callable[[Any], object]]] = []
        for f in fields(self):
            if "label" in f.metadata:
                show = f.metadata["show"] or (lambda value: value)
                value = getattr(self, f.name)
                declared.append(
                    (f.metadata["order"], f.metadata["label"], lambda result, v=value, s=show: s(v))
                )
        seen: set[str] = set()
        for klass in type(self).__mro__:
            for name, attribute in vars(klass).items():
                if isinstance(attribute, Derived) and name not in seen:
                    seen.add(name)
                    declared.append((attribute.order, attribute.label, attribute.compute))
        shown: list[tuple[str, object]] = []
        names = {f.name: getattr(self, f.name) for f in fields(self)}
        for _order, label, compute in sorted(declared, key=lambda d: d[0]):
            if label is None:
                shown += compute(self)  # type: ignore[arg-type]
                continue
            label = _(label)
            shown.append((label.format_map(names) if "{" in label else label, compute(self)))
        return shown

    @classmethod
    def simulated(cls: type[R], reason: str, **values: Any) -> R:
        """The result a Linux machine that allows the lab shows, labelled SIMULATED:
        each fact's declared simulated value, unless `values` gives another."""
        for f in fields(cls):
            if f.name in values or f.name in ("live", "world", "reason"):
                continue
            declared = f.metadata.get("simulated", _NOT_GIVEN)
            if declared is not _NOT_GIVEN:
                values[f.name] = copy.deepcopy(declared)
            elif f.default is MISSING and f.default_factory is MISSING:
                raise TypeError(f"{cls.__name__}.{f.name} declares no simulated value")
        return cls(live=False, world="simulated", reason=reason, **values)

    def _header(self) -> str:
        if self.live:
            return _("LIVE ({world}): {title}").format(world=self.world, title=_(self.title))
        return _("{banner}\n  because: {reason}\n{title}").format(
            banner=_(SIMULATED_BANNER), reason=_(self.reason), title=_(self.title)
        )

    def __str__(self) -> str:
        lines = [self._header()]
        lines += [f"  {label}: {_show(value)}" for label, value in self.facts()]
        if self.lesson:
            lines.append(_(self.lesson))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        badge = _("LIVE ({world})").format(world=self.world) if self.live else _("SIMULATED")
        colour = "#2e7d32" if self.live else "#b26a00"
        rows = "".join(
            f"<tr><td>{html.escape(label)}</td><td><code>{html.escape(_show(value))}</code></td></tr>"
            for label, value in self.facts()
        )
        banner, reason = html.escape(_(SIMULATED_BANNER)), html.escape(_(self.reason))
        note = "" if self.live else f"<p><em>{banner}</em> ({reason})</p>"
        lesson = f"<p>{html.escape(_(self.lesson))}</p>" if self.lesson else ""
        return (
            f'<div><strong style="color:{colour}">{badge}</strong> {html.escape(_(self.title))}'
            f"{note}<table>{rows}</table>{lesson}</div>"
        )


def _show(value: object) -> str:
    """yes/no for booleans and comma lists, so the printed form reads like a sentence."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v) for v in value) or _("(none)")
    if isinstance(value, dict):
        return ", ".join(f"{k}={_show(v)}" for k, v in value.items()) or _("(none)")
    return str(value)
