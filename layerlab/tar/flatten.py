"""Flatten: write the root filesystem a container of the image would start with.

`docker export` and `umoci unpack` extract layer after layer, writing files that later
layers delete again. We compute the union in memory first (`UnionView`) and write each
visible file exactly once, streaming its bytes from the layer blob it comes from (in the
kernel with copy_file_range when the blob is a plain file). That is why flattening beats
both (see bench/README.md).

Safety against a hostile image comes from two helpers: the output is built in a staging
directory and renamed into place, or removed on any error or Ctrl-C
(`output.new_directory`); and every name is created relative to a directory we made
ourselves, never through a path an image symlink could redirect (`tar.tree_writer`).
DEST itself is the user's: mode 0700, their owner, whatever the image's root entry says
(umoci's safe default). Setuid files and device nodes of an untrusted image then stay out
of other users' reach until the owner decides otherwise.
Hardlinks in the image become hardlinks in the output, joined by `Node.inode`.

One known disagreement: when a layer adds `/lib/foo` and a lower `/lib` is a symlink, the
union (like overlayfs and Docker) makes `/lib` a real directory; umoci writes through the
link instead. We follow the union: it is what a container sees.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..entries import Dir
from ..layer import Layer
from ..output import new_directory
from ..safety import LayerlabError
from ..union import UnionView
from .progress import Progress
from .tree_writer import TreeWriter, WriteStats

if TYPE_CHECKING:
    from ..image import Image

__all__ = ["FlattenResult", "flatten", "view_of"]

#: Threads that create and fill files while the union is walked (see TreeWriter); none
#: on one CPU, where they could only take turns.
_WRITERS = 2 if (os.cpu_count() or 1) > 1 else 0


@dataclass
class FlattenResult(WriteStats):
    """Counts of what `flatten` wrote into `dest`, and what it had to skip."""

    dest: Path = Path()

    def __str__(self) -> str:
        return f"{self.dest}: {super().__str__()}"


def view_of(source: Image | UnionView | Sequence[Layer]) -> UnionView:
    """The union of an image, a list of layers or an existing view; bad stacks are refused."""
    if isinstance(source, UnionView):
        return source
    try:
        return UnionView(list(source)) if isinstance(source, Sequence) else source.view()
    except ValueError as exc:
        raise LayerlabError(f"the image's layers do not stack: {exc}") from None


def flatten(
    source: Image | UnionView | Sequence[Layer],
    dest: str | os.PathLike[str],
    *,
    progress: bool | None = None,
) -> FlattenResult:
    """Write the merged root filesystem of `source` to `dest`, which must be absent or empty.

    `progress` None shows a progress bar on stderr when it is a terminal and the flatten
    takes more than half a second.
    """
    view = view_of(source)
    result = FlattenResult(dest=Path(dest))
    if progress is None:
        progress = sys.stderr.isatty()
    total = sum(1 for _ in view.walk()) if progress else 0
    first_name: dict[int, str] = {}
    path = "/"
    writer = None
    with new_directory(dest) as staging:
        try:
            with (
                TreeWriter(staging, result, keep_root=True, workers=_WRITERS) as writer,
                Progress(total, progress) as bar,
            ):
                for node in view.walk():
                    path, entry = node.path, node.entry
                    if isinstance(entry, Dir):
                        writer.dir(path, entry.meta)
                    elif node.inode in first_name:
                        writer.link(path, first_name[node.inode])
                    else:
                        first_name[node.inode] = path
                        writer.add(path, entry)
                    bar.update()
                path = "/"
        except OSError as exc:
            path = (writer and writer.failed_path) or path
            shown = path if len(path) <= 120 else f"...{path[-100:]}"  # deep trees
            raise LayerlabError(f"cannot write {shown} in {dest}: {exc.strerror or exc}") from None
    return result
