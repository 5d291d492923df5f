"""Notebook 07's Docker lab: the live comparison holds, and the recording it falls back on
is what Docker really does (docs/semantics.md 18: commit = the rw layer only)."""

from __future__ import annotations

import glob
import subprocess
import tempfile

import pytest

from layerlab.commit import build_image
from layerlab.exercises.judging import layer_names
from layerlab.live.docker_commit import (
    RECORDED_DOCKER_LAYER,
    CommitComparison,
    busybox_base,
    compare_with_docker,
    model_commit,
)


def test_layerlab_commits_what_docker_was_recorded_committing():
    _, layer = model_commit(build_image([busybox_base()]))
    assert layer_names(layer) == RECORDED_DOCKER_LAYER
    assert ".wh..dockerenv" in RECORDED_DOCKER_LAYER  # deleted in the rw layer: committed
    assert not {"etc/hostname", "etc/hosts"} & set(RECORDED_DOCKER_LAYER)  # bind mounts


def test_without_an_engine_the_recorded_run_is_shown_and_labelled(monkeypatch):
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    result = compare_with_docker()
    assert isinstance(result, CommitComparison) and not result.live
    assert str(result).startswith("SIMULATED: ")
    assert "recorded with Docker" in result.reason
    assert result.docker_layer == RECORDED_DOCKER_LAYER == result.layerlab_layer
    assert result.same_tree


@pytest.mark.reference
def test_a_real_docker_commit_matches_the_model_and_the_recording(docker):
    def leftovers() -> list[str]:
        listed = subprocess.run(
            [docker, "ps", "--all", "--format", "{{.Names}}"], capture_output=True, text=True
        ).stdout.split()
        images = subprocess.run(
            [docker, "images", "--format", "{{.Repository}}"], capture_output=True, text=True
        ).stdout.split()
        return [n for n in listed + images if n.startswith("layerlab-lab-")]

    temp_dirs = set(glob.glob(f"{tempfile.gettempdir()}/layerlab-docker-lab-*"))
    result = compare_with_docker()
    assert result.live, result.reason
    assert result.docker_layer == RECORDED_DOCKER_LAYER
    assert result.layerlab_layer == result.docker_layer
    assert result.same_tree
    assert leftovers() == []
    assert set(glob.glob(f"{tempfile.gettempdir()}/layerlab-docker-lab-*")) == temp_dirs
