"""Notebook 04's containerd lab in every world: live as root with containerd, else labelled.

Whatever the world, the facts and the tree must read the same (strict nbval compares them);
only the first line says where they came from. Live, the private containerd must be gone
afterwards. tests/reference/test_containerd.py holds the prediction against containerd.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import tempfile

import pytest
from livetools import WORLD

from layerlab.container import Container
from layerlab.live import containerd
from layerlab.live.kernel.cleanup import TEMP_PREFIX
from layerlab.live.kernel.result import SIMULATED_BANNER
from layerlab.samples import ubuntu_image

pytestmark = pytest.mark.live

CAN_RUN = WORLD == "root" and all(shutil.which(t) for t in ("containerd", "ctr"))


def _leftovers() -> list[str]:
    return glob.glob(os.path.join(tempfile.gettempdir(), f"{TEMP_PREFIX}containerd*"))


def test_the_lab_is_live_exactly_where_containerd_can_run():
    before = _leftovers()
    lab = containerd.containerd_lab(Container(ubuntu_image(), name="demo"))
    assert lab.live is CAN_RUN, lab.reason
    assert lab.matches
    if not lab.live:
        assert str(lab).startswith(SIMULATED_BANNER)
        assert lab.reason
    assert _leftovers() == before


def test_the_simulation_shows_what_containerd_shows(monkeypatch):
    container = Container(ubuntu_image(), name="demo")
    shown = containerd.containerd_lab(container, limit=10)
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    simulated = containerd.containerd_lab(container, limit=10)
    assert not simulated.live
    assert [f.name for f in dataclasses.fields(simulated)] == [
        f.name for f in dataclasses.fields(shown)
    ]
    assert simulated.facts() == shown.facts()
    assert simulated.layout() == shown.layout()


def test_the_prediction_names_snapshots_by_chain_id_and_the_image_by_its_manifest():
    container = Container(ubuntu_image(), name="demo")
    image = container.image
    assert image is not None
    snapshots = containerd.predicted_snapshots(container)
    assert [s.key for s in snapshots[:-2]] == image.chain_ids
    assert [s.parent for s in snapshots[1:]] == [s.key for s in snapshots[:-1]]
    assert [s.kind for s in snapshots[-2:]] == ["Committed", "Active"]
    assert snapshots[-2].key == f"{snapshots[-1].key}-init"
    assert containerd.manifest_digest(image) != image.id
