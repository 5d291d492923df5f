"""How the kernel walks a path inside a container's root, one component at a time.

Every file operation starts here, and so do many of its errors: a missing directory on
the way gives ENOENT, a file on the way gives ENOTDIR, a symlink loop gives ELOOP. Symlinks
in the middle of a path are always followed; the last component is followed only by calls
that act on what a link points to (open, chmod), not by those that act on the name itself
(unlink, rename, mkdir, symlink, link). Absolute link targets restart at the container's
root and `..` stops there, which is why, exactly as inside a chroot, no link can lead out
of the image.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from .entries import Dir, Entry, Symlink, normpath

__all__ = ["walk", "MAX_SYMLINKS"]

#: Linux gives up after 40 symlinks in one lookup (MAXSYMLINKS).
MAX_SYMLINKS = 40


def walk(path: str, lookup: Callable[[str], Entry | None], *, follow_last: bool = True) -> str:
    """The canonical path `path` names, raising OSError with the kernel's errno on the way.

    The last component may be missing (a create names a path that does not exist yet);
    every component before it must be an existing directory.
    """
    pending = [p for p in normpath(path).split("/") if p]
    done: list[str] = []
    hops = 0
    while pending:
        name = pending.pop(0)
        if name == "..":
            if done:
                done.pop()
            continue
        current = "/" + "/".join([*done, name])
        entry = lookup(current)
        last = not pending
        if isinstance(entry, Symlink) and (follow_last or not last):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
            if entry.target.startswith("/"):
                done = []
            pending = [p for p in entry.target.split("/") if p not in ("", ".")] + pending
            continue
        if not last:
            if entry is None:
                raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), path)
            if not isinstance(entry, Dir):
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        done.append(name)
    return "/" + "/".join(done)
