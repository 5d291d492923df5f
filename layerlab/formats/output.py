"""All or nothing: how every writer in layerlab creates its output.

A flatten or a save that fails half way must not leave a half-written tree that looks
finished, and must never touch what the user already had. So writers build their output
in a staging directory beside the destination and rename it into place at the end; if
anything goes wrong, including Ctrl-C, the staging directory is removed. The destination
itself must be absent or empty (`safety.check_destination`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..safety import LayerlabError, check_destination

__all__ = ["new_directory", "new_file", "remove_tree"]


def remove_tree(path: Path) -> None:
    """Remove a tree we wrote, also when its directories are read-only (non-root runs).

    shutil.rmtree never follows symlinks inside the tree; a read-only directory is made
    writable before retrying, so image modes such as 0555 cannot block cleanup.
    """

    def retry(func: object, failed: str, _exc: object) -> None:
        parent = os.path.dirname(failed)
        if not os.path.islink(parent):
            os.chmod(parent, stat.S_IRWXU)
        if os.path.isdir(failed) and not os.path.islink(failed):
            os.chmod(failed, stat.S_IRWXU)
            shutil.rmtree(failed)
        else:
            os.unlink(failed)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=retry)


def _empty(dest: Path) -> None:
    """Remove everything inside `dest` (which was empty when we started), keep `dest`."""
    with os.scandir(dest) as names:
        children = [Path(entry.path) for entry in names]
    for child in children:
        if child.is_dir() and not child.is_symlink():
            remove_tree(child)
        else:
            child.unlink()


@contextlib.contextmanager
def new_directory(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty directory to write into; on success it becomes `dest`.

    `dest` must be absent or empty. The work happens in a sibling staging directory that is
    renamed onto `dest`, so `dest` appears complete or not at all. When `dest` is a mount
    point or its parent is not writable, we write into `dest` directly and, on failure,
    remove what we put there (it was empty, so all of it is ours).
    """
    dest = Path(dest)
    existed = check_destination(dest)
    stage: Path | None = None
    mount_point = existed and os.stat(dest).st_dev != os.stat(dest.parent).st_dev
    if not mount_point:
        with contextlib.suppress(OSError):
            stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.layerlab-", dir=dest.parent))
    if stage is None and not existed:
        raise LayerlabError(f"cannot create {dest}: its parent directory is not writable")
    target = stage if stage is not None else dest
    try:
        yield target
        if stage is not None:
            os.rename(stage, dest)
    except BaseException:
        if stage is not None:
            remove_tree(stage)
        else:
            _empty(dest)
        raise


@contextlib.contextmanager
def new_file(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `dest`; on success it is renamed to `dest`.

    An existing `dest` is refused: layerlab never overwrites a user's file.
    """
    dest = Path(dest)
    if os.path.lexists(dest):
        raise LayerlabError(f"{dest} already exists; remove it or choose another name")
    if not dest.parent.is_dir():
        raise LayerlabError(f"the directory of {dest} does not exist; create it first")
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.layerlab-", dir=dest.parent)
    os.close(fd)
    try:
        yield Path(name)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(name, 0o666 & ~umask)  # mkstemp's 0600 is for the staging file only
        os.rename(name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
