"""Writing a tree of entries to disk without ever being tricked into writing elsewhere.

Both the flattener and the on-disk layer writer create files from untrusted images. The
classic escapes (CVE-2018-15664, CVE-2021-32760) all resolve a *path* through a symlink the
image planted. `TreeWriter` resolves no paths: it keeps descriptors of the directories it
created itself and makes every new name relative to one of them (openat-style), with
O_EXCL and O_NOFOLLOW. A symlink from the image is only ever created, never traversed, and
hardlinks only join names this writer made.

Directory metadata is applied when the writer leaves a directory, after its children, so
that a read-only mode (0555) or an mtime is not spoiled by the files created inside.

Small files make the syscalls per file what costs: a file is created with its final mode
when the umask leaves that mode alone, and is not chowned when it is born with the owner the
image asks for (as root, uid and gid 0 of most images). `fchmod`/`fchown` are only issued
where they change something; set-id bits always take the explicit path.

With `workers`, regular files are written by a few threads, in batches per directory:
the kernel's side of creating and filling a file runs without the GIL, so on two cores the
next files are created while this one is filled. A directory's descriptor stays open, and
its metadata waits, until everything inside it is done (`_Dir.busy`).

With `keep_root`, the root keeps its own mode, owner and times: a flattened image must
not make the user's DEST world-writable or hand it to another uid.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

from .. import host
from ..entries import Device, Entry, Fifo, File, Meta, Symlink, is_under, parent_of
from ..safety import OVERLAY_XATTR_PREFIXES, LayerlabError
from .blobslice import BlobSlice, Extent

__all__ = ["TreeWriter", "WriteStats"]

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20
_IMPLIED = Meta(mode=0o755)
#: Files per task handed to a worker thread: enough to make the hand-over cost nothing.
_BATCH = 64
#: Mode bits a create (open, mkdir) may not set as asked: set-id bits are cleared by a
#: later chown, and a non-member group clears set-gid; such modes always get an fchmod.
_SPECIAL = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


def _umask() -> int:
    """The process umask, read without changing it (other threads may be creating files)."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # no /proc: a brief, safe-side change
    os.umask(mask)
    return mask


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


