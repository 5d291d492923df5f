"""An image: a config plus an ordered list of layers, and the IDs that bind them together.

Three kinds of identifier meet here, and the course keeps them apart:

* a layer's **DiffID** is the sha256 of its *uncompressed* tar; the config lists them in
  `rootfs.diff_ids`, and `docker image inspect` shows them as RootFS.Layers;
* a layer's **digest** is the sha256 of the blob *as stored* (often gzip), used by manifests;
* a **ChainID** names a layer *together with everything below it*:
  ChainID(L0) = DiffID(L0), ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
  Two images share a storage layer exactly when they share its ChainID.

The image ID that `docker image inspect` prints as "Id" is the sha256 of the config bytes,
so any change to the config, even to its history, gives a new image.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .layer import Layer
from .union import UnionView

__all__ = [
    "EMPTY_TAR_DIFF_ID",
    "LAYER_TAR",
    "LayerRef",
    "Image",
    "sha256_digest",
    "chain_ids",
    "canonical_json",
]

#: DiffID of the empty tar (1024 zero bytes): what an empty changeset hashes to.
EMPTY_TAR_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


def sha256_digest(data: bytes) -> str:
    """`sha256:<hex>` of some bytes: the one digest format of the whole OCI world."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """The ChainID of every prefix of a layer stack (the `sha256:` prefixes are hashed too)."""
    chain: list[str] = []
    for diff_id in diff_ids:
        chain.append(diff_id if not chain else sha256_digest(f"{chain[-1]} {diff_id}".encode()))
    return chain


def canonical_json(value: Any) -> bytes:
    """Stable JSON bytes for configs we create: same content, same image ID."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class LayerRef:
    """One layer as an image references it: the model plus the identifiers of its blob."""

    layer: Layer
    diff_id: str
    digest: str
    size: int
    media_type: str = LAYER_TAR
    #: Opens the blob exactly as stored (compressed or not), for saving the image again.
    open_blob: Callable[[], BinaryIO] | None = field(default=None, repr=False)


class Image:
    """An image config and its layers, bottom first."""

    def __init__(
        self,
        config: bytes | dict[str, Any],
        layers: Sequence[LayerRef],
        *,
        repo_tags: Sequence[str] = (),
    ) -> None:
        self.config_bytes = config if isinstance(config, bytes) else canonical_json(config)
        self.config: dict[str, Any] = json.loads(self.config_bytes)
        self.layers = list(layers)
        self.repo_tags = list(repo_tags)
        diff_ids = self.diff_ids
        if len(diff_ids) != len(self.layers):
            raise ValueError(
                f"the config lists {len(diff_ids)} diff_ids but the image has "
                f"{len(self.layers)} layers; the image is corrupt"
            )
        for ref, expected in zip(self.layers, diff_ids, strict=True):
            if ref.diff_id != expected:
                raise ValueError(
                    f"layer {ref.digest} has DiffID {ref.diff_id}, "
                    f"but the config expects {expected}"
                )
        # Name each layer the way people point at it: short DiffID and the build step.
        created = [h.get("created_by") or "" for h in self.layer_history()]  # null is absent
        for i, ref in enumerate(self.layers):
            ref.layer.name = ref.layer.name or ref.diff_id.split(":")[-1][:12]
            if not ref.layer.created_by and i < len(created):
                ref.layer.created_by = created[i]

    @property
    def id(self) -> str:
        """What `docker image inspect` calls "Id": the digest of the config bytes."""
        return sha256_digest(self.config_bytes)

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def chain_ids(self) -> list[str]:
        return chain_ids(self.diff_ids)

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.config.get("history") or [])  # JSON null counts as none

    def layer_history(self) -> list[dict[str, Any]]:
        """The history entries that produced a layer (those without `empty_layer`)."""
        return [h for h in self.history if not h.get("empty_layer")]

    def model_layers(self) -> list[Layer]:
        """The layers as model objects, bottom first, named by their short DiffID."""
        return [ref.layer for ref in self.layers]

    def view(self) -> UnionView:
        """The merged root filesystem a container of this image starts from."""
        return UnionView(self.model_layers())

    def inspect(self) -> dict[str, Any]:
        """The fields of `docker image inspect` that the course talks about."""
        cfg = self.config
        return {
            "Id": self.id,
            "RepoTags": list(self.repo_tags),
            "Created": cfg.get("created", ""),
            "Architecture": cfg.get("architecture", ""),
            "Os": cfg.get("os", ""),
            "Config": cfg.get("config", {}),
            "Size": sum(ref.layer.size for ref in self.layers),
            "RootFS": {"Type": "layers", "Layers": self.diff_ids},
            "History": self.history,
        }

    def __repr__(self) -> str:
        tag = f" {self.repo_tags[0]}" if self.repo_tags else ""
        return f"<Image{tag} {self.id[7:19]}: {len(self.layers)} layers>"
