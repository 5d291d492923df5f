"""Every live-lab test must leave the machine as it found it (issue 4, "Cleanup").

The autouse `no_leftovers` fixture checks after each test: no new mount in our mount
table, no cgroup directory named layerlab-*, no process left in our session (not even a
zombie), and no new layerlab-* directory in the temp dir.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from livetools import leftovers, snapshot

from layerlab.live.kernel import probe


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    probe.probe()  # probe first: its cached answers are not what a test is about
    before = snapshot()
    yield
    left = leftovers(before)
    assert not left, f"the lab left something behind: {left}"
