"""Writing a tree of entries to disk without ever being tricked into writing elsewhere.

Both the flattener and the on-disk layer writer create files from untrusted images. The
classic escapes (CVE-2018-15664, CVE-2021-32760) all resolve a *path* through a symlink the
image planted. `TreeWriter` resolves no paths: it keeps descriptors of the directories it
created itself and makes every new name relative to one of them (openat-style), with
O_EXCL and O_NOFOLLOW. A symlink from the image is only ever created, never traversed, and
hardlinks only join names this writer made.

Directory metadata is applied when the writer leaves a directory, after its children, so
that a read-only mode (0555) or an mtime is not spoiled by the files created inside.
With `keep_root`, the root keeps its own mode, owner and times: a flattened image must
not make the user's DEST world-writable or hand it to another uid.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from dataclasses import dataclass, field
from types import TracebackType

from ..blobslice import BlobSlice
from ..entries import Device, Entry, Fifo, File, Meta, Symlink, is_under, parent_of
from ..safety import OVERLAY_XATTR_PREFIXES, LayerlabError

__all__ = ["TreeWriter", "WriteStats"]

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20
_IMPLIED = Meta(mode=0o755)


@dataclass
class WriteStats:
    """What was written, and what could not be (device nodes and owners need root)."""

    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    specials: int = 0
    bytes: int = 0
    #: What was left out and why, e.g. "device /dev/null (needs root)".
    skipped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"{self.files} files ({self.bytes} bytes), {self.dirs} dirs, {self.symlinks} "
            f"symlinks, {self.hardlinks} hardlinks, {self.specials} special files"
        )
        if self.skipped:
            text += f"; skipped {len(self.skipped)} (e.g. {self.skipped[0]})"
        return text


class TreeWriter:
    """Creates entries below `root` (an empty directory we own), one model path at a time.

    Paths may come in any order; missing parents are created as root-owned 0755 dirs.
    Use as a context manager: on a clean exit directory metadata is applied, on an error
    only descriptors are closed (the caller removes the partial tree).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        stats: WriteStats | None = None,
        *,
        keep_root: bool = False,
    ) -> None:
        self.stats = stats if stats is not None else WriteStats()
        self.as_root = os.geteuid() == 0
        self._keep_root = keep_root
        self._root_fd = os.open(root, _DIR)
        self._stack: list[tuple[str, int]] = [("/", self._root_fd)]
        self._dir_meta: dict[str, Meta | None] = {"/": None if keep_root else _IMPLIED}
        self._made: set[str] = set()
        self._fast_copy = True

    # -- directories ------------------------------------------------------------------
    def _leave(self, apply: bool = True) -> None:
        path, fd = self._stack.pop()
        try:
            meta = self._dir_meta[path]
            if apply and meta is not None:
                self._meta_fd(fd, meta, path)
        finally:
            if fd != self._root_fd:
                os.close(fd)

    def _enter(self, directory: str) -> int:
        """A descriptor for `directory`, creating implied parents on the way down."""
        while not is_under(directory, self._stack[-1][0]):
            self._leave()
        top, fd = self._stack[-1]
        rest = directory[len(top) :].strip("/") if top != "/" else directory.strip("/")
        for name in rest.split("/") if rest else ():
            top = posixpath.join(top, name)
            if top not in self._dir_meta:
                if top in self._made:
                    raise LayerlabError(f"{top} is not a directory but has entries below it")
                os.mkdir(name, 0o700, dir_fd=fd)
                self._dir_meta[top] = _IMPLIED
                self.stats.dirs += 1
            fd = os.open(name, _DIR, dir_fd=fd)
            self._stack.append((top, fd))
        return fd

    def dir(self, path: str, meta: Meta) -> None:
        """A directory; its metadata is applied when the writer leaves it, after its children.

        The writer enters it at once, so that even an empty directory is left (and gets
        its metadata) exactly once more, whatever comes next.
        """
        if path != "/" and path not in self._dir_meta:
            if path in self._made:
                raise LayerlabError(f"{path} is written twice; the input is inconsistent")
            parent = self._enter(parent_of(path))
            os.mkdir(posixpath.basename(path), 0o700, dir_fd=parent)
            self.stats.dirs += 1
        if path != "/" or not self._keep_root:
            self._dir_meta[path] = meta
        self._enter(path)

    # -- everything else --------------------------------------------------------------
    def _new(self, path: str) -> tuple[int, str]:
        if path == "/" or path in self._made or path in self._dir_meta:
            raise LayerlabError(f"{path} is written twice; the input is inconsistent")
        parent = self._enter(parent_of(path))
        self._made.add(path)
        return parent, posixpath.basename(path)

    def file(self, path: str, entry: File) -> None:
        parent, name = self._new(path)
        fd = os.open(name, _CREATE, 0o600, dir_fd=parent)
        try:
            self._copy(entry, fd, path)
            self._meta_fd(fd, entry.meta, path)
        finally:
            os.close(fd)
        self.stats.files += 1
        self.stats.bytes += entry.size

    def symlink(self, path: str, entry: Symlink) -> None:
        parent, name = self._new(path)
        os.symlink(entry.target, name, dir_fd=parent)
        self._chown(name, entry.meta, path, dir_fd=parent)
        ns = entry.meta.mtime * 10**9
        os.utime(name, ns=(ns, ns), dir_fd=parent, follow_symlinks=False)
        self.stats.symlinks += 1

    def special(self, path: str, entry: Device | Fifo, *, required: bool = False) -> None:
        """A device node or a fifo. Without root a device is skipped and reported, unless
        it is `required` (an overlay whiteout, which a user namespace may still create)."""
        if isinstance(entry, Device) and not self.as_root and not required:
            self.stats.skipped.append(f"device {path} (needs root)")
            return
        parent, name = self._new(path)
        if isinstance(entry, Device):
            kind = stat.S_IFCHR if entry.type == "c" else stat.S_IFBLK
            try:
                os.mknod(name, kind | 0o600, os.makedev(entry.major, entry.minor), dir_fd=parent)
            except PermissionError:  # a user namespace's root may not make real devices
                self._made.discard(path)
                if required:
                    raise LayerlabError(
                        f"cannot create {path} as a char device 0/0 (an overlay whiteout): "
                        "that needs root, or a user namespace on kernel >= 5.8"
                    ) from None
                self.stats.skipped.append(f"device {path} (needs root)")
                return
        else:
            os.mkfifo(name, 0o600, dir_fd=parent)
        # Opening a fifo blocks and opening a device opens the device; Linux has no lchmod.
        # An O_PATH descriptor pins the node we made, and its /proc name takes the chmod.
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        try:
            self._chown(name, entry.meta, path, dir_fd=parent)
            os.chmod(f"/proc/self/fd/{fd}", entry.meta.mode)
            ns = entry.meta.mtime * 10**9
            os.utime(name, ns=(ns, ns), dir_fd=parent, follow_symlinks=False)
        finally:
            os.close(fd)
        self.stats.specials += 1

    def link(self, path: str, existing: str) -> None:
        """A hardlink to a name this writer created earlier (never to anything else)."""
        if existing not in self._made:
            raise LayerlabError(
                f"hardlink {path} -> {existing}: the target is not part of what is being "
                "written (a hardlink into a lower layer cannot be stored in one layer dir)"
            )
        parent, name = self._new(path)
        os.link(
            existing[1:], name, src_dir_fd=self._root_fd, dst_dir_fd=parent, follow_symlinks=False
        )
        self.stats.hardlinks += 1

    def add(self, path: str, entry: Entry) -> None:
        """Write any non-hardlink entry by type."""
        if isinstance(entry, File):
            self.file(path, entry)
        elif isinstance(entry, Symlink):
            self.symlink(path, entry)
        elif isinstance(entry, (Device, Fifo)):
            self.special(path, entry)
        else:
            raise TypeError(f"{path}: a {entry.kind} is not written by TreeWriter.add")

    # -- contents and metadata ---------------------------------------------------------
    def _copy(self, entry: File, out: int, path: str) -> None:
        with entry.content.open() as stream:
            left = entry.size
            if isinstance(stream, BlobSlice) and stream.fd is not None and self._fast_copy:
                left = self._kernel_copy(stream.fd, stream.offset, left, out)
                stream.seek(entry.size - left)
            while left > 0:
                chunk = stream.read(min(_CHUNK, left))
                if not chunk:
                    raise LayerlabError(f"{path}: its contents ended early; is the blob truncated?")
                os.write(out, chunk)
                left -= len(chunk)

    def _kernel_copy(self, src: int, offset: int, left: int, out: int) -> int:
        """copy_file_range keeps the bytes in the kernel; where refused, fall back for good."""
        try:
            while left > 0:
                n = os.copy_file_range(src, out, left, offset)
                if n == 0:
                    break
                offset += n
                left -= n
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                raise
            self._fast_copy = False
        return left

    def _chown(self, target: int | str, meta: Meta, path: str, dir_fd: int | None = None) -> None:
        """Set the owner when we are root. Inside a user namespace only mapped ids exist;
        an unmapped one is reported and skipped, like a device node without root."""
        if not self.as_root:
            return
        try:
            if isinstance(target, int):
                os.fchown(target, meta.uid, meta.gid)
            else:
                os.chown(target, meta.uid, meta.gid, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EPERM):
                raise
            reason = "not mapped in this user namespace" if exc.errno == errno.EINVAL else "refused"
            self.stats.skipped.append(f"owner {meta.uid}:{meta.gid} of {path} ({reason})")

    def _meta_fd(self, fd: int, meta: Meta, path: str) -> None:
        self._chown(fd, meta, path)
        os.fchmod(fd, meta.mode)  # after chown, which clears set-id bits
        for key, value in meta.xattrs:
            try:
                os.setxattr(fd, key, value)
            except OSError as exc:
                if key.startswith(OVERLAY_XATTR_PREFIXES):  # a marker, not decoration
                    raise LayerlabError(
                        f"cannot set {key} on {path} ({exc.strerror}); overlay markers need "
                        "root, or user.overlay.* inside a user namespace"
                    ) from None
                self.stats.skipped.append(f"xattr {key} on {path} ({exc.strerror})")
        ns = meta.mtime * 10**9
        os.utime(fd, ns=(ns, ns))

    # -- lifetime -----------------------------------------------------------------------
    def __enter__(self) -> TreeWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            while self._stack:
                self._leave(apply=kind is None)
        finally:
            while self._stack:
                self._leave(apply=False)
            os.close(self._root_fd)
