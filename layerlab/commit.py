"""`docker commit`: turn a container's read-write layer into a new image layer.

Commit captures the rw layer and nothing else. The image layers are already in the image;
the init layer's files are Docker's per-container plumbing, and the three files a
container writes most (hosts, hostname, resolv.conf) are bind mounts that never touched the
rw layer in the first place. A deleted `/.dockerenv`, on the other hand, *is* a change in the
rw layer (a whiteout), so it is committed.

The new image is the parent's config with the new DiffID appended to `rootfs.diff_ids` and
one more `history` entry. A commit with no changes adds history with `empty_layer: true`
and no layer, exactly like a Dockerfile `ENV` step.

Layers are reproducible: entries sorted, owner names dropped, optional fixed mtime, and a
fixed `created` time unless you give one, so the same change always gets the same digest.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .image import Image, LayerRef, canonical_json
from .layer import Layer
from .tar.write import write_changeset

__all__ = ["CommitResult", "commit", "build_image", "EPOCH"]

#: The `created` time of images we make, unless told otherwise: reproducible by default.
EPOCH = "1970-01-01T00:00:00Z"


@dataclass(frozen=True)
class CommitResult:
    """The new image, and the layer it added (None for a no-change commit)."""

    image: Image
    layer: Layer | None
    tar: bytes | None

    @property
    def diff_id(self) -> str | None:
        return self.image.diff_ids[-1] if self.layer is not None else None

    def __str__(self) -> str:
        if self.layer is None:
            return f"no changes: {self.image!r} adds an empty_layer history entry"
        return f"{self.image!r}: new layer {self.diff_id} with {len(self.layer)} entries"


def _layer_ref(layer: Layer, *, mtime: int | None) -> tuple[LayerRef, bytes]:
    buffer = io.BytesIO()
    diff_id = write_changeset(layer, buffer, mtime=mtime)
    data = buffer.getvalue()
    ref = LayerRef(layer, diff_id, diff_id, len(data), open_blob=lambda: io.BytesIO(data))
    return ref, data


def _base_config() -> dict[str, Any]:
    return {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "created": EPOCH,
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    }


def _add_layer(
    config: dict[str, Any], layer: Layer | None, history: dict[str, Any], *, mtime: int | None
) -> tuple[LayerRef | None, bytes | None]:
    """Append one build or commit step to `config` (in place)."""
    config.setdefault("history", []).append(history)
    if layer is None:
        history["empty_layer"] = True
        return None, None
    ref, data = _layer_ref(layer, mtime=mtime)
    config.setdefault("rootfs", {"type": "layers", "diff_ids": []})["diff_ids"].append(ref.diff_id)
    return ref, data


def commit(
    parent: Image | Sequence[Layer],
    changes: Layer | None,
    *,
    created_by: str = "layerlab commit",
    comment: str = "",
    author: str = "",
    created: str = EPOCH,
    tag: str | None = None,
    mtime: int | None = None,
) -> CommitResult:
    """A new image: `parent` (an image, or bare layers bottom first) plus `changes`.

    It takes layers, not a container, so that the model of an image never needs to know
    what a container is; `Container.commit` passes its parent and its rw layer's changes.
    `changes` None records a history entry with no layer, as a no-change commit does.
    """
    if not isinstance(parent, Image):
        parent = build_image(parent)
    config = copy.deepcopy(parent.config)
    config["created"] = created
    history: dict[str, Any] = {"created": created, "created_by": created_by}
    if comment:
        history["comment"] = comment
    if author:
        history["author"] = author
        config["author"] = author
    ref, data = _add_layer(config, changes, history, mtime=mtime)
    layers = [*parent.layers, ref] if ref is not None else list(parent.layers)
    image = Image(canonical_json(config), layers, repo_tags=[tag] if tag else [])
    return CommitResult(image, ref.layer if ref else None, data)


def build_image(
    layers: Sequence[Layer],
    *,
    tag: str | None = None,
    created: str = EPOCH,
    mtime: int | None = None,
) -> Image:
    """An image from model layers, one history entry each, as `docker build` would record."""
    config = _base_config()
    config["created"] = created
    refs = []
    for layer in layers:
        history = {"created": created, "created_by": layer.created_by or f"layer {layer.name}"}
        ref, _ = _add_layer(config, layer, history, mtime=mtime)
        assert ref is not None
        refs.append(ref)
    return Image(canonical_json(config), refs, repo_tags=[tag] if tag else [])
