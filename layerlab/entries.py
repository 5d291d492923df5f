"""What a layer is made of: files, directories, links, devices and the two deletion markers.

Every entry is an immutable value. A layer maps clean absolute paths ("/etc/hosts") to
entries; the union model combines layers without ever touching a disk. `Whiteout` and
`OpaqueDir` are first-class entries rather than magic file names, because the two on-disk
spellings (AuFS/OCI `.wh.` files, overlayfs char devices and xattrs) are only encodings
of the same idea. The format adapters translate; the model stays spelling-free.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import BinaryIO, ClassVar

__all__ = [
    "Meta",
    "Content",
    "Entry",
    "File",
    "Dir",
    "OpaqueDir",
    "Symlink",
    "Hardlink",
    "Device",
    "Fifo",
    "Whiteout",
    "describe",
    "normpath",
    "parent_of",
    "ancestors",
    "is_under",
]


def normpath(path: str) -> str:
    """Canonical model path: absolute, no `.`, no trailing slash; `..` is refused.

    The model refuses `..` instead of resolving it, so that a path leaving the root can
    never be represented; readers of untrusted tars clean names before they get here.
    """
    if not isinstance(path, str):
        raise TypeError(f"path must be a string, not {type(path).__name__}")
    if path[:1] == "/" and "//" not in path and "/." not in path and path[-1:] != "/":
        return path  # already canonical: absolute, no empty, "." or ".." part
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"path {path!r} contains '..'; give a path inside the root")
    return "/" + "/".join(parts)


def parent_of(path: str) -> str:
    """The directory holding `path` ("/" for top-level names and for "/" itself)."""
    return posixpath.dirname(path) or "/"


def ancestors(path: str) -> list[str]:
    """Proper ancestors of `path`, outermost first, without "/": "/a/b/c" -> ["/a", "/a/b"]."""
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts)) if parts[0]]


def is_under(path: str, top: str) -> bool:
    """True if `path` is `top` or lies inside it."""
    return top == "/" or path == top or path.startswith(top + "/")


@dataclass(frozen=True, slots=True)
class Meta:
    """Ownership, permission bits, mtime and xattrs: what copy-up must preserve."""

    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    xattrs: tuple[tuple[str, bytes], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", self.mode & 0o7777)
        if isinstance(self.xattrs, Mapping):
            object.__setattr__(self, "xattrs", tuple(sorted(self.xattrs.items())))

    def with_(self, **changes: object) -> Meta:
        """A copy with some fields changed (chmod, chown, touch)."""
        return replace(self, **changes)


class Content:
    """File bytes that may live elsewhere (in a tar blob, on disk) until someone reads them.

    Keeping contents lazy is what lets a 1 GB image be modelled in a few MB: the union
    model only needs sizes and identities, and flattening streams the bytes once.
    """

    __slots__ = ("size", "_opener", "_data", "_digest")

    def __init__(
        self,
        data: bytes | None = None,
        *,
        size: int | None = None,
        opener: Callable[[], BinaryIO] | None = None,
        digest: str | None = None,
    ) -> None:
        if data is None and opener is None:
            raise TypeError("Content needs data or an opener")
        self._data = bytes(data) if data is not None else None
        self._opener = opener
        self.size = len(self._data) if self._data is not None else int(size or 0)
        self._digest = digest

    @classmethod
    def of(cls, value: bytes | str | Content) -> Content:
        """Accept what a learner naturally types: text, bytes or existing Content."""
        if isinstance(value, Content):
            return value
        if isinstance(value, str):
            value = value.encode()
        return cls(value)

    @property
    def opener(self) -> Callable[[], BinaryIO] | None:
        """Where lazy bytes come from (None when they are in memory): a writer that knows
        the kind of opener may copy the bytes without opening a stream."""
        return self._opener

    def open(self) -> BinaryIO:
        """A fresh binary stream over the bytes."""
        if self._data is not None:
            return io.BytesIO(self._data)
        assert self._opener is not None
        return self._opener()

    def read(self) -> bytes:
        """All the bytes at once; fine for the small files notebooks show."""
        if self._data is not None:
            return self._data
        with self.open() as stream:
            return stream.read()

    @property
    def digest(self) -> str:
        """sha256 of the bytes, computed once; equal digests mean equal contents."""
        if self._digest is None:
            h = hashlib.sha256()
            with self.open() as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    h.update(chunk)
            self._digest = "sha256:" + h.hexdigest()
        return self._digest

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Content):
            return NotImplemented
        if self.size != other.size:
            return False
        if self._data is not None and other._data is not None:
            return self._data == other._data
        return self.digest == other.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        if self._data is not None and self.size <= 32:
            return f"Content({self._data!r})"
        return f"Content(<{self.size} bytes>)"


EMPTY = Content(b"")


@dataclass(frozen=True, slots=True)
class Entry:
    """Base of every layer entry; `kind` is the short name notebooks and renderers print."""

    kind: ClassVar[str] = "entry"
    meta: Meta = field(default_factory=Meta)

    @property
    def is_dir(self) -> bool:
        return isinstance(self, Dir)


@dataclass(frozen=True, slots=True)
class File(Entry):
    """A regular file. Build one with `File.of("text")` in notebooks."""

    kind: ClassVar[str] = "file"
    content: Content = EMPTY

    @classmethod
    def of(cls, data: bytes | str | Content = b"", mode: int = 0o644, **meta: int) -> File:
        return cls(Meta(mode=mode, **meta), Content.of(data))

    @property
    def size(self) -> int:
        return self.content.size


@dataclass(frozen=True, slots=True)
class Dir(Entry):
    """A directory. Over a lower directory it merges; its own metadata wins."""

    kind: ClassVar[str] = "dir"
    meta: Meta = field(default_factory=lambda: Meta(mode=0o755))

    @property
    def opaque(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class OpaqueDir(Dir):
    """A directory that hides every lower-layer child: `.wh..wh..opq`, or overlay's
    `trusted.overlay.opaque=y`. It never hides children from its own layer."""

    kind: ClassVar[str] = "opaque dir"

    @property
    def opaque(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Symlink(Entry):
    """A symbolic link; the model never follows it, exactly like a safe extractor."""

    kind: ClassVar[str] = "symlink"
    meta: Meta = field(default_factory=lambda: Meta(mode=0o777))
    target: str = ""


@dataclass(frozen=True, slots=True)
class Hardlink(Entry):
    """A second name for an existing non-directory, named by its image path.

    The target may live in this layer or a lower one. Once applied, both names share
    one inode, so deleting the target later keeps the content alive.
    """

    kind: ClassVar[str] = "hardlink"
    target: str = "/"


@dataclass(frozen=True, slots=True)
class Device(Entry):
    """A character ("c") or block ("b") device node."""

    kind: ClassVar[str] = "device"
    type: str = "c"
    major: int = 0
    minor: int = 0


@dataclass(frozen=True, slots=True)
class Fifo(Entry):
    """A named pipe."""

    kind: ClassVar[str] = "fifo"


@dataclass(frozen=True, slots=True)
class Whiteout(Entry):
    """Deletes the same path, and everything under it, from the layers below.

    It has no metadata of its own and is never visible in the merged view.
    """

    kind: ClassVar[str] = "whiteout"


def describe(entry: Entry) -> str:
    """A short human description used by reprs, text renderers and exercise hints."""
    if isinstance(entry, File):
        return f"file {entry.size}B {entry.meta.mode:04o}"
    if isinstance(entry, Symlink):
        return f"symlink -> {entry.target}"
    if isinstance(entry, Hardlink):
        return f"hardlink -> {entry.target}"
    if isinstance(entry, Device):
        return f"{entry.type}-device {entry.major}:{entry.minor}"
    if isinstance(entry, Dir):
        return f"{entry.kind} {entry.meta.mode:04o}"
    return entry.kind
