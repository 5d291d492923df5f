"""Writing through a union mount: overlayfs's copy-up rules on a model upper layer.

`Overlay` holds read-only lower layers and one writable upper `Layer`, and performs file
operations the way the kernel's overlayfs does as Docker's overlay2 mounts it: `index=off`,
and `redirect_dir` and `metacopy` at the kernel's defaults, off (docs/semantics.md 15):

* the first open-for-write, chmod or chown of a lower file copies the whole file up,
  keeping owner, mode and mtime; parent directories are copied up first;
* deleting something a lower layer has leaves a whiteout; deleting something only the
  upper layer has simply removes it;
* `mkdir` over a whited-out name makes an opaque directory;
* renaming a directory that exists in a lower layer fails with EXDEV, so `mv` falls back
  to copy-and-delete (see `layerlab.mv`);
* copy-up breaks hardlinks between lower files.

Docker builds both the `-init` layer and the container's read-write layer this way.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .entries import (
    Content,
    Dir,
    Entry,
    File,
    Hardlink,
    Meta,
    OpaqueDir,
    Symlink,
    Whiteout,
    ancestors,
    is_under,
    normpath,
    parent_of,
)
from .layer import Layer
from .pathwalk import walk
from .union import UnionView

__all__ = ["Overlay", "Effects"]


def _kill_setid(meta: Meta) -> Meta:
    """What the kernel does to a file's mode on write or chown without CAP_FSETID."""
    mode = meta.mode & ~0o4000
    if mode & 0o010:
        mode &= ~0o2000
    return meta.with_(mode=mode)


def _error(code: int, path: str, why: str = "") -> OSError:
    message = os.strerror(code) + (f" ({why})" if why else "")
    return OSError(code, message, path)


