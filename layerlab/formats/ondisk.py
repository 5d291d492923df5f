"""A layer as a directory: the two ways a union filesystem marks deletions on disk.

The model's `Whiteout` and `OpaqueDir` have two spellings, and one switch picks between
them, as in umoci's `oci/layer` (`OnDiskFormat`), so there is a single code path:

===============  ================================  ====================================
                 AUFS (also the OCI tar spelling)  OVERLAY (overlayfs upper/lower dir)
===============  ================================  ====================================
whiteout of x    empty file ``.wh.x``              char device 0/0 named ``x``
opaque dir d     empty file ``d/.wh..wh..opq``     xattr ``trusted.overlay.opaque=y``
                                                   (``user.overlay.opaque`` with
                                                   ``-o userxattr``, rootless)
===============  ================================  ====================================

Reading one spelling and writing the other converts losslessly. `format=None` reads a
plain directory tree (a rootfs) literally, markers and all, for `layerlab diff`.
"""

from __future__ import annotations

import enum
import os
import posixpath
import stat
from typing import BinaryIO

from ..entries import (
    Content,
    Device,
    Dir,
    Entry,
    Fifo,
    File,
    Hardlink,
    Meta,
    OpaqueDir,
    Symlink,
    Whiteout,
)
from ..layer import Layer
from ..output import new_directory
from ..safety import (
    AUFS_META_PREFIX,
    OPAQUE_MARKER,
    OVERLAY_XATTR_PREFIXES,
    WHITEOUT_PREFIX,
    LayerlabError,
    check_no_whiteout_name,
    whiteout_name,
)
from ..tar.read import apply_markers, check_parents
from ..tar.tree_writer import TreeWriter, WriteStats

__all__ = ["OnDiskFormat", "opaque_xattr", "read_layer_dir", "write_layer_dir", "convert_layer_dir"]

#: Files up to this size are read when the directory is read; bigger ones when needed.
EAGER_BYTES = 64 << 10
#: ...but no more than this much in all, so a big tree's contents never fill the memory.
EAGER_TOTAL = 64 << 20


class OnDiskFormat(enum.Enum):
    """How deletions are spelled in a layer directory."""

    AUFS = "aufs"
    OVERLAY = "overlay"


def opaque_xattr(userxattr: bool = False) -> str:
    """The opaque marker's xattr name: `user.overlay.opaque` for rootless userxattr mounts."""
    return "user.overlay.opaque" if userxattr else "trusted.overlay.opaque"


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: Files are opened without following a symlink and without blocking on a FIFO.
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _xattrs(target: int | str) -> dict[str, bytes]:
    """The xattrs of an open directory (`target` a descriptor), or of the name `target`
    without following it (a /proc/self/fd/N/name path: resolved from a descriptor)."""
    follow = isinstance(target, int)
    try:
        names = os.listxattr(target, follow_symlinks=follow)
    except OSError:
        return {}
    values = {}
    for name in names:
        try:
            values[name] = os.getxattr(target, name, follow_symlinks=follow)
        except OSError:
            continue
    return values


