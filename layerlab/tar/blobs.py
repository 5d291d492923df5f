"""Blobs as they are stored: content addresses, compression, and the checks on both.

Everything in an image is addressed by the sha256 of its bytes, which makes tampering
visible, but only if somebody looks. This module looks: every blob is hashed while it is
read, a layer's uncompressed bytes are checked against the DiffID in the config, and
decompression stops at a ratio no honest layer reaches (docs/semantics.md, bad input).

A compressed layer is decompressed once into an anonymous temporary file (O_TMPFILE: it has
no name, so nothing can be left behind, even on Ctrl-C) so that its file contents can then
be read lazily like those of an uncompressed layer. Decompressed means exactly once: bytes
that are compressed again inside are refused, never unpacked a second time (a few KB of
gzip-in-gzip would otherwise expand without any check).

The guards against a decompression bomb, as containerd and moby have them too:

* the ratio check (`safety.MAX_RATIO`) catches zstd bombs; deflate cannot exceed ~1032:1,
  so for gzip the disk is the real limit;
* all layers being decompressed at once share one `SpaceBudget` of the temp filesystem
  (`TMPDIR`), so parallel workers cannot fill it together; it always leaves
  `_reserve()` free;
* decompression works in 1 MiB steps and checks a cancel flag at each, so Ctrl-C or
  SIGTERM stop every worker within a second;
* a blob is opened without blocking and must be a regular file: a FIFO or a device in
  place of a blob would hang the reader forever.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import stat
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..safety import MAX_RATIO, LayerlabError

__all__ = [
    "LayerBlob",
    "blob_path",
    "check_digest",
    "sniff",
    "open_layer",
    "open_layers",
    "compress",
    "hash_stream",
    "open_regular",
    "SpaceBudget",
]

_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
_CHUNK = 1 << 20
#: Below this much output the ratio check stays quiet: tiny layers compress very well.
_RATIO_GRACE = 1 << 20
#: zstd input is fed in slices this big: one zstd block of 4 bytes (RLE) can expand to
#: 128 KiB, so a slice expands to at most 32 MiB in memory, whatever the blob says.
_ZSTD_SLICE = 1 << 10
#: The free space re-read from the file system after this many bytes (others write too).
_RECHECK = 64 << 20


def _reserve(total: int) -> int:
    """Free space a decompression never takes: 2% of the file system, at least 64 MiB."""
    return max(64 << 20, total // 50)


class _Cancelled(LayerlabError):
    """A worker stopped because another one failed: never the error worth reporting."""


class SpaceBudget:
    """The room left in the temp directory, shared by every layer decompressed at once.

    Each worker takes what it writes from the same budget, so two layers cannot each
    believe the whole free space is theirs. `cancel()` makes every worker stop at its next
    1 MiB step; that is how Ctrl-C and the first failure stop the others quickly.
    """

    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory or tempfile.gettempdir()
        usage = shutil.disk_usage(self.directory)
        self.reserve = _reserve(usage.total)
        self._left = usage.free - self.reserve
        self._since_check = 0
        self._lock = threading.Lock()
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    def check(self, what: str) -> None:
        """Stop here if the work was cancelled (the caller has its own error to report)."""
        if self._cancelled.is_set():
            raise _Cancelled(f"{what}: stopped because another layer failed")

    def take(self, size: int, what: str) -> None:
        """Account for `size` more bytes written; refuse when the budget is spent."""
        self.check(what)
        with self._lock:
            self._left -= size
            self._since_check += size
            recheck = self._since_check >= _RECHECK
            if recheck:
                self._since_check = 0
            left = self._left
        if recheck:  # somebody else may be filling the same file system
            left = min(left, shutil.disk_usage(self.directory).free - self.reserve)
        if left < 0:
            self.cancel()
            raise LayerlabError(
                f"{what} does not fit in {self.directory} (TMPDIR) once decompressed: "
                f"layerlab keeps {self.reserve >> 20} MiB of it free; free some space or "
                "set TMPDIR to a bigger file system"
            )


def open_regular(path: str | os.PathLike[str], what: str) -> BinaryIO:
    """Open a blob for reading only if it is a regular file.

    The open itself does not block (O_NONBLOCK), so a FIFO or a device planted where a
    blob should be is refused at once instead of hanging the reader, and a device is
    never read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise LayerlabError(
                f"{what} ({os.fspath(path)}) is not a regular file but a "
                f"{_kind_of(mode)}; refusing it"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISDIR(mode):
        return "directory"
    return "socket or other special file"


def check_digest(digest: object, what: str) -> str:
    """Refuse anything that is not `sha256:<64 hex>` (or sha512): such a "digest" could be
    a path like `sha256:../../etc/passwd` (CVE-2024-3727)."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise LayerlabError(
            f"{what} has an invalid digest {str(digest)[:80]!r}; the image is corrupt"
        )
    return digest


def blob_path(digest: str, what: str) -> str:
    """Where a blob lives inside an OCI layout: `blobs/<alg>/<hex>`."""
    alg, hexpart = check_digest(digest, what).split(":")
    return f"blobs/{alg}/{hexpart}"


def sniff(head: bytes) -> str:
    """The compression of a blob from its first bytes: "gzip", "zstd" or "" (plain tar).

    Magic bytes rather than media types decide, like containerd does, because archives in
    the wild label compressed layers as plain tars and the other way round.
    """
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    return ""


def _hasher(digest: str | None) -> hashlib._Hash:
    return hashlib.new(digest.split(":")[0] if digest else "sha256")


def _verify(h: hashlib._Hash, expected: str | None, what: str) -> str:
    actual = f"{h.name}:{h.hexdigest()}"
    if expected is not None and actual != expected:
        raise LayerlabError(
            f"{what} does not match its digest {expected[:19]}... (its content is "
            f"{actual[:19]}...); the image is corrupt or was tampered with"
        )
    return actual


def hash_stream(
    stream: BinaryIO, expected: str | None, what: str, budget: SpaceBudget | None = None
) -> tuple[str, int]:
    """Hash a whole stream and check it against `expected`; returns (digest, size).
    With a `budget`, a cancel stops the hashing at the next 1 MiB."""
    h = _hasher(expected)
    size = 0
    for chunk in iter(lambda: stream.read(_CHUNK), b""):
        if budget is not None:
            budget.check(what)
        h.update(chunk)
        size += len(chunk)
    return _verify(h, expected, what), size


class _HashingReader:
    """Hashes the compressed bytes as the decompressor pulls them."""

    def __init__(self, stream: BinaryIO, h: hashlib._Hash) -> None:
        self.stream, self.h, self.size = stream, h, 0

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.h.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        """Hash what the decompressor left unread (gzip padding), so the digest is complete."""
        while self.read(_CHUNK):
            pass


def _gunzip(raw: _HashingReader) -> Iterator[bytes]:
    """gzip members decoded with zlib in 1 MiB steps (GzipFile reads 8 KiB at a time, which
    costs seconds on a big image). zlib checks each member's CRC and length."""
    data = raw.read(_CHUNK)
    if not data:
        raise EOFError("the gzip stream is empty")
    inflate = zlib.decompressobj(31)
    while True:
        out = inflate.decompress(data, _CHUNK)
        if out:
            yield out
        data = inflate.unconsumed_tail
        if inflate.eof:
            data = inflate.unused_data or raw.read(_CHUNK)
            if not data.strip(b"\0"):  # the end, or zero padding after it
                return
            inflate = zlib.decompressobj(31)  # another gzip member follows
        elif not data:
            data = raw.read(_CHUNK)
            if not data:
                raise EOFError("the gzip stream ends before its end-of-stream marker")


def _unzstd(raw: _HashingReader, zstandard: Any) -> Iterator[bytes]:
    """zstd frames decoded from small input slices, so output per step stays bounded, and
    a stream that ends inside a frame is reported as truncated (a plain stream_reader just
    stops there, and the damage would only show as a digest mismatch)."""
    data = raw.read(_CHUNK)
    if not data:
        raise EOFError("the zstd stream is empty")
    frame = zstandard.ZstdDecompressor().decompressobj()
    pos = 0
    while True:
        out = frame.decompress(data[pos : pos + _ZSTD_SLICE])
        pos += _ZSTD_SLICE
        if out:
            yield out
        if frame.eof:
            data, pos = frame.unused_data + data[pos:], 0
            if not data:
                data = raw.read(_CHUNK)
            if not data.strip(b"\0"):
                return
            frame = zstandard.ZstdDecompressor().decompressobj()  # another frame follows
        elif pos >= len(data):
            data, pos = raw.read(_CHUNK), 0
            if not data:
                raise EOFError("the zstd stream ends inside a frame")


def _decompressor(
    kind: str, raw: _HashingReader
) -> tuple[Iterator[bytes], tuple[type[Exception], ...]]:
    """The uncompressed bytes in chunks, and the exceptions that mean "damaged stream"."""
    if kind == "gzip":
        return _gunzip(raw), (EOFError, zlib.error)
    try:
        import zstandard
    except ImportError:
        raise LayerlabError(
            "this image has zstd-compressed layers; install the Python package 'zstandard' "
            "to read them"
        ) from None
    return _unzstd(raw, zstandard), (EOFError, zstandard.ZstdError)


@dataclass
class LayerBlob:
    """A verified layer: an uncompressed, seekable tar plus the identifiers that name it."""

    tar: BinaryIO
    diff_id: str
    digest: str
    size: int
    compression: str


def open_layer(
    open_blob: Callable[[], BinaryIO],
    *,
    what: str,
    digest: str | None = None,
    diff_id: str | None = None,
    budget: SpaceBudget | None = None,
) -> LayerBlob:
    """Open a stored layer blob, verify its digest and its DiffID, and return a seekable tar.

    `digest` is the address of the blob as stored (None when an archive does not give one),
    `diff_id` the one the image config expects for its uncompressed bytes. `budget` is the
    temp space shared with the layers decompressed at the same time (`open_layers`).
    """
    budget = budget or SpaceBudget()
    with open_blob() as stream:
        kind = sniff(stream.read(4))
    if not kind:
        with open_blob() as stream:
            actual, size = hash_stream(stream, digest, what, budget)
        if diff_id is not None and actual != diff_id:
            raise LayerlabError(
                f"{what} is an uncompressed tar with DiffID {actual[:19]}..., but the config "
                f"expects {diff_id[:19]}...; the image is corrupt"
            )
        return LayerBlob(open_blob(), actual, actual, size, "")
    out = tempfile.TemporaryFile()  # noqa: SIM115 - it outlives this call, as the layer's tar
    try:
        blob_digest, size, actual = _decompress(open_blob, kind, out, what, digest, diff_id, budget)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return LayerBlob(out, actual, blob_digest, size, kind)  # type: ignore[arg-type]


def open_layers(
    requests: Sequence[tuple[Callable[[], BinaryIO], str, str | None, str | None]],
) -> list[LayerBlob]:
    """`open_layer` for (open_blob, what, digest, diff_id) requests, several at a time.

    Decompression and hashing release the GIL, so on a machine with two CPUs two layers
    verify in the time of one. All of them share one `SpaceBudget`; the first failure, or
    Ctrl-C, cancels it, which stops the running workers within a step and the others
    before they start (the pool waits for its threads, so they must stop quickly).
    """
    workers = max(1, min(len(requests), os.cpu_count() or 1, 4))
    budget = SpaceBudget()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(
                open_layer, opener, what=what, digest=digest, diff_id=diff_id, budget=budget
            )
            for opener, what, digest, diff_id in requests
        ]
        try:
            return [future.result() for future in futures]
        except BaseException as exc:
            budget.cancel()
            for future in futures:
                future.cancel()
            if isinstance(exc, _Cancelled):  # the first error is another worker's
                for future in futures:
                    failure = None if future.cancelled() else future.exception()
                    if failure is not None and not isinstance(failure, _Cancelled):
                        raise failure from None
            raise


