"""SimKernel's mount model: mount namespaces as trees of mounts, for runtime level 4 (08.6).

Small, but with the rules a runtime trips over, as fs/namespace.c enforces them: a mount
under a shared mount propagates to its peers (the host, unless the runtime made its copies
private); pivot_root wants new_root to be a mount point other than the current root's,
put_old under it, and no shared mount involved; umount2 of a mount with mounts below it is
EBUSY unless detached (MNT_DETACH); /proc shows the PID namespace of whoever mounted it
(SimKernel refuses one as a user namespace does: see its mount).
Files are only what a runtime looks at: directories and small files, on the host's disk (a
dict), in overlays of its directories (first lowerdir on top), and in proc.
"""

from __future__ import annotations

import errno
import itertools
import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Disk", "Mount", "MountNs", "Overlay", "Proc", "Where", "MS", "host_namespace"]

#: mount(2) and umount2(2) flags, as <sys/mount.h> numbers them.
MS = {
    "MS_RDONLY": 0x1,
    "MS_NOSUID": 0x2,
    "MS_NODEV": 0x4,
    "MS_NOEXEC": 0x8,
    "MS_BIND": 0x1000,
    "MS_MOVE": 0x2000,
    "MS_REC": 0x4000,
    "MS_PRIVATE": 0x40000,
    "MS_SLAVE": 0x80000,
    "MS_SHARED": 0x100000,
    "MNT_DETACH": 0x2,
}
_PROPAGATION = MS["MS_PRIVATE"] | MS["MS_SLAVE"] | MS["MS_SHARED"]
_groups = itertools.count(1)


def _fail(code: int) -> OSError:
    exc_type = {errno.ENOENT: FileNotFoundError, errno.EPERM: PermissionError}.get(code, OSError)
    return exc_type(code, os.strerror(code))


class Disk:
    """The host's disk: path -> None for a directory, or a file's text."""

    fstype = "ext4"

    def __init__(self, entries: dict[str, str | None]) -> None:
        self.entries = dict(entries)

    def get(self, path: str) -> str | None | bool:
        """The file's text, None for a directory, False if nothing is there."""
        return self.entries.get(path, False)

    def names(self, path: str) -> set[str]:
        prefix = path.rstrip("/") + "/"
        return {p[len(prefix) :].split("/")[0] for p in self.entries if p.startswith(prefix)}

    def mkdir(self, path: str) -> None:
        self.entries[path] = None

    def rmdir(self, path: str) -> None:
        del self.entries[path]


@dataclass
class Overlay:
    """An overlay of directories (`Where`s), the first lowerdir on top, writes to upper."""

    lowers: list[Where]
    upper: Where | None
    removed: set[str] = field(default_factory=set)  # whiteouts, as the upper dir holds them
    fstype: str = "overlay"

    def _layers(self) -> list[Where]:
        return ([self.upper] if self.upper else []) + self.lowers

    def get(self, path: str) -> str | None | bool:
        if path in self.removed:
            return False
        for layer in self._layers():
            found = layer.fs.get(_join(layer.path, path))
            if found is not False:
                return found
        return False

    def names(self, path: str) -> set[str]:
        names: set[str] = set()
        for layer in self._layers():
            names |= layer.fs.names(_join(layer.path, path))
        return {n for n in names if _join(path, n) not in self.removed}

    def mkdir(self, path: str) -> None:
        if self.upper is None:
            raise _fail(errno.EROFS)
        self.removed.discard(path)
        self.upper.fs.mkdir(_join(self.upper.path, path))

    def rmdir(self, path: str) -> None:
        if self.upper is None:
            raise _fail(errno.EROFS)
        upper = _join(self.upper.path, path)
        if self.upper.fs.get(upper) is not False:
            self.upper.fs.rmdir(upper)
        if any(lower.fs.get(_join(lower.path, path)) is not False for lower in self.lowers):
            self.removed.add(path)


@dataclass
class Proc:
    """A proc mount: it shows the PID namespace of the process that mounted it."""

    pid_ns: Any
    fstype: str = "proc"

    def get(self, path: str) -> str | None | bool:
        return None if path == "/" else False

    def names(self, path: str) -> set[str]:
        return set()

    def mkdir(self, path: str) -> None:
        raise _fail(errno.ENOENT)

    rmdir = mkdir


def _join(base: str, path: str) -> str:
    """`path` (absolute within a directory) as a path below `base`."""
    joined = posixpath.normpath(base.rstrip("/") + "/" + path.lstrip("/"))
    return "/" + joined.lstrip("/")


@dataclass(eq=False)
class Mount:
    fs: Any
    root: str  # the directory of fs this mount shows ("/" unless a bind of a subdirectory)
    parent: Mount | None
    point: str  # where it sits: a directory in the parent mount's fs
    group: int | None = None  # its peer group while shared; None when private

    def children(self, ns: MountNs) -> list[Mount]:
        return [m for m in ns.mounts if m.parent is self]


@dataclass(frozen=True, eq=False)
class Where:
    """A place: a directory (or file) of a mount's filesystem."""

    mount: Mount
    path: str  # in the mount's fs

    @property
    def fs(self) -> Any:
        return self.mount.fs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Where) and self.mount is other.mount and self.path == other.path

    def __hash__(self) -> int:
        return hash((id(self.mount), self.path))


