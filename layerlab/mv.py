"""What `mv` does on a union mount: rename(2), and when overlayfs says EXDEV, copy and delete.

overlayfs (without redirect_dir, which Docker leaves off) refuses to rename a directory that
a lower layer supplies. `mv` then does what it does across filesystems: it copies the tree
like `cp -a` and removes the original with `rm -r`. So `mv /app /srv` in a container costs
a full copy of /app into the rw layer plus a whiteout for /app, which is what `docker
commit` then ships. This module follows busybox's mv, the one in the course's images:

* `mv OLD DIR` moves OLD *into* an existing directory DIR (DIR, and then DIR/OLD, are
  looked up following symlinks, so a symlink loop there fails with ELOOP);
* on EXDEV an existing target is unlinked first, and a directory there is an error (EISDIR);
* the copy keeps owner, mode and mtime, sets a directory's metadata after its children,
  and keeps hardlinks inside the tree linked (names that share an inode in the merged view).
"""

from __future__ import annotations

import errno
import os
import posixpath
from dataclasses import replace

from .copy_on_write import Overlay
from .entries import Dir, Hardlink, Symlink, normpath

__all__ = ["move"]


def move(overlay: Overlay, old: str, new: str) -> None:
    """`mv OLD NEW` through `overlay`."""
    old, new = normpath(old), normpath(new)
    if isinstance(_stat(overlay, new), Dir):
        new = posixpath.join(new, posixpath.basename(old))
        _stat(overlay, new)  # stat(2)ed too: a symlink loop there is ELOOP
    try:
        overlay.rename(old, new)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # rename walked both names, so both parents resolve; copy to the real place
        old = overlay.resolve(old, follow_last=False)
        new = overlay.resolve(new, follow_last=False)
        existing = overlay.lookup(new)
        if isinstance(existing, Dir):
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), new) from None
        if existing is not None:
            overlay.unlink(new)
        overlay.effects.notes.append(f"EXDEV: copy {old} to {new}, then delete {old}")
        _copy_tree(overlay, old, new, {})
        overlay.remove(old)


def _stat(overlay: Overlay, path: str) -> object:
    """What stat(2) finds at `path`, following symlinks; None for ENOENT, which mv
    tolerates (the errors that matter then come from rename, which walks OLD first)."""
    try:
        return overlay.lookup(overlay.resolve(path, follow_last=True))
    except FileNotFoundError:
        return None


def _inode(overlay: Overlay, path: str) -> tuple[str, object]:
    """Which file `path` names in the merged view: upper names by their data's path,
    lower ones by the lower view's inode (a copied-up name is a new inode)."""
    entry = overlay.upper.get(path)
    if isinstance(entry, Hardlink):
        return ("upper", normpath(entry.target))
    if entry is not None:
        return ("upper", path)
    node = overlay.lower.lookup(path)
    return ("lower", node.inode if node else path)


def _copy_tree(overlay: Overlay, old: str, new: str, copied: dict[tuple[str, object], str]) -> None:
    """`cp -a OLD NEW`; `copied` maps each inode already copied to its new name."""
    entry = overlay.lookup(old)
    assert entry is not None
    if isinstance(entry, Dir):
        overlay.mkdir(new, entry.meta.mode)
        for name in overlay.listdir(old):
            _copy_tree(overlay, f"{old}/{name}", f"{new}/{name}", copied)
        # like cp -a, the directory's own times and owner are set after its children
        overlay.upper[new] = replace(overlay.upper[new], meta=entry.meta)
        return
    key = _inode(overlay, old)
    if key in copied:
        overlay.link(copied[key], new)
    elif isinstance(entry, Symlink):  # busybox sets no times on a symlink it makes
        overlay.create(new, Symlink(entry.meta.with_(mtime=overlay.clock), target=entry.target))
    else:
        overlay.create(new, entry)
    copied[key] = new
