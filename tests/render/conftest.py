"""Fixtures for the render tests: the scenes, and DOT snapshots you can regenerate.

Snapshots live in tests/render/snapshots/<name>.dot. After a deliberate change to a
picture, regenerate them and review the diff before committing:

    LAYERLAB_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/render -k snapshot
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture
def snapshot():
    """Compare text with a committed snapshot (or rewrite it under LAYERLAB_UPDATE_SNAPSHOTS=1)."""

    def check(name: str, text: str) -> None:
        path = SNAPSHOTS / f"{name}.dot"
        if os.environ.get("LAYERLAB_UPDATE_SNAPSHOTS") == "1":
            path.write_text(text, encoding="utf-8")
            return
        if not path.exists():
            pytest.fail(f"no snapshot {path.name}; create it with LAYERLAB_UPDATE_SNAPSHOTS=1")
        expected = path.read_text(encoding="utf-8")
        if text != expected:
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(True),
                    text.splitlines(True),
                    f"snapshots/{path.name}",
                    "now",
                    n=1,
                )
            )
            pytest.fail(
                f"DOT differs from snapshots/{path.name} (regenerate with "
                f"LAYERLAB_UPDATE_SNAPSHOTS=1 if intended):\n{diff[:4000]}"
            )

    return check
