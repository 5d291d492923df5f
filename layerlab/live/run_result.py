"""What `layerlab.run` returns, and how it reads Docker-style limits.

Kept apart from `runtime.py`, so that the runtime reads as the story of `docker run`
and nothing else.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from ..container import Container
from ..entries import describe
from ..i18n import N_, _
from .result import LiveResult, live_world

__all__ = ["RunResult", "parse_memory", "describe_limits"]

MIB = 1 << 20


@dataclass(frozen=True, kw_only=True)
class RunResult(LiveResult):
    """How a container's command ended, what it printed, and what it changed.

    `container` is the Container it ran in: its `rw` layer is what the command changed
    (read back from the kernel's upper dir), ready for `container.commit()`.
    """

    command: str
    exit_code: int
    stdout: str
    stderr: str
    pid_inside: int
    hostname_inside: str
    limits: str
    oom_killed: bool
    rw_layer: list[str]
    container: Container = field(compare=False)
    title: ClassVar[str] = N_("layerlab.run: overlay rootfs, namespaces, cgroup, pivot_root, exec")
    lesson: ClassVar[str] = N_(
        "The command ran as PID 1 of its own namespaces, on an overlay of the image's "
        "layers; what it changed is the rw layer, which commit turns into a new image layer."
    )

    @classmethod
    def of(
        cls, container: Container, argv: Sequence[str], *, reason: str = "", **facts: object
    ) -> RunResult:
        """A result for `container`; `reason` non-empty means simulated, for that reason."""
        return cls(
            live=not reason,
            world="simulated" if reason else live_world(),
            reason=reason,
            command=shlex.join(argv),
            rw_layer=[f"{path} {describe(entry)}" for path, entry in container.rw.items()],
            container=container,
            **facts,  # type: ignore[arg-type]
        )

    def facts(self) -> list[tuple[str, object]]:
        printed = "\n    ".join(self.stdout.rstrip("\n").split("\n"))
        return [
            (N_("command"), self.command),
            (N_("exit code"), self.exit_code),
            (N_("killed by the OOM killer"), self.oom_killed),
            (N_("pid inside"), self.pid_inside),
            (N_("hostname inside"), self.hostname_inside),
            (N_("cgroup limits"), self.limits),
            (N_("printed"), printed or _("(nothing)")),
            (N_("rw layer"), self.rw_layer),
        ]


def parse_memory(memory: int | str | None) -> int | None:
    """Bytes from an int or from Docker's spelling: "64m" -> 67108864, "1g", "512k"."""
    if memory is None or isinstance(memory, int):
        return memory
    units = {"b": 1, "k": 1 << 10, "m": MIB, "g": 1 << 30}
    text = memory.strip().lower()
    try:
        if text[-1:] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise ValueError(f"memory={memory!r}: give bytes, or a number with k, m or g") from None


def describe_limits(memory: int | None, pids: int | None) -> str:
    """'memory 64 MiB, pids 32': the limits as a learner asked for them."""
    shown = [f"memory {memory / MIB:g} MiB" if memory else "", f"pids {pids}" if pids else ""]
    return ", ".join(s for s in shown if s) or "none asked for"
