"""Windows onto big files: how layer contents stay on disk until somebody reads them.

A layer tar can be gigabytes; a `docker save` archive holds several of them. Instead of
extracting, layerlab remembers *where* each file's bytes are, as a `BlobSlice` of the
file that holds them, and reads them with pread when asked (so threads and readers never
fight over a file position). A writer can even let the kernel copy them
(`os.copy_file_range` on `fd` and `offset`).
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

from ..safety import LayerlabError

__all__ = ["BlobSlice", "Extent"]

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
        """A window from the current position of a seekable file to its end."""
        source = _Source(fileobj)
        start = fileobj.tell()
        return cls(source, start, source.size() - start)

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

    def pread(self, size: int, offset: int) -> bytes:
        """Up to `size` bytes at `offset` of this window, without moving its position."""
        size = max(0, min(size, self.size - offset))
        return self.source.pread(size, self.offset + offset) if size else b""

    def window(self, offset: int, size: int) -> BlobSlice:
        """A slice of this slice: a layer inside a docker-save tar, a file inside that layer."""
        return BlobSlice(self.source, self.offset + offset, size)


class Extent:
    """Where one file's bytes lie inside a `BlobSlice`; calling it opens them as a window.

    A layer of 20,000 files needs 20,000 of these, so it is a plain slotted object rather
    than a window of its own; a writer reads `blob.fd` and `blob.offset + offset` to copy
    the bytes in the kernel without opening anything.
    """

    __slots__ = ("blob", "offset", "size")

    def __init__(self, blob: BlobSlice, offset: int, size: int) -> None:
        self.blob, self.offset, self.size = blob, offset, size

    def __call__(self) -> BlobSlice:
        return self.blob.window(self.offset, self.size)


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
