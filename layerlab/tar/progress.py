"""A progress bar for long jobs, on stderr, only when a person is watching.

tqdm draws it when installed; otherwise a one-line counter does. Either way it appears
only after half a second, so quick runs, pipes and notebooks stay silent.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

__all__ = ["Progress"]

_DELAY = 0.5


class Progress:
    """Counts work items; draws nothing unless enabled and the job outlives `_DELAY`."""

    def __init__(self, total: int, enabled: bool, label: str = "flatten") -> None:
        self.total = max(total, 1)
        self.enabled = enabled
        self.label = label
        self.done = 0
        self._start = time.monotonic()
        self._shown = False
        self._next_check = 256
        self._tqdm: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self._tqdm = tqdm(
                    total=self.total,
                    delay=_DELAY,
                    file=sys.stderr,
                    unit="file",
                    desc=self.label,
                    leave=False,
                )
        return self

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._tqdm is not None:
            self._tqdm.update(n)
        elif self.enabled and self.done >= self._next_check:
            self._next_check = self.done + 256
            if time.monotonic() - self._start >= _DELAY:
                percent = 100 * self.done // self.total
                sys.stderr.write(f"\r{self.label}: {percent:3d}% ({self.done}/{self.total})")
                sys.stderr.flush()
                self._shown = True

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
        elif self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