def _open_pinned(dir_fd: int | None, name: str, st: os.stat_result, path: str) -> BinaryIO:
    """Open a file we saw earlier, refusing it unless it is still the same inode.

    A tree that changes while we read it could swap a directory on the way for a
    symlink; the inode check means we then refuse instead of reading a host file. The
    type and ctime are compared too: a freed inode number is soon reused (a FIFO made
    in place of the file), and any write to the file changes its ctime.
    """
    fd = os.open(name, _FILE, dir_fd=dir_fd)
    try:
        now = os.fstat(fd)
        if (_identity(now), now.st_mode, now.st_ctime_ns) != (
            _identity(st),
            st.st_mode,
            st.st_ctime_ns,
        ):
            raise LayerlabError(
                f"{path} changed while layerlab was reading it; run again on a tree that "
                "nothing else is changing"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _content(
    dir_fd: int, name: str, full: str, st: os.stat_result, path: str, eager: bool
) -> Content:
    if eager:
        with _open_pinned(dir_fd, name, st, path) as stream:
            return Content(stream.read())

    def reopen() -> BinaryIO:
        return _open_pinned(None, full, st, path)

    return Content(size=st.st_size, opener=reopen)


class _Reader:
    """Walks a directory without following symlinks and builds the layer's entries.

    The walk holds a descriptor of the directory it reads and opens every name relative
    to it with O_NOFOLLOW, as `TreeWriter` writes, so a directory swapped for a symlink
    while we read cannot lead outside the tree. It is iterative and goes back up through
    "..", checked against the identity seen on the way down, so any depth works with a
    single descriptor.
    """

    def __init__(self, src: str, fmt: OnDiskFormat | None, userxattr: bool) -> None:
        self.src = src
        self.fmt = fmt
        self.marker = opaque_xattr(userxattr)
        self.entries: dict[str, Entry] = {}
        self.whiteouts: set[str] = set()
        self.opaque: set[str] = set()
        self.inodes: dict[tuple[int, int], str] = {}
        self.eager_left = EAGER_TOTAL

    def meta(self, xattrs: dict[str, bytes], st: os.stat_result, path: str) -> tuple[Meta, bool]:
        """Metadata with overlayfs' own xattrs removed; True if it is opaque-marked."""
        opaque = xattrs.get(self.marker) == b"y"
        for key in xattrs:
            if key.startswith(OVERLAY_XATTR_PREFIXES) and key.split(".")[-1] in (
                "redirect",
                "metacopy",
            ):
                raise LayerlabError(
                    f"{path} carries {key}: this upper dir was written with redirect_dir or "
                    "metacopy, which a layer cannot express; mount without them"
                )
        kept = tuple(
            sorted((k, v) for k, v in xattrs.items() if not k.startswith(OVERLAY_XATTR_PREFIXES))
        )
        meta = Meta(
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            mtime=int(st.st_mtime),
            xattrs=kept,
        )
        return meta, opaque

    def marker_name(self, path: str, name: str, st: os.stat_result) -> bool:
        """Handle an AuFS `.wh.` name; True if `name` was a marker (or AuFS bookkeeping)."""
        if self.fmt is not OnDiskFormat.AUFS or not name.startswith(WHITEOUT_PREFIX):
            return False
        if name.startswith(AUFS_META_PREFIX) and name != OPAQUE_MARKER:
            return True  # .wh..wh.plnk, .wh..wh.aufs, .wh..wh.orph: AuFS's own bookkeeping
        deleted = whiteout_name(path, name)
        if not stat.S_ISREG(st.st_mode):
            raise LayerlabError(f"whiteout {path} is not a regular file; refusing this layer")
        parent = posixpath.dirname(path)
        if deleted is None:
            self.opaque.add(parent)
        else:
            self.whiteouts.add(posixpath.join(parent, deleted))
        return True

    def walk(self, top: int) -> None:
        """Read everything below the open directory `top`, parents before children."""
        fd = os.dup(top)
        # Per level: the directory's identity, its path, its sorted names, the next index.
        levels: list[list] = [[_identity(os.fstat(fd)), "", sorted(os.listdir(fd)), 0]]
        try:
            while levels:
                level = levels[-1]
                if level[3] == len(level[2]):
                    levels.pop()
                    if levels:
                        fd = self._up(fd, levels[-1][0], level[1])
                    continue
                name = level[2][level[3]]
                level[3] += 1
                path = f"{level[1]}/{name}"
                child = self.visit(fd, name, path)
                if child is not None:
                    os.close(fd)
                    fd = child
                    levels.append([_identity(os.fstat(fd)), path, sorted(os.listdir(fd)), 0])
        finally:
            os.close(fd)

    def _up(self, fd: int, expected: tuple[int, int], path: str) -> int:
        parent = os.open("..", _DIR, dir_fd=fd)
        os.close(fd)
        if _identity(os.fstat(parent)) != expected:
            os.close(parent)
            raise LayerlabError(
                f"{path} was moved while layerlab was reading it; run again on a tree that "
                "nothing else is changing"
            )
        return parent

    def visit(self, fd: int, name: str, path: str) -> int | None:
        """Record one name of the directory `fd`; for a directory, return it opened."""
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if self.marker_name(path, name, st):
            return None
        if self.fmt is None:
            check_no_whiteout_name(path)
        if self.fmt is OnDiskFormat.OVERLAY and stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            self.entries[path] = Whiteout()
            return None
        if stat.S_ISDIR(st.st_mode):
            child = os.open(name, _DIR, dir_fd=fd)
            try:
                if _identity(os.fstat(child)) != _identity(st):
                    raise LayerlabError(
                        f"{path} changed while layerlab was reading it; run again on a tree "
                        "that nothing else is changing"
                    )
                meta, opaque = self.meta(_xattrs(child), st, path)
            except BaseException:
                os.close(child)
                raise
            marked = opaque and self.fmt is OnDiskFormat.OVERLAY
            self.entries[path] = OpaqueDir(meta) if marked else Dir(meta)
            return child
        meta, _ = self.meta(_xattrs(f"/proc/self/fd/{fd}/{name}"), st, path)
        if st.st_nlink > 1:
            first = self.inodes.setdefault((st.st_dev, st.st_ino), path)
            if first != path:
                self.entries[path] = Hardlink(meta, target=first)
                return None
        self.entries[path] = self.leaf(fd, name, path, st, meta)
        return None

    def leaf(self, fd: int, name: str, path: str, st: os.stat_result, meta: Meta) -> Entry:
        mode = st.st_mode
        if stat.S_ISREG(mode):
            eager = st.st_size <= min(EAGER_BYTES, self.eager_left)
            if eager:
                self.eager_left -= st.st_size
            return File(meta, _content(fd, name, self.src + path, st, path, eager))
        if stat.S_ISLNK(mode):
            return Symlink(meta, os.readlink(name, dir_fd=fd))
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            kind = "c" if stat.S_ISCHR(mode) else "b"
            return Device(meta, kind, os.major(st.st_rdev), os.minor(st.st_rdev))
        if stat.S_ISFIFO(mode):
            return Fifo(meta)
        raise LayerlabError(f"{path} is a socket or other special file a layer cannot hold")


def read_layer_dir(
    src: str | os.PathLike[str],
    fmt: OnDiskFormat | None,
    *,
    userxattr: bool = False,
    include_root: bool = False,
) -> Layer:
    """Read a layer directory (`fmt` AUFS or OVERLAY) or a plain tree (`fmt` None).

    Symlinks are never followed, not even one swapped in while we read. Hardlinked names
    become one file plus `Hardlink`s to the first name in sorted order. `include_root`
    adds the directory's own metadata as "/".
    """
    src = os.path.abspath(os.fspath(src))
    try:
        top = os.open(src, _DIR)
    except OSError:
        raise LayerlabError(f"{src} is not a directory") from None
    reader = _Reader(src.rstrip("/"), fmt, userxattr)
    try:
        root_meta, root_opaque = reader.meta(_xattrs(top), os.fstat(top), "/")
        if include_root:
            marked = root_opaque and fmt is OnDiskFormat.OVERLAY
            reader.entries["/"] = OpaqueDir(root_meta) if marked else Dir(root_meta)
        reader.walk(top)
    except OSError as exc:
        where = f"{src}: {exc.filename}" if exc.filename else src
        raise LayerlabError(f"cannot read {where}: {exc.strerror}") from None
    finally:
        os.close(top)
    apply_markers(reader.entries, reader.whiteouts, reader.opaque)
    check_parents(reader.entries)
    return Layer(reader.entries)


def _dfs_key(item: tuple[str, Entry]) -> list[str]:
    return item[0].split("/")


def write_layer_dir(
    layer: Layer,
    dest: str | os.PathLike[str],
    fmt: OnDiskFormat,
    *,
    userxattr: bool = False,
) -> WriteStats:
    """Write `layer` as a new directory `dest` (absent or empty) in the given spelling.

    OVERLAY whiteouts are char devices 0/0: that needs root, or a user namespace (kernel
    >= 5.8). A hardlink whose target lives in a lower layer cannot be stored and is refused.
    """
    stats = WriteStats()
    items = sorted(layer.items(), key=_dfs_key)
    links = [(p, e) for p, e in items if isinstance(e, Hardlink)]
    with new_directory(dest) as staging:
        try:
            with TreeWriter(staging, stats) as writer:
                for path, entry in items:
                    if not isinstance(entry, Hardlink):
                        _write_entry(writer, path, entry, fmt, userxattr)
                for path, link in links:
                    writer.link(path, link.target)
        except OSError as exc:
            raise LayerlabError(f"cannot write layer dir {dest}: {exc.strerror or exc}") from None
    return stats


def _write_entry(
    writer: TreeWriter, path: str, entry: Entry, fmt: OnDiskFormat, userxattr: bool
) -> None:
    if path != "/":
        check_no_whiteout_name(path)
    overlay = fmt is OnDiskFormat.OVERLAY
    if isinstance(entry, Whiteout):
        if overlay:
            writer.special(path, Device(Meta(mode=0), "c", 0, 0), required=True)
        else:
            parent, name = posixpath.split(path)
            writer.file(posixpath.join(parent, WHITEOUT_PREFIX + name), File(Meta(mode=0o600)))
    elif isinstance(entry, Dir):
        meta = entry.meta
        if entry.opaque and overlay:
            meta = meta.with_(xattrs=(*meta.xattrs, (opaque_xattr(userxattr), b"y")))
        writer.dir(path, meta)
        if entry.opaque and not overlay:
            writer.file(posixpath.join(path, OPAQUE_MARKER), File(Meta(mode=0o600)))
    elif (
        overlay
        and isinstance(entry, Device)
        and entry.type == "c"
        and entry.major == 0
        and entry.minor == 0
    ):
        raise LayerlabError(
            f"{path} is a char device 0/0, which an overlay dir reads as a "
            "whiteout; use the AUFS format for this layer"
        )
    else:
        writer.add(path, entry)


def convert_layer_dir(
    src: str | os.PathLike[str],
    src_fmt: OnDiskFormat,
    dest: str | os.PathLike[str],
    dest_fmt: OnDiskFormat,
    *,
    userxattr: bool = False,
) -> Layer:
    """Rewrite a layer dir in the other spelling (AuFS <-> overlay); returns the layer."""
    layer = read_layer_dir(src, src_fmt, userxattr=userxattr)
    write_layer_dir(layer, dest, dest_fmt, userxattr=userxattr)
    return layer
