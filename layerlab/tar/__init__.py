"""Everything about a layer's bytes: the tar changeset, read and written, and extracted.

umoci keeps a layer's extraction and generation as a pair of files in one package; so do
we. A layer tar is a changeset (OCI image-spec layer.md), and a layer's identity, its
DiffID, is the digest of that tar, which is why the model's `commit` writes one.

    headers     the tar header codec: one struct unpack per block, lazy fields
    blobslice   a window on a blob file that file contents read from, with pread
    blobs       compressed layer blobs (gzip, zstd) and digests, with their checks
    read        tar bytes -> Layer, every byte treated as hostile (`read_changeset`)
    write       Layer -> reproducible tar bytes and DiffID (`write_changeset`)
    treediff    the changeset between two directory trees (`layerlab diff`)
    tree_writer creating files without following an image's symlinks
    flatten     an image's merged rootfs, each visible file written once (`flatten.flatten`)
    progress    the bar `layerlab flatten --progress` draws

The names below load on first use, so that `commit` importing `write` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "read_changeset": "read",
    "write_changeset": "write",
    "diff_id_of": "write",
    "empty_diff_id": "write",
    "diff_trees": "treediff",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