def _decompress(
    open_blob: Callable[[], BinaryIO],
    kind: str,
    out: BinaryIO,
    what: str,
    digest: str | None,
    diff_id: str | None,
    budget: SpaceBudget,
) -> tuple[str, int, str]:
    blob_hash, tar_hash = _hasher(digest), _hasher(diff_id)
    written = 0
    with open_blob() as stream:
        raw = _HashingReader(stream, blob_hash)
        chunks, damaged = _decompressor(kind, raw)
        try:
            for chunk in chunks:
                if not written and sniff(chunk[:4]):
                    raise LayerlabError(
                        f"{what} is {kind}-compressed, and its decompressed bytes are "
                        f"{sniff(chunk[:4])}-compressed again instead of a tar; layers are "
                        "decompressed once, refusing it"
                    )
                written += len(chunk)
                if written > _RATIO_GRACE and written > MAX_RATIO * max(raw.size, 1):
                    raise LayerlabError(
                        f"{what} expands more than {MAX_RATIO}x when decompressed; "
                        "refusing a likely decompression bomb"
                    )
                budget.take(len(chunk), what)
                tar_hash.update(chunk)
                out.write(chunk)
        except damaged as exc:
            raise LayerlabError(
                f"{what} is a truncated or damaged {kind} stream ({exc}); re-download or "
                "re-save the image"
            ) from None
        raw.drain()
    blob_digest = _verify(blob_hash, digest, what)
    actual = _verify(tar_hash, diff_id, f"the uncompressed {what}")
    return blob_digest, raw.size, actual


def compress(src: BinaryIO, dst: BinaryIO, kind: str) -> None:
    """Compress a tar reproducibly: gzip without a name or timestamp, or zstd."""
    if kind == "gzip":
        with gzip.GzipFile(fileobj=dst, mode="wb", mtime=0, filename="") as z:
            shutil.copyfileobj(src, z, _CHUNK)
    elif kind == "zstd":
        import zstandard

        zstandard.ZstdCompressor().copy_stream(src, dst)
    elif kind:
        raise LayerlabError(f"unknown compression {kind!r}; use gzip, zstd or none")
    else:
        shutil.copyfileobj(src, dst, _CHUNK)


def file_opener(path: str | os.PathLike[str]) -> Callable[[], BinaryIO]:
    """An opener for a blob file, as `open_layer` and `LayerRef.open_blob` want."""
    return lambda: open_regular(path, f"the blob {os.fspath(path)}")