@dataclass
class Effects:
    """What one operation did to the upper layer: the facts the copy-on-write player shows."""

    copied_up: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Overlay:
    """A writable upper layer over a read-only lower stack, with overlayfs semantics."""

    def __init__(
        self,
        lower: UnionView | list[Layer],
        upper: Layer | None = None,
        *,
        clock: int = 0,
        fsetid: bool = True,
    ) -> None:
        self.lower = lower if isinstance(lower, UnionView) else UnionView(lower)
        self.upper = upper if upper is not None else Layer(name="upper")
        #: mtime given to files this overlay writes; a fixed clock keeps digests reproducible.
        self.clock = clock
        #: Does the writer hold CAP_FSETID (root in a Docker container does)? Without it a
        #: write clears set-user-ID, as for root inside a rootless user namespace.
        self.fsetid = fsetid
        self.effects = Effects()

    # -- looking things up through the union ----------------------------------------------
    def _lower_visible(self, path: str) -> bool:
        """Can the lower layers still show `path`, or does the upper layer hide it?"""
        for parent in ancestors(path):
            above = self.upper.get(parent)
            if above is not None and (
                isinstance(above, (Whiteout, OpaqueDir)) or not isinstance(above, Dir)
            ):
                return False
        return path == "/" or self.lower.exists(path)

    def _is_merge(self, path: str) -> bool:
        """A "merged" directory: in the upper layer, not opaque, and in a lower layer too."""
        entry = self.upper.get(path) if path != "/" else Dir()
        if not isinstance(entry, Dir) or entry.opaque or not self._lower_visible(path):
            return False
        lower = self.lower.lookup(path)
        return lower is not None and lower.entry.is_dir

    def _is_merged_or_lower(self, path: str) -> bool:
        """Does a lower layer still supply this directory (so rename(2) gives EXDEV)?"""
        if isinstance(self.upper.get(path), OpaqueDir):
            return False
        lower = self.lower.lookup(path) if self._lower_visible(path) else None
        return lower is not None and lower.entry.is_dir

    def _upper_entry(self, path: str) -> Entry | None:
        entry = self.upper.get(path)
        if isinstance(entry, Hardlink):
            entry = self.upper.get(entry.target)
        return entry

    def lookup(self, path: str) -> Entry | None:
        """The merged entry at `path` (no symlink following), or None."""
        path = normpath(path)
        entry = self.upper.get(path)
        if isinstance(entry, Whiteout):
            return None
        if entry is not None:
            return self._upper_entry(path)
        if not self._lower_visible(path):
            return None
        node = self.lower.lookup(path)
        return node.entry if node else None

    def listdir(self, path: str) -> list[str]:
        """Merged names in a directory: upper names plus lower names not hidden."""
        path = normpath(path)
        names = set()
        prefix = "" if path == "/" else path
        for p in self.upper:
            if parent_of(p) == path and p != "/" and not isinstance(self.upper[p], Whiteout):
                names.add(p[len(prefix) + 1 :])
        if self._lower_visible(path) and not isinstance(self.upper.get(path), OpaqueDir):
            lower = self.lower.lookup(path)
            if lower is not None and lower.entry.is_dir:
                for name in self.lower.readdir(path):
                    if f"{prefix}/{name}" not in self.upper:
                        names.add(name)
        return sorted(names)

    def resolve(self, path: str, *, follow_last: bool = True) -> str:
        """Walk `path` through the merged view like the kernel (see `layerlab.pathwalk`)."""
        return walk(path, self.lookup, follow_last=follow_last)

    # -- copy-up ----------------------------------------------------------------------------
    def copy_up(self, path: str) -> None:
        """Bring `path` (and its parents first) into the upper layer, unchanged.

        A directory is copied up alone: its lower children keep showing through.
        """
        for parent in [*ancestors(path), path]:
            if parent in self.upper:
                continue
            entry = self.lookup(parent)
            if entry is None:
                raise _error(errno.ENOENT, parent)
            if isinstance(entry, Dir):
                entry = Dir(entry.meta)  # a plain dir; opacity belongs to its own layer
            self.upper[parent] = entry
            self.effects.copied_up.append(parent)

    def _existing(self, path: str, *, follow_last: bool) -> tuple[str, Entry]:
        """Walk to an existing name: (canonical path, merged entry), or ENOENT."""
        path = self.resolve(path, follow_last=follow_last)
        entry = self.lookup(path)
        if entry is None:
            raise _error(errno.ENOENT, path)
        return path, entry

    def _new_name(self, path: str) -> str:
        """Walk to a name about to be created: the parents must exist, the name must not."""
        path = self.resolve(path, follow_last=False)
        if path == "/" or self.lookup(path) is not None:
            raise _error(errno.EEXIST, path)
        return path

    def _create(self, path: str, entry: Entry) -> None:
        for parent in ancestors(path):
            self.copy_up(parent)
        self.upper[path] = entry

    def create(self, path: str, entry: Entry) -> None:
        """A new name holding `entry` exactly as given (what `cp -a` and mknod(2) make)."""
        self._create(self._new_name(path), entry)

    # -- operations -------------------------------------------------------------------------
    def write(
        self, path: str, data: bytes | str, *, append: bool = False, mode: int = 0o644
    ) -> str:
        """open(path, O_WRONLY|O_CREAT|(O_APPEND or O_TRUNC)) then write(data).

        Returns the path actually written (symlinks are followed, as open(2) does).
        """
        path = self.resolve(path, follow_last=True)
        data = data.encode() if isinstance(data, str) else bytes(data)
        entry = self.lookup(path)
        if entry is None:
            self._create(path, File(Meta(mode=mode, mtime=self.clock), Content(data)))
            return path
        if isinstance(entry, Dir):
            raise _error(errno.EISDIR, path)
        if not isinstance(entry, File):
            raise _error(errno.EINVAL, path, f"cannot write to a {entry.kind} in the model")
        target = self._file_path(path)
        old = entry.content.read() if append else b""
        meta = entry.meta.with_(mtime=self.clock)
        if not self.fsetid and (data or not append):  # the kernel clears on truncate or write
            meta = _kill_setid(meta)
        self.upper[target] = File(meta, Content(old + data))
        return path

    def _file_path(self, path: str) -> str:
        """Copy up `path` if needed and return where its data lives in the upper layer."""
        self.copy_up(path)
        entry = self.upper[path]
        return normpath(entry.target) if isinstance(entry, Hardlink) else path

    def _change_meta(self, path: str, change: Callable[[Meta], Meta]) -> None:
        path, _ = self._existing(path, follow_last=True)
        target = self._file_path(path)
        current = self.upper[target]
        self.upper[target] = replace(current, meta=change(current.meta))

    def chmod(self, path: str, mode: int) -> None:
        """chmod(2): a metadata change, which copies the whole file up."""
        self._change_meta(path, lambda m: m.with_(mode=mode))

    def chown(self, path: str, uid: int, gid: int) -> None:
        """chown(2): like chmod, a copy-up even though no data changes.

        Since Linux 2.2.13 a chown clears set-user-ID (and group-executable set-group-ID)
        on files even for root.
        """
        path, entry = self._existing(path, follow_last=True)
        kill = (lambda m: m) if isinstance(entry, Dir) else _kill_setid
        self._change_meta(path, lambda m: kill(m.with_(uid=uid, gid=gid)))

    def _delete(self, path: str, *, keep_links: bool = True) -> None:
        """Remove a name from the merged view: a whiteout if a lower layer still has it."""
        if keep_links:
            self._keep_hardlinks_alive(path)
        if self._lower_visible(path):
            for parent in ancestors(path):
                self.copy_up(parent)
            self.upper.remove_tree(path)
            self.upper[path] = Whiteout()
            self.effects.notes.append(f"whiteout {path}")
        else:
            self.upper.remove_tree(path)

    def _keep_hardlinks_alive(self, path: str) -> None:
        """Unlinking one name of an upper hardlink group must keep the inode for the others.

        Any non-directory can have several names (link(2) does not follow symlinks).
        """
        entry = self.upper.get(path)
        if entry is None or isinstance(entry, (Dir, Whiteout, Hardlink)):
            return
        others = [
            p
            for p, e in self.upper.items()
            if isinstance(e, Hardlink) and normpath(e.target) == path
        ]
        if others:
            heir, *rest = others
            self.upper[heir] = entry
            for p in rest:
                self.upper[p] = Hardlink(entry.meta, target=heir)

    def unlink(self, path: str) -> None:
        """unlink(2): files, symlinks, devices; never directories."""
        path, entry = self._existing(path, follow_last=False)
        if isinstance(entry, Dir):
            raise _error(errno.EISDIR, path)
        self._delete(path)

    def rmdir(self, path: str) -> None:
        """rmdir(2): only an empty merged directory."""
        path, entry = self._existing(path, follow_last=False)
        if not isinstance(entry, Dir):
            raise _error(errno.ENOTDIR, path)
        if path == "/":
            raise _error(errno.EBUSY, path)
        if self.listdir(path):
            raise _error(errno.ENOTEMPTY, path)
        self._delete(path)

    def remove(self, path: str) -> None:
        """rm -r: children first, then the directory, each through unlink/rmdir."""
        path, entry = self._existing(path, follow_last=False)
        if isinstance(entry, Dir):
            for name in self.listdir(path):
                self.remove(f"{path.rstrip('/')}/{name}")
            self.rmdir(path)
        else:
            self.unlink(path)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        """mkdir(2). Over a whiteout the new directory is opaque, so nothing below leaks back."""
        path = self._new_name(path)
        if isinstance(self.upper.get(path), Whiteout):
            self._create(path, OpaqueDir(Meta(mode=mode, mtime=self.clock)))
            self.effects.notes.append(f"opaque dir {path}")
        else:
            self._create(path, Dir(Meta(mode=mode, mtime=self.clock)))

    def symlink(self, target: str, path: str) -> None:
        """symlink(2): creates the link only; the target is never copied up."""
        path = self._new_name(path)
        self._create(path, Symlink(Meta(mode=0o777, mtime=self.clock), target=target))

    def link(self, existing: str, path: str) -> None:
        """link(2): the existing file is copied up first, then both names share it.

        The checks come in the kernel's order: the source, then the new name, then EPERM.
        """
        existing, entry = self._existing(existing, follow_last=False)
        path = self._new_name(path)
        if isinstance(entry, Dir):
            raise _error(errno.EPERM, existing, "hardlinks to directories are not allowed")
        target = self._file_path(existing)
        self._create(path, Hardlink(self.upper[target].meta, target=target))

    def rename(self, old: str, new: str) -> None:
        """rename(2). A directory a lower layer has cannot move: EXDEV, as without redirect_dir.

        The checks come in the kernel's order, so the errno matches what a program sees.
        """
        old = self.resolve(old, follow_last=False)  # both parents are walked first
        new = self.resolve(new, follow_last=False)
        old, entry = self._existing(old, follow_last=False)
        if old == new:
            return
        if is_under(new, old):
            raise _error(errno.EINVAL, new, "cannot move a directory into itself")
        if is_under(old, new):
            raise _error(errno.ENOTEMPTY, new)
        existing = self.lookup(new)
        if existing is not None:
            if isinstance(entry, Dir) and not isinstance(existing, Dir):
                raise _error(errno.ENOTDIR, new)
            if not isinstance(entry, Dir) and isinstance(existing, Dir):
                raise _error(errno.EISDIR, new)
        if isinstance(entry, Dir) and self._is_merged_or_lower(old):
            raise _error(
                errno.EXDEV,
                old,
                "a lower directory cannot be renamed without "
                "redirect_dir; mv copies and deletes instead",
            )
        if isinstance(existing, Dir) and self.listdir(new):
            raise _error(errno.ENOTEMPTY, new)
        self.copy_up(old)
        moved = [(p, self.upper[p]) for p in self.upper if is_under(p, old)]
        self._delete(old, keep_links=False)
        self.upper.remove_tree(new)
        for parent in ancestors(new):
            self.copy_up(parent)
        for p, e in moved:
            self.upper[new + p[len(old) :]] = e
        moved_dir = self.upper[new]
        if isinstance(moved_dir, Dir) and not moved_dir.opaque and self._is_merge(parent_of(new)):
            # The kernel marks a directory moved into a merged parent opaque, so that
            # nothing a lower layer has under the new name can ever show through it.
            self.upper[new] = OpaqueDir(moved_dir.meta)
        for p, e in self.upper.items():  # hardlinks follow their target's new name
            if isinstance(e, Hardlink) and is_under(normpath(e.target), old):
                self.upper[p] = Hardlink(e.meta, target=new + normpath(e.target)[len(old) :])
