"""Notebook 06's Podman lab: the live comparison holds, and the recording it falls back on
is what Podman really commits (no init layer: placeholders in the committed layer)."""

from __future__ import annotations

import contextlib
import glob

import pytest

from layerlab.commit import build_image
from layerlab.exercises.judging import layer_names
from layerlab.live import podman as podman_engine
from layerlab.live.docker_commit import busybox_base
from layerlab.live.podman import private_podman
from layerlab.live.podman_commit import (
    ENGINE_STEPS,
    RECORDED_PODMAN_LAYER,
    PodmanComparison,
    compare_with_podman,
    engine_commit,
)


def test_layerlab_commits_what_podman_was_recorded_committing():
    _, layer = engine_commit(build_image([busybox_base()]), "podman")
    assert layer_names(layer) == RECORDED_PODMAN_LAYER
    _, docker = engine_commit(build_image([busybox_base()]), "docker")
    added = set(RECORDED_PODMAN_LAYER) - set(layer_names(docker))
    assert added == {
        "dev",
        "etc/hostname",
        "etc/hosts",
        "etc/mtab",
        "proc",
        "run",
        "run/.containerenv",
        "sys",
    }
    assert not any("dockerenv" in command for command, _ in ENGINE_STEPS)


def test_without_podman_the_recorded_run_is_shown_and_labelled(monkeypatch):
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    result = compare_with_podman()
    assert isinstance(result, PodmanComparison) and not result.live
    assert str(result).startswith("SIMULATED: ")
    assert "recorded with Podman 4.3.1" in result.reason
    assert result.podman_layer == RECORDED_PODMAN_LAYER == result.layerlab_layer


@pytest.mark.reference
def test_a_real_podman_commit_matches_the_model_and_the_recording(podman, need_root, monkeypatch):
    need_root("running Podman containers with a private storage")
    used = []

    @contextlib.contextmanager
    def recording(*args):
        with private_podman(*args) as engine:
            used.append(engine)
            yield engine

    monkeypatch.setattr(podman_engine, "private_podman", recording)
    result = compare_with_podman()
    assert result.live, result.reason
    assert result.podman_layer == RECORDED_PODMAN_LAYER
    assert result.layerlab_layer == result.podman_layer
    assert result.same_tree
    (engine,) = used
    assert not engine.home.exists()
    assert not glob.glob(f"/sys/fs/cgroup/*{engine.cgroup_parent}")
    with open("/proc/self/mountinfo") as mounts:
        assert str(engine.home) not in mounts.read()
