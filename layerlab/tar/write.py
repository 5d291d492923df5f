"""Writing an OCI layer tar: a `Layer` as the bytes an image ships, and their DiffID.

`write_changeset` is reproducible, so the same layer always gets the same DiffID; that
digest is what names a layer in an image config, which is why `commit` needs this module.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import tarfile
from collections.abc import Iterator
from typing import BinaryIO

from ..entries import Device, Dir, Entry, Fifo, File, Hardlink, Meta, OpaqueDir, Symlink, Whiteout
from ..layer import Layer
from ..safety import OPAQUE_MARKER, WHITEOUT_PREFIX, LayerlabError, check_no_whiteout_name
from .read import XATTR_PAX

__all__ = ["write_changeset", "diff_id_of", "empty_diff_id", "layer_names", "member_names"]

_CHUNK = 1 << 20


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
        ready = [(path, entry)]  # a stack, not recursion: hardlink chains can be long
        while ready:
            path, entry = ready.pop()
            yield path, entry
            written.add(path)
            ready.extend(reversed(waiting.pop(path, [])))

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


def member_names(tar: bytes) -> tuple[str, ...]:
    """The member names of a layer tar, sorted, without a directory's trailing '/'."""
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return tuple(sorted(name.rstrip("/") for name in archive.getnames()))


def layer_names(layer: Layer | None) -> tuple[str, ...]:
    """The member names `layer`'s OCI tar holds: what a commit of it would ship."""
    if layer is None:
        return ()
    buffer = io.BytesIO()
    write_changeset(layer, buffer)
    return member_names(buffer.getvalue())
