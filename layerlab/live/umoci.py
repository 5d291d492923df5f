"""Notebook 08's last step: does an independent OCI tool read the image we committed?

`umoci` (openSUSE's OCI image tool, in Debian) knows nothing of layerlab. The lab asks it
three things about the layout the notebook saved: which tags it holds (`umoci ls`), what
each layer's history says (`umoci stat`), and what root filesystem the layers unpack to
(`umoci unpack --rootless`, which works for root and ordinary users alike). Its answers
are compared with the model's.

Without umoci, or with LAYERLAB_LIVE=0, the lab shows the same facts computed from the
model, labelled SIMULATED: what umoci prints for such a layout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..image import Image
from .kernel.cleanup import temp_dir
from .kernel.probe import live_enabled, off_reason
from .kernel.result import LiveResult, derived, fact, live_world

__all__ = ["UmociRead", "umoci_read"]

INSTALL = "umoci is not installed (Debian and Ubuntu: apt-get install umoci)"


@dataclass(frozen=True, kw_only=True)
class UmociRead(LiveResult):
    """What umoci says about an OCI layout, next to what layerlab says."""

    tags: list[str] = fact("umoci ls: tags")
    layers: int = fact("umoci stat: layers")
    top_layer_is_ours: bool = fact("top layer's DiffID is the commit's")
    last_step: str = fact("top layer created by")
    present: dict[str, bool]
    per_path = derived(
        None, lambda r: [(f"unpacked rootfs has {path}", seen) for path, seen in r.present.items()]
    )
    title: ClassVar[str] = "umoci reads the committed image"
    lesson: ClassVar[str] = (
        "A tool that knows nothing of layerlab lists the tag, finds our layer on top, and "
        "unpacks a root filesystem with the container's changes applied."
    )


def _facts(image: Image, tag: str, paths: Sequence[str]) -> dict[str, object]:
    """What a faithful OCI tool must report for `image`, from the model alone."""
    view = image.view()
    return {
        "tags": [tag],
        "layers": len(image.layers),
        "top_layer_is_ours": True,
        "last_step": image.history[-1].get("created_by", ""),
        "present": {path: view.lookup(path) is not None for path in paths},
    }


def _umoci(*args: str) -> str:
    done = subprocess.run(["umoci", *args], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"umoci {args[0]} failed: {' '.join(done.stderr.split())}")
    return done.stdout


def umoci_read(
    layout: str | os.PathLike[str], tag: str, image: Image, paths: Sequence[str]
) -> UmociRead:
    """Ask umoci about the layout at `layout` (which holds `image` as `tag`), and whether
    each of `paths` exists in the root filesystem it unpacks."""
    expected = _facts(image, tag, paths)
    if not live_enabled():
        return UmociRead(live=False, world="simulated", reason=off_reason(), **expected)
    if shutil.which("umoci") is None:
        return UmociRead(live=False, world="simulated", reason=INSTALL, **expected)
    try:
        return _ask_umoci(os.fspath(layout), tag, image, paths)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        why = f"the live attempt failed: {exc}".replace(os.fspath(layout), "<layout>")
        return UmociRead(live=False, world="simulated", reason=why, **expected)


def _ask_umoci(layout: str, tag: str, image: Image, paths: Sequence[str]) -> UmociRead:
    ref = f"{layout}:{tag}"
    history = json.loads(_umoci("stat", "--json", "--image", ref))["history"]
    layers = [step for step in history if step.get("layer")]
    with temp_dir("umoci") as tmp:
        bundle = os.path.join(tmp, "bundle")
        _umoci("unpack", "--rootless", "--image", ref, bundle)
        rootfs = os.path.join(bundle, "rootfs")
        present = {path: os.path.lexists(rootfs + path) for path in paths}
    return UmociRead(
        live=True,
        world=live_world(),
        tags=sorted(_umoci("ls", "--layout", layout).split()),
        layers=len(layers),
        top_layer_is_ours=bool(layers) and layers[-1]["diff_id"] == image.diff_ids[-1],
        last_step=history[-1].get("created_by", ""),
        present=present,
    )
