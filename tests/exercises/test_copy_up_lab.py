"""Notebook 05's copy-up lab: a one-byte append to a big lower file puts the whole file in
the upper dir (docs/semantics.md 12: copy-up copies the whole file), in every world."""

from __future__ import annotations

import glob
import os
import tempfile

import pytest

from layerlab.container import Container
from layerlab.live.copy_up_timing import copy_up_cost
from layerlab.live.kernel.probe import missing
from layerlab.live.kernel.result import SIMULATED_BANNER
from layerlab.samples import app_image

pytestmark = pytest.mark.live

BIG, SMALL = "/srv/app/data.bin", ["/srv/app/app.py", "/srv/app/index.html", "/etc/passwd"]
SIZE = 4 << 20


def leftovers() -> list[str]:
    """This lab's temp dirs and mounts (named layerlab-copy-up-*), wherever they linger."""
    pattern = os.path.join(tempfile.gettempdir(), "layerlab-copy-up-*")
    with open("/proc/self/mountinfo") as mounts:
        mounted = [line for line in mounts if "layerlab-copy-up-" in line]
    return glob.glob(pattern) + mounted


def test_a_one_byte_append_copies_the_whole_file_up(world):
    container = Container(app_image(SIZE), name="demo")
    assert leftovers() == []
    result = copy_up_cost(container, BIG, SMALL)
    assert leftovers() == [], "the lab left a temp dir or a mount behind"
    features = ["overlayfs"] if os.geteuid() == 0 else ["user_namespaces", "overlayfs_rootless"]
    expect_live = world != "simulated" and missing("mount_namespace", *features) is None
    assert result.live is expect_live, result.reason
    if not result.live:
        assert str(result).startswith(SIMULATED_BANNER)
    assert (result.size, result.upper_size) == (SIZE, SIZE + 1)
    assert result.big_was_slower
    assert len(container.rw) == 0  # the lab measures; the learner's container is untouched