class _Dir:
    """A directory being written. `busy` counts what still needs its descriptor: the
    writer while inside it, each unfinished batch of files, each unfinished subdirectory.
    At zero its metadata is applied and the descriptor closed (`TreeWriter._release`)."""

    __slots__ = ("path", "fd", "parent", "busy", "batch")

    def __init__(self, path: str, fd: int, parent: _Dir | None) -> None:
        self.path, self.fd, self.parent = path, fd, parent
        self.busy = 1
        self.batch: list[tuple[str, str, File]] = []


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
        workers: int = 0,
    ) -> None:
        self.stats = stats if stats is not None else WriteStats()
        self.as_root = host.euid() == 0
        self._keep_root = keep_root
        self._root_fd = os.open(root, _DIR)
        self._stack: list[_Dir] = [_Dir("/", self._root_fd, None)]
        self._open: set[_Dir] = set(self._stack)
        self._dir_meta: dict[str, Meta | None] = {"/": None if keep_root else _IMPLIED}
        self._made: set[str] = set()
        self._fast_copy = True
        # What a new file gets by itself. A set-gid directory (ours never are while we
        # write in them) hands down its group, a default ACL replaces the umask: in those
        # cases every file gets an explicit chown and chmod.
        root_stat = os.fstat(self._root_fd)
        inherits = bool(root_stat.st_mode & stat.S_ISGID)
        self._born: tuple[int, int] | None = None if inherits else (host.euid(), host.egid())
        self._masked = _umask() | _SPECIAL
        try:
            os.getxattr(self._root_fd, "system.posix_acl_default")
            self._masked = 0o7777  # a default ACL decides modes: never trust a create
        except OSError:
            pass
        # Threads writing files; the first failure stops them and is raised here.
        self._pool = ThreadPoolExecutor(workers, "layerlab-write") if workers > 0 else None
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._error: BaseException | None = None
        self.failed_path: str | None = None
        self._stopping = False

    # -- directories ------------------------------------------------------------------
    def _leave(self) -> None:
        directory = self._stack.pop()
        if directory.batch:
            self._submit(directory)
        self._release(directory)

    def _release(self, directory: _Dir) -> None:
        """One thing inside `directory` is done; the last one applies its metadata."""
        with self._lock:
            directory.busy -= 1
            if directory.busy:
                return
        try:
            meta = self._dir_meta[directory.path]
            if not self._stopping and meta is not None:
                if meta.mode & stat.S_ISGID:
                    self._born = None  # a re-entered set-gid directory hands its group down
                self._meta_fd(directory.fd, meta, directory.path)
        finally:
            if directory.fd != self._root_fd:
                os.close(directory.fd)
            self._open.discard(directory)
        if directory.parent is not None:
            self._release(directory.parent)

    def _enter(self, directory: str) -> int:
        """A descriptor for `directory`, creating implied parents on the way down."""
        top = self._stack[-1]
        if directory == top.path:  # the usual case: a sibling of the entry written before
            return top.fd
        while not is_under(directory, self._stack[-1].path):
            self._leave()
        top = self._stack[-1]
        path, fd = top.path, top.fd
        rest = directory[len(path) :].strip("/") if path != "/" else directory.strip("/")
        for name in rest.split("/") if rest else ():
            path = posixpath.join(path, name)
            if path not in self._dir_meta:
                if path in self._made:
                    raise LayerlabError(f"{path} is not a directory but has entries below it")
                os.mkdir(name, 0o700, dir_fd=fd)
                self._dir_meta[path] = _IMPLIED
                self.stats.dirs += 1
            fd = os.open(name, _DIR, dir_fd=fd)
            parent = self._stack[-1]
            with self._lock:
                parent.busy += 1
            child = _Dir(path, fd, parent)
            self._stack.append(child)
            self._open.add(child)
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
        head, _, name = path.rpartition("/")
        parent = self._enter(head or "/")
        self._made.add(path)
        return parent, name

    def file(self, path: str, entry: File) -> None:
        parent, name = self._new(path)
        if self._pool is None:
            self._write_file(parent, name, path, entry)
            self.stats.files += 1
            self.stats.bytes += entry.size
            return
        if self._error is not None:
            raise self._error
        directory = self._stack[-1]
        directory.batch.append((path, name, entry))
        if len(directory.batch) >= _BATCH:
            self._submit(directory)

    def _write_file(self, parent: int, name: str, path: str, entry: File) -> None:
        meta = entry.meta
        settled = not meta.mode & self._masked  # the create gives the final mode
        fd = os.open(name, _CREATE, meta.mode if settled else 0o600, dir_fd=parent)
        try:
            if entry.size:
                self._copy(entry, fd, path)
            self._meta_fd(fd, meta, path, mode_set=settled)
        finally:
            os.close(fd)

    # -- worker threads -----------------------------------------------------------------
    def _submit(self, directory: _Dir) -> None:
        batch, directory.batch = directory.batch, []
        assert self._pool is not None
        with self._lock:
            directory.busy += 1
            self._in_flight += 1
        self._pool.submit(self._write_batch, directory, batch)

    def _write_batch(self, directory: _Dir, batch: list[tuple[str, str, File]]) -> None:
        done = size = 0
        path = directory.path
        try:
            for path, name, entry in batch:
                if self._stopping:
                    return
                self._write_file(directory.fd, name, path, entry)
                done += 1
                size += entry.size
            self._release(directory)
        except BaseException as exc:  # handed to the writer's thread, which raises it
            self._stopping = True
            with self._lock:
                if self._error is None:
                    self._error, self.failed_path = exc, path
        finally:
            with self._lock:
                self.stats.files += done
                self.stats.bytes += size
                self._in_flight -= 1
                if not self._in_flight:
                    self._idle.notify_all()

    def _drain(self) -> None:
        """Wait until every file handed out so far exists; raise what a worker raised."""
        if self._pool is None:
            return
        for directory in self._stack:
            if directory.batch:
                self._submit(directory)
        with self._idle:
            self._idle.wait_for(lambda: not self._in_flight)
        if self._error is not None:
            raise self._error

    def symlink(self, path: str, entry: Symlink) -> None:
        parent, name = self._new(path)
        os.symlink(entry.target, name, dir_fd=parent)
        if (entry.meta.uid, entry.meta.gid) != self._born:
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
        self._drain()  # the target may still be in a worker's batch
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
        left = entry.size
        where = entry.content.opener
        if type(where) is Extent and where.blob.fd is not None and self._fast_copy:
            # Straight from the layer blob, without opening a stream per file.
            left = self._kernel_copy(where.blob.fd, where.blob.offset + where.offset, left, out)
            if not left:
                return
        with entry.content.open() as stream:
            fresh = left == entry.size and self._fast_copy
            if fresh and isinstance(stream, BlobSlice) and stream.fd is not None:
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

    def _meta_fd(self, fd: int, meta: Meta, path: str, *, mode_set: bool = False) -> None:
        """Owner, mode, xattrs and mtime of what `fd` names; `mode_set` when it was created
        with its final mode (which a chown keeps: such modes have no set-id bits)."""
        if (meta.uid, meta.gid) != self._born:
            self._chown(fd, meta, path)
        if not mode_set:
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
            if kind is None:
                while self._stack:
                    self._leave()
                self._drain()
        except BaseException:
            self._stopping = True
            raise
        finally:
            if kind is not None:
                self._stopping = True
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            for directory in self._open:
                if directory.fd != self._root_fd:
                    os.close(directory.fd)
            self._open.clear()
            self._stack.clear()
            os.close(self._root_fd)
