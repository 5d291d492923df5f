"""Rootless Podman as an ordinary user (uid 65534), from a root test run: the recording
notebooks 01 and 05 fall back on is what it really does, and nothing is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from elsewhere import readable_copy, run_as_nobody
from needs import need_root

from layerlab.live.podman_rootless import RECORDED, RootlessPodmanOverlay, rootless_podman

DRIVER = Path(__file__).with_name("podman_rootless_driver.py")


@pytest.mark.reference
def test_rootless_podman_does_what_was_recorded_and_leaves_nothing(podman):
    need_root("switching to uid 65534 to run Podman as an ordinary user")
    with readable_copy(DRIVER) as top:
        answer = run_as_nobody(top, DRIVER.name)
    measured = answer["measured"]
    assert measured["committed"] == answer["model"]
    recorded = {
        **RECORDED,
        "committed": answer["model"],
        "overlay_xattrs": list(RECORDED["overlay_xattrs"]),
    }
    assert measured == recorded
    assert answer["left"] == {"mounts": [], "dirs": [], "podman processes": []}


def test_where_rootless_podman_cannot_run_the_recording_is_labelled(monkeypatch):
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    users, overlay = rootless_podman()
    assert not users.live and not overlay.live
    assert "recorded as an ordinary user" in users.reason
    assert isinstance(overlay, RootlessPodmanOverlay)
    assert dict(overlay.facts())["the same as layerlab's Container(engine='podman')"]