@dataclass(eq=False)
class MountNs:
    """A mount namespace: its mounts, the first one a hidden base (the kernel's rootfs)."""

    mounts: list[Mount]

    def copy(self) -> tuple[MountNs, dict[int, Mount]]:
        """unshare(CLONE_NEWNS): a copy of every mount, shared ones in the same peer group."""
        twins: dict[int, Mount] = {}
        for m in self.mounts:
            parent = twins[id(m.parent)] if m.parent is not None else None
            twins[id(m)] = Mount(m.fs, m.root, parent, m.point, m.group)
        return MountNs(list(twins.values())), twins

    # -- paths ---------------------------------------------------------------------------

    def cross(self, where: Where) -> Where:
        """Down through whatever is mounted on `where`, the last mount on top."""
        while True:
            on_top = [m for m in self.mounts if m.parent is where.mount and m.point == where.path]
            if not on_top:
                return where
            where = Where(on_top[-1], on_top[-1].root)

    def resolve(self, root: Where, cwd: Where, path: str, mountpoint: bool = False) -> Where:
        """A path as a process with this root and cwd means it (ENOENT if nothing is there);
        with `mountpoint`, as umount2 looks it up: through what is mounted on the last step."""
        text = os.fspath(path)
        where = root if text.startswith("/") else cwd
        for part in text.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                where = self._up(where, root)
                continue
            if where.fs.get(where.path) is not None:
                raise _fail(errno.ENOTDIR)
            where = self.cross(Where(where.mount, _join(where.path, part)))
            if where.fs.get(where.path) is False:
                raise _fail(errno.ENOENT)
        return self.cross(where) if mountpoint else where

    def _up(self, where: Where, root: Where) -> Where:
        while where != root and where.path == where.mount.root and where.mount.parent:
            where = Where(where.mount.parent, where.mount.point)
        if where == root:
            return where
        return self.cross(Where(where.mount, posixpath.dirname(where.path)))

    def path_of(self, where: Where, root: Where) -> str | None:
        """The path a process with this root sees `where` at; None if it cannot reach it."""
        parts: list[str] = []
        while where != root:
            if where.path == where.mount.root:
                if where.mount.parent is None:
                    return None
                where = Where(where.mount.parent, where.mount.point)
                continue
            parts.append(posixpath.basename(where.path))
            where = Where(where.mount, posixpath.dirname(where.path))
        return "/" + "/".join(reversed(parts))

    def below(self, mount: Mount) -> list[Mount]:
        """The mount and every mount under it."""
        found = [mount]
        for m in self.mounts:
            if m.parent is not None and m.parent in found and m not in found:
                found.append(m)
        return found

    def attach(self, fs: Any, fs_root: str, at: Where, peers: list[MountNs]) -> Mount:
        """Mount fs at `at`, and on each peer of at's mount (propagation) in the `peers`."""
        new = Mount(fs, fs_root, at.mount, at.path)
        self.mounts.append(new)
        if at.mount.group is not None:
            for ns in peers:
                for peer in [m for m in ns.mounts if m is not at.mount]:
                    if peer.group == at.mount.group:
                        ns.mounts.append(Mount(fs, fs_root, peer, at.path))
        return new

    def set_propagation(self, at: Where, flags: int) -> None:
        if at.path != at.mount.root or bin(flags & _PROPAGATION).count("1") != 1:
            raise _fail(errno.EINVAL)
        group = next(_groups) if flags & MS["MS_SHARED"] else None
        for m in self.below(at.mount) if flags & MS["MS_REC"] else [at.mount]:
            m.group = group if group is None or m.group is None else m.group

    def umount(self, at: Where, flags: int, busy: set[int]) -> None:
        """umount2: `busy` holds the ids of mounts some process has as its root or cwd."""
        if flags & ~MS["MNT_DETACH"] or at.path != at.mount.root or at.mount.parent is None:
            raise _fail(errno.EINVAL)
        if at.mount.parent.parent is None:  # the namespace's root: only pivot_root moves it
            raise _fail(errno.EINVAL)
        gone = self.below(at.mount)
        if not flags & MS["MNT_DETACH"] and (len(gone) > 1 or id(at.mount) in busy):
            raise _fail(errno.EBUSY)
        self.mounts = [m for m in self.mounts if m not in gone]

    def pivot(self, root: Where, new: Where, old: Where) -> None:
        """pivot_root(2)'s checks, in the kernel's order, then the swap."""
        root_mnt, new_mnt, old_mnt = root.mount, new.mount, old.mount
        shared = [old_mnt.group, new_mnt.parent and new_mnt.parent.group]
        shared.append(root_mnt.parent and root_mnt.parent.group)
        if any(shared):
            raise _fail(errno.EINVAL)
        if new_mnt is root_mnt or old_mnt is root_mnt:
            raise _fail(errno.EBUSY)
        if root.path != root_mnt.root or root_mnt.parent is None:
            raise _fail(errno.EINVAL)
        if new.path != new_mnt.root or new_mnt.parent is None:
            raise _fail(errno.EINVAL)
        if self.path_of(old, new) is None:  # put_old must be under new_root
            raise _fail(errno.EINVAL)
        base, point = root_mnt.parent, root_mnt.point
        new_mnt.parent, new_mnt.point = base, point
        root_mnt.parent, root_mnt.point = old_mnt, old.path
        self.mounts.remove(root_mnt)  # after old_mnt: what is mounted later sits on top
        self.mounts.append(root_mnt)


def host_namespace(disk: Disk, pid_ns: Any) -> tuple[MountNs, Mount]:
    """The host's mounts as systemd leaves them: / and /proc, both shared."""
    base = Mount(Disk({"/": None}), "/", None, "/")
    root = Mount(disk, "/", base, "/", next(_groups))
    proc = Mount(Proc(pid_ns), "/", root, "/proc", next(_groups))
    return MountNs([base, root, proc]), root
