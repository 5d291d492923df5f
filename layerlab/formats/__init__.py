"""Adapters between the model and the image stores of the outside world.

    oci             OCI image layouts (DIR or DIR:TAG)
    docker_archive  `docker save` tars, legacy and OCI forms
    ondisk          layer directories, AuFS or overlayfs spelling

A layer's own bytes (the tar changeset, its compression, flattening) are `layerlab.tar`;
all-or-nothing destinations are `layerlab.output`.

`load_image` picks the right reader for a path, as the CLI does.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..image import Image

__all__ = ["load_image"]


def load_image(ref: str | os.PathLike[str]) -> Image:
    """Load `DIR`, `DIR:TAG`, `FILE.tar` or `FILE.tar:TAG`: an OCI layout or a docker save tar."""
    from ..safety import LayerlabError
    from .docker_archive import is_docker_archive, load_docker_archive
    from .oci import is_layout, load_oci, split_ref

    path, tag = split_ref(os.fspath(ref))
    if is_layout(path):
        return load_oci(path, tag)
    if is_docker_archive(path):
        return load_docker_archive(path, tag)
    if not path.exists():
        raise LayerlabError(
            f"{path} does not exist; give an OCI layout directory or a docker save tar"
        )
    raise LayerlabError(
        f"{path} is neither an OCI layout (no oci-layout file) nor a docker save tar"
    )
