"""Questions the checkers ask of the model, in one place so every exercise asks them alike.

A checker judges outcomes: did the image stay untouched, what does the container see,
which names would the committed tar hold. These helpers answer with plain values
(sets, tuples of names) that a checker can compare and quote in a hint.
"""

from __future__ import annotations

import io
import posixpath
import tarfile

from ..changeset import write_changeset
from ..container import Container
from ..layer import Layer
from ..safety import OPAQUE_MARKER, WHITEOUT_PREFIX
from .framework import Wrong

__all__ = ["snapshot", "require_image_untouched", "visible_paths", "layer_names", "tar_paths"]


def snapshot(layers: list[Layer]) -> list[Layer]:
    """Copies of layers, to prove later that nobody edited them."""
    return [layer.copy() for layer in layers]


def require_image_untouched(before: list[Layer], container: Container) -> None:
    """A ✗ for the learner who edits an image layer object instead of using the container."""
    if container.image_layers != before:
        raise Wrong(
            "edited-image",
            "you changed an image layer object. Image layers are read-only and shared by "
            "every container of the image; a container changes files through its own rw "
            "layer (container.unlink, container.write, ...).",
        )


def visible_paths(container: Container) -> set[str]:
    """Every path a process in the container can see (bind mounts aside)."""
    return {node.path for node in container.view().walk() if node.path != "/"}


def _names(tar: bytes) -> tuple[str, ...]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return tuple(sorted(name.rstrip("/") for name in archive.getnames()))


def layer_names(layer: Layer | None) -> tuple[str, ...]:
    """The member names of a layer's OCI tar, sorted, without a directory's trailing '/'."""
    if layer is None:
        return ()
    buffer = io.BytesIO()
    write_changeset(layer, buffer)
    return _names(buffer.getvalue())


def tar_paths(tar: bytes | None) -> set[str]:
    """The model paths a layer tar changes: '.wh.x' counts as a change to x."""
    paths = set()
    for name in _names(tar) if tar else ():
        parent, base = posixpath.split(name)
        if base != OPAQUE_MARKER:
            paths.add("/" + posixpath.join(parent, base.removeprefix(WHITEOUT_PREFIX)))
    return paths
