"""The shape every live lab returns: facts, plus which world produced them.

A lab runs in one of three worlds:

- "root": the real kernel, as root (CI, a learner's Linux box with sudo);
- "rootless": the real kernel, as an ordinary user inside a user namespace;
- "simulated": the kernel said no (Binder, macOS, LAYERLAB_LIVE=0), so the lab returns
  what a Linux machine that allows it shows, clearly labelled.

All three return the same result class with the same fields, so a notebook cell never
needs an `if`. The printed form holds only stable facts (booleans, small counts, names
the lab chose), never PIDs, inode numbers, namespace ids, temp paths or the machine's
hostname, so notebooks with committed outputs stay reproducible.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import ClassVar, Literal

from .. import host

World = Literal["root", "rootless", "simulated"]

SIMULATED_BANNER = "SIMULATED: this is what a Linux machine that allows it shows"


def live_world() -> World:
    """The world a live lab runs in: "root" for uid 0, "rootless" for everyone else."""
    return "root" if host.euid() == 0 else "rootless"


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

    title: ClassVar[str] = "live lab"
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
        """(label, value) pairs shown to the learner; subclasses list their stable fields."""
        return []

    def _header(self) -> str:
        if self.live:
            return f"LIVE ({self.world}): {self.title}"
        return f"{SIMULATED_BANNER}\n  because: {self.reason}\n{self.title}"

    def __str__(self) -> str:
        lines = [self._header()]
        lines += [f"  {label}: {_show(value)}" for label, value in self.facts()]
        if self.lesson:
            lines.append(self.lesson)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        badge = f"LIVE ({self.world})" if self.live else "SIMULATED"
        colour = "#2e7d32" if self.live else "#b26a00"
        rows = "".join(
            f"<tr><td>{html.escape(label)}</td><td><code>{html.escape(_show(value))}</code></td></tr>"
            for label, value in self.facts()
        )
        note = (
            ""
            if self.live
            else f"<p><em>{html.escape(SIMULATED_BANNER)}</em> ({html.escape(self.reason)})</p>"
        )
        lesson = f"<p>{html.escape(self.lesson)}</p>" if self.lesson else ""
        return (
            f'<div><strong style="color:{colour}">{badge}</strong> {html.escape(self.title)}'
            f"{note}<table>{rows}</table>{lesson}</div>"
        )


def _show(value: object) -> str:
    """yes/no for booleans and comma lists, so the printed form reads like a sentence."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_show(v)}" for k, v in value.items()) or "(none)"
    return str(value)
