"""Notebook 06's second engine: the commit of notebook 07's lab, once more in Podman.

The same busybox base and the same shell steps (without `rm /.dockerenv`: Podman makes
no such file) run in a real Podman as root, with a storage of its own
(`layerlab.live.podman`); `podman commit` and `podman save` hand the image back. The
same steps run on `Container(..., engine="podman")` over the very same base layers, and
the lab compares the committed layer's member names and the new image's merged tree.

Without Podman, or without root, or with `LAYERLAB_LIVE=0`, the lab shows a run
recorded with Podman 4.3.1 on Debian 12, labelled as such; the model's side is still
computed. tests/exercises/test_podman_lab.py re-runs the live lab against the recording.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..commit import build_image
from ..container import Container
from ..image import Image
from ..layer import Layer
from ..tar.write import layer_names
from .docker_commit import BUSYBOX, STEPS, _blob_names, busybox_base, tree
from .kernel.result import LiveResult, derived, fact, live_world
from .podman import committed_run, podman_capability

__all__ = [
    "ENGINE_STEPS",
    "RECORDED_PODMAN_LAYER",
    "PodmanComparison",
    "compare_with_podman",
    "engine_commit",
]

#: The lab's steps both engines can run: notebook 07's, without deleting /.dockerenv.
ENGINE_STEPS = tuple(step for step in STEPS if "dockerenv" not in step[0])

#: The member names of the layer `podman commit` made from ENGINE_STEPS, recorded with
#: Podman 4.3.1 (overlay, runc 1.1.5) as root on Debian 12;
#: tests/exercises/test_podman_lab.py re-checks them against a live Podman.
RECORDED_PODMAN_LAYER: tuple[str, ...] = (
    "data",
    "data/.wh..wh..opq",
    "data/z",
    "dev",
    "etc",
    "etc/.wh.issue",
    "etc/hostname",
    "etc/hosts",
    "etc/motd",
    "etc/mtab",
    "proc",
    "run",
    "run/.containerenv",
    "srv",
    "srv/site",
    "srv/site/index.html",
    "sys",
)


def engine_commit(base: Image, engine: str) -> tuple[Image, Layer | None]:
    """Run ENGINE_STEPS on a layerlab container of `base` as `engine` would, and commit."""
    container = Container(base, name="web", hostname="web", engine=engine)
    for _, step in ENGINE_STEPS:
        step(container)
    result = container.commit()
    return result.image, result.layer


@dataclass(frozen=True, kw_only=True)
class PodmanComparison(LiveResult):
    """Podman's committed layer next to layerlab's, and whether the new images agree."""

    title: ClassVar[str] = "the same commit in layerlab and in a real Podman"
    lesson: ClassVar[str] = (
        "Podman has no init layer: its commit holds the empty placeholders runc made for "
        "mount points and bind-mounted files, and libpod's /etc/mtab. What the container "
        "wrote to hostname and hosts went to the bind mounts, into neither layer."
    )
    podman_layer: tuple[str, ...] = fact("podman commit's layer", show=list)
    layerlab_layer: tuple[str, ...] = fact("layerlab commit's layer (engine='podman')", show=list)
    same_names = derived("same member names", lambda r: r.podman_layer == r.layerlab_layer)
    same_tree: bool = fact("same merged tree in the new image")


def compare_with_podman() -> PodmanComparison:
    """Run the lab in Podman when it can run here, else show the recorded run."""
    ok, why = podman_capability()
    if ok:
        try:
            return _live()
        except (OSError, subprocess.SubprocessError, AssertionError, ValueError) as exc:
            why = f"podman: the live run failed ({' '.join(str(exc).split())[:160]})"
    _, layer = engine_commit(build_image([busybox_base()], tag="busybox:lab"), "podman")
    return PodmanComparison(
        live=False,
        world="simulated",
        reason=f"{why}; showing a run recorded with Podman 4.3.1 (overlay, runc)",
        podman_layer=RECORDED_PODMAN_LAYER,
        layerlab_layer=layer_names(layer),
        same_tree=True,
    )


def _live() -> PodmanComparison:
    from ..formats.docker_archive import load_docker_archive

    busybox = Path(BUSYBOX).read_bytes()
    script = " && ".join(command for command, _ in ENGINE_STEPS)
    with committed_run(busybox_base(busybox), "web", script, "--hostname", "web") as (saved, _):
        image = load_docker_archive(saved)
        parent_config = dict(image.config)
        parent_config["rootfs"] = {"type": "layers", "diff_ids": image.diff_ids[:-1]}
        parent_config["history"] = image.history[:-1]
        model_image, model_layer = engine_commit(Image(parent_config, image.layers[:-1]), "podman")
        return PodmanComparison(
            live=True,
            world=live_world(),
            podman_layer=_blob_names(image.layers[-1]),
            layerlab_layer=layer_names(model_layer),
            same_tree=tree(image.view()) == tree(model_image.view()),
        )
