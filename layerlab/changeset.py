"""The OCI layer tar: how a `Layer` travels between images, registries and Docker.

A layer tar is a *changeset*, not an archive to untar: `.wh.<name>` files delete lower
paths, `<dir>/.wh..wh..opq` hides a directory's lower children (OCI image-spec layer.md).
`read_changeset` turns such a tar into a `Layer`, treating every byte as hostile (the
checks live in `layerlab.safety`); `write_changeset` does the reverse, reproducibly, so
the same layer always gets the same DiffID.

Big layers stay on disk: from a seekable file, each file's `Content` only remembers where
its bytes are and reads them when asked (with pread, so many readers can share one file).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import posixpath
import tarfile
from collections.abc import Iterator
from typing import BinaryIO

from .entries import (
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
    ancestors,
    parent_of,
)
from .layer import Layer
from .safety import (
    OPAQUE_MARKER,
    WHITEOUT_PREFIX,
    LayerlabError,
    check_no_whiteout_name,
    check_xattr,
    clean_link_target,
    clean_member_name,
    whiteout_name,
)

__all__ = [
    "read_changeset",
    "write_changeset",
    "empty_diff_id",
    "diff_id_of",
    "BlobSlice",
    "apply_markers",
    "check_parents",
]

XATTR_PAX = "SCHILY.xattr."
_CHUNK = 1 << 20
#: File objects whose fileno() really holds the bytes they read.
_PLAIN_FILES = (io.FileIO, io.BufferedReader, io.BufferedRandom)


class BlobSlice(io.RawIOBase):
    """A read-only, seekable window `[offset, offset + size)` of a file.

    Reads use `os.pread` on a file descriptor when there is one, so no shared file
    position is disturbed; `fd` and `offset` let a writer copy the bytes in the kernel
    (`os.copy_file_range`) instead of through Python.
    """

    def __init__(self, source: _Source, offset: int, size: int) -> None:
        super().__init__()
        self.source = source
        self.offset = offset
        self.size = size
        self._pos = 0

    @classmethod
    def over(cls, fileobj: BinaryIO) -> BlobSlice:
        """A window over a whole seekable file (a `docker save` tar, a decompressed layer)."""
        source = _Source(fileobj)
        return cls(source, 0, source.size())

    @property
    def fd(self) -> int | None:
        return self.source.fd

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self.size - self._pos)
        if want <= 0:
            return 0
        data = self.source.pread(want, self.offset + self._pos)
        if not data:
            raise LayerlabError("a layer blob ended early (was it changed while in use?)")
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n

    def window(self, offset: int, size: int) -> BlobSlice:
        """A slice of this slice: a layer inside a docker-save tar, a file inside that layer."""
        return BlobSlice(self.source, self.offset + offset, size)


class _Source:
    """Where the bytes of a seekable tar live: our own dup of its descriptor, or the object."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self.fd: int | None = None
        self._fileobj: BinaryIO | None = None
        if isinstance(fileobj, _PLAIN_FILES):
            # Our own descriptor: contents stay readable after the caller closes theirs.
            self.fd = os.dup(fileobj.fileno())
        else:  # BytesIO, or a wrapper (GzipFile) whose fileno() is not its bytes
            self._fileobj = fileobj

    def size(self) -> int:
        if self.fd is not None:
            return os.fstat(self.fd).st_size
        assert self._fileobj is not None
        return self._fileobj.seek(0, io.SEEK_END)

    def pread(self, size: int, offset: int) -> bytes:
        if self.fd is not None:
            return os.pread(self.fd, size, offset)
        assert self._fileobj is not None
        self._fileobj.seek(offset)
        return self._fileobj.read(size)

    def __del__(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _open_tar(fileobj: BinaryIO) -> tuple[tarfile.TarFile, _Source | None]:
    """Open for lazy random access when possible, else as a one-pass stream."""
    seekable = False
    with contextlib.suppress(AttributeError, OSError):
        seekable = fileobj.seekable()
    if isinstance(fileobj, BlobSlice):
        return tarfile.open(fileobj=fileobj, mode="r:"), None
    if seekable:
        start = fileobj.tell()
        magic = fileobj.read(4)
        fileobj.seek(start)
        if magic[:2] != b"\x1f\x8b" and magic != b"\x28\xb5\x2f\xfd":
            return tarfile.open(fileobj=fileobj, mode="r:"), _Source(fileobj)
    return tarfile.open(fileobj=fileobj, mode="r|*"), None


def _meta(member: tarfile.TarInfo) -> Meta:
    xattrs = []
    for key, value in member.pax_headers.items():
        if key.startswith(XATTR_PAX):
            name = key[len(XATTR_PAX) :]
            check_xattr(member.name, name)
            xattrs.append((name, value.encode("utf-8", "surrogateescape")))
    return Meta(
        mode=member.mode & 0o7777,
        uid=member.uid,
        gid=member.gid,
        mtime=int(member.mtime),
        xattrs=tuple(sorted(xattrs)),
    )


def _entry(
    member: tarfile.TarInfo, path: str, tar: tarfile.TarFile, source: _Source | BlobSlice | None
) -> Entry:
    meta = _meta(member)
    if member.isdir():
        return Dir(meta)
    if path == "/":
        raise LayerlabError(
            f"tar entry {member.name!r} makes the root a {member.type!r} entry, "
            "not a directory; refusing this layer"
        )
    if member.isreg():
        if member.sparse is not None:
            raise LayerlabError(
                f"tar entry {member.name!r} is a sparse file, which layerlab "
                "does not read; re-create the layer without --sparse"
            )
        if source is None:
            data = tar.extractfile(member)
            assert data is not None
            return File(meta, Content(data.read()))
        if isinstance(source, BlobSlice):
            opener = functools.partial(source.window, member.offset_data, member.size)
        else:
            opener = functools.partial(BlobSlice, source, member.offset_data, member.size)
        return File(meta, Content(size=member.size, opener=opener))
    if member.issym():
        return Symlink(meta, member.linkname)
    if member.islnk():
        target = clean_link_target(member.name, member.linkname)
        if target == path:
            raise LayerlabError(f"hardlink {member.name!r} points to itself; refusing this layer")
        return Hardlink(meta, target=target)
    if member.ischr() or member.isblk():
        return Device(meta, "c" if member.ischr() else "b", member.devmajor, member.devminor)
    if member.isfifo():
        return Fifo(meta)
    raise LayerlabError(
        f"tar entry {member.name!r} has unsupported type {member.type!r}; refusing this layer"
    )


def read_changeset(fileobj: BinaryIO, *, name: str = "", created_by: str = "") -> Layer:
    """Parse an OCI layer tar (untrusted) into a `Layer`.

    Give a seekable, uncompressed file for big layers: file contents are then read lazily
    from it. Any other stream (also gzip) is read in one pass, keeping contents in memory.
    """
    try:
        tar, source = _open_tar(fileobj)
        lazy: _Source | BlobSlice | None = fileobj if isinstance(fileobj, BlobSlice) else source
        entries: dict[str, Entry] = {}
        whiteouts: set[str] = set()
        opaque: set[str] = set()
        end = 0
        with tar:
            for member in tar:
                end = max(end, member.offset_data + member.size)
                path = clean_member_name(member.name)
                base = posixpath.basename(path)
                if base.startswith(WHITEOUT_PREFIX):
                    deleted = whiteout_name(member.name, base)
                    if not member.isreg():
                        raise LayerlabError(
                            f"whiteout {member.name!r} is not a regular file; refusing this layer"
                        )
                    if deleted is None:
                        opaque.add(parent_of(path))
                    else:
                        whiteouts.add(posixpath.join(parent_of(path), deleted))
                    continue
                entries[path] = _entry(member, path, tar, lazy)  # a later duplicate wins
        available = lazy.size if isinstance(lazy, BlobSlice) else source.size() if source else end
        if end > available:
            raise LayerlabError(
                f"the layer tar is truncated: it needs {end} bytes but has "
                f"{available}; re-create or re-download it"
            )
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise LayerlabError(f"the layer is not a readable tar ({exc}); is it truncated?") from None
    apply_markers(entries, whiteouts, opaque)
    check_parents(entries)
    return Layer(entries, name=name, created_by=created_by)


def apply_markers(entries: dict[str, Entry], whiteouts: set[str], opaque: set[str]) -> None:
    """Fold whiteout files into the model, with the OCI spec's same-layer rules.

    A whiteout only deletes from *lower* layers. So `f` plus `.wh.f` in one tar keeps `f`
    (spec and umoci; moby's naive apply would delete it), and `.wh.d` plus a directory `d`
    means "d, without any lower children": an opaque directory.
    """
    for path in whiteouts:
        entry = entries.get(path)
        if entry is None:
            entries[path] = Whiteout()
        elif isinstance(entry, Dir):
            entries[path] = OpaqueDir(entry.meta)
    for path in opaque:
        entry = entries.get(path)
        if entry is None or isinstance(entry, Whiteout):
            entries[path] = OpaqueDir()
        elif isinstance(entry, Dir):
            entries[path] = OpaqueDir(entry.meta)
        else:
            raise LayerlabError(
                f"{path} is a {entry.kind} but has an opaque marker "
                f"{OPAQUE_MARKER} below it; refusing this layer"
            )


def check_parents(entries: dict[str, Entry]) -> None:
    """Refuse entries below a non-directory of the same layer.

    A tar holding `d -> /` and then `d/x` is the classic way to write through a symlink
    out of the root; no honest tool produces it, so it is refused rather than guessed at.
    """
    blockers = {p for p, e in entries.items() if not isinstance(e, (Dir, Whiteout))}
    if not blockers:
        return
    for path in entries:
        for parent in ancestors(path):
            if parent in blockers:
                raise LayerlabError(
                    f"layer entry {path} lies below {parent}, which the same layer makes a "
                    f"{entries[parent].kind}; refusing this layer"
                )


# -- writing ------------------------------------------------------------------------------


class _HashingWriter:
    """Writes through to a file while computing the DiffID of everything written."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self.fileobj = fileobj
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.sha.update(data)
        self.size += len(data)
        self.fileobj.write(data)

    def pad(self) -> None:
        remainder = self.size % tarfile.BLOCKSIZE
        if remainder:
            self.write(bytes(tarfile.BLOCKSIZE - remainder))


def _tar_order(layer: Layer) -> Iterator[tuple[str, Entry]]:
    """Sorted paths, except that a hardlink waits until its same-layer target is written,
    because an extractor links to what it has already created."""
    waiting: dict[str, list[tuple[str, Entry]]] = {}
    written: set[str] = set()

    def emit(path: str, entry: Entry) -> Iterator[tuple[str, Entry]]:
        yield path, entry
        written.add(path)
        for later in waiting.pop(path, []):
            yield from emit(*later)

    for path, entry in layer.items():
        if isinstance(entry, Hardlink):
            target = entry.target
            if target in layer and target not in written and target > path:
                waiting.setdefault(target, []).append((path, entry))
                continue
        yield from emit(path, entry)


def _info(name: str, entry: Entry, meta: Meta, mtime: int | None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = meta.mode
    info.uid, info.gid = meta.uid, meta.gid
    info.uname = info.gname = ""
    info.mtime = meta.mtime if mtime is None else mtime
    info.pax_headers = {
        XATTR_PAX + key: value.decode("utf-8", "surrogateescape") for key, value in meta.xattrs
    }
    if isinstance(entry, Dir):
        info.type = tarfile.DIRTYPE
    elif isinstance(entry, File):
        info.type, info.size = tarfile.REGTYPE, entry.size
    elif isinstance(entry, Symlink):
        info.type, info.linkname = tarfile.SYMTYPE, entry.target
    elif isinstance(entry, Hardlink):
        info.type, info.linkname = tarfile.LNKTYPE, entry.target.lstrip("/")
    elif isinstance(entry, Device):
        info.type = tarfile.CHRTYPE if entry.type == "c" else tarfile.BLKTYPE
        info.devmajor, info.devminor = entry.major, entry.minor
    elif isinstance(entry, Fifo):
        info.type = tarfile.FIFOTYPE
    else:
        raise TypeError(f"{name}: cannot encode a {entry.kind} in a tar")
    return info


def _marker(name: str, meta: Meta, mtime: int | None) -> tarfile.TarInfo:
    """An empty regular file that means something: a whiteout or an opaque marker."""
    info = tarfile.TarInfo(name)
    info.mode, info.uid, info.gid = meta.mode, meta.uid, meta.gid
    info.mtime = 0 if mtime is None else mtime
    return info


def write_changeset(layer: Layer, fileobj: BinaryIO, *, mtime: int | None = None) -> str:
    """Write `layer` as an OCI layer tar and return its DiffID ("sha256:...").

    Reproducible: entries sorted by path, numeric owners without names, PAX headers only
    where needed, optional fixed `mtime`, and no record padding after the two zero blocks
    (like Go's archive/tar), so the empty layer has the well-known empty-tar DiffID.
    Whiteouts are empty 0600 `.wh.<name>` files; an opaque directory is its entry followed
    by `<dir>/.wh..wh..opq` (the order moby's overlay2 driver writes).
    """
    out = _HashingWriter(fileobj)

    def add(info: tarfile.TarInfo, stream: BinaryIO | None = None) -> None:
        out.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if stream is not None:
            _copy_exactly(stream, out, info.size, info.name)
            out.pad()

    for path, entry in _tar_order(layer):
        name = "." if path == "/" else path[1:]
        if isinstance(entry, Whiteout):
            parent, base = posixpath.split(name)
            add(_marker(posixpath.join(parent, WHITEOUT_PREFIX + base), Meta(mode=0o600), mtime))
            continue
        check_no_whiteout_name(path)
        add(
            _info(name, entry, entry.meta, mtime),
            entry.content.open() if isinstance(entry, File) else None,
        )
        if isinstance(entry, OpaqueDir):
            marker_meta = Meta(mode=entry.meta.mode & 0o777, uid=entry.meta.uid, gid=entry.meta.gid)
            add(_marker(posixpath.join(name, OPAQUE_MARKER), marker_meta, mtime))
    out.write(bytes(2 * tarfile.BLOCKSIZE))
    return "sha256:" + out.sha.hexdigest()


def _copy_exactly(stream: BinaryIO, out: _HashingWriter, size: int, name: str) -> None:
    with stream:
        left = size
        while left:
            chunk = stream.read(min(_CHUNK, left))
            if not chunk:
                raise LayerlabError(
                    f"{name}: its contents ended {left} bytes early; "
                    "was the source changed while writing?"
                )
            out.write(chunk)
            left -= len(chunk)


def diff_id_of(fileobj: BinaryIO) -> str:
    """The DiffID of an uncompressed layer tar: sha256 over all of its bytes."""
    sha = hashlib.sha256()
    for chunk in iter(lambda: fileobj.read(_CHUNK), b""):
        sha.update(chunk)
    return "sha256:" + sha.hexdigest()


def empty_diff_id() -> str:
    """The DiffID of a layer with no entries: sha256 of 1024 zero bytes."""
    return write_changeset(Layer(), io.BytesIO())
