"""Reading an OCI layer tar: how a `Layer` arrives from images, registries and Docker.

A layer tar is a *changeset*, not an archive to untar: `.wh.<name>` files delete lower
paths, `<dir>/.wh..wh..opq` hides a directory's lower children (OCI image-spec layer.md).
`read_changeset` turns such a tar into a `Layer`, treating every byte as hostile (the
checks live in `layerlab.safety`); `write.write_changeset` does the reverse.

Big layers stay on disk: from a seekable file, each file's `Content` only remembers where
its bytes are and reads them when asked (with pread, so many readers can share one file).
"""

from __future__ import annotations

import bisect
import contextlib
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
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
    parent_of,
)
from ..layer import Layer
from ..safety import (
    MAX_ENTRIES,
    OPAQUE_MARKER,
    WHITEOUT_PREFIX,
    LayerlabError,
    check_xattr,
    clean_link_target,
    clean_member_name,
    whiteout_name,
)
from .blobslice import BlobSlice, Extent
from .headers import Header, read_headers

__all__ = [
    "read_changeset",
    "apply_markers",
    "check_parents",
]

XATTR_PAX = "SCHILY.xattr."
#: A member header. Contents are never streamed through tarfile (see `_members`).
Member = Header | tarfile.TarInfo
_CHUNK = 1 << 20


def _members(fileobj: BinaryIO) -> tuple[Iterator[Header], BlobSlice]:
    """The members of a layer tar, and the window their contents will be read from.

    Contents are never held in memory: a seekable, uncompressed file is read in place; a
    pipe is first copied to a temporary file; a gzip or zstd stream is decompressed once
    (with the checks of `tar.blobs`) into one. Whatever comes out must be a tar.
    """
    if isinstance(fileobj, BlobSlice):
        return read_headers(fileobj), fileobj
    seekable = False
    with contextlib.suppress(AttributeError, OSError):
        seekable = fileobj.seekable()
    if seekable:
        start = fileobj.tell()
        magic = fileobj.read(4)
        fileobj.seek(start)
        whole = BlobSlice.over(fileobj)
    else:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - kept open by the window below
        shutil.copyfileobj(fileobj, spool, _CHUNK)
        spool.seek(0)
        magic = spool.read(4)
        spool.seek(0)
        whole = BlobSlice.over(spool)
    if magic[:2] == b"\x1f\x8b" or magic == b"\x28\xb5\x2f\xfd":
        from .blobs import open_layer

        blob = open_layer(lambda: whole.window(0, whole.size), what="the layer")  # type: ignore[arg-type,return-value]
        whole = BlobSlice.over(blob.tar)
    return read_headers(whole), whole


#: Owners a file system stores: uid_t is 32 bits, and (uid_t)-1 means "leave unchanged".
_MAX_ID = (1 << 32) - 2
#: Times that fit in nanoseconds as a signed 64-bit number, as utimensat needs them.
_MAX_TIME = ((1 << 63) - 1) // 10**9
#: Linux device numbers: 12 bits of major, 20 of minor; bigger ones would wrap around
#: to another device (major 4097 becomes 1, the memory devices).
_MAX_MAJOR, _MAX_MINOR = (1 << 12) - 1, (1 << 20) - 1


def _out_of_range(member: Member, field: str, value: object, allowed: str) -> LayerlabError:
    return LayerlabError(
        f"tar entry {member.name!r} has {field} {value!r}, outside {allowed}; refusing this layer"
    )


def _meta(member: Member, known: dict[tuple, Meta]) -> Meta:
    """The entry's metadata. Most entries of a layer share owner, mode and mtime, so one
    `Meta` per distinct tuple (`known`) serves them all and is range-checked only once
    (a nan mtime never equals itself, so it is never found, always checked)."""
    xattrs: tuple[tuple[str, bytes], ...] = ()
    if member.pax_headers:
        found = []
        for key, value in member.pax_headers.items():
            if key.startswith(XATTR_PAX):
                name = key[len(XATTR_PAX) :]
                check_xattr(member.name, name)
                found.append((name, value.encode("utf-8", "surrogateescape")))
        xattrs = tuple(sorted(found))
    key = (member.mode, member.uid, member.gid, member.mtime, xattrs)
    meta = known.get(key)
    if meta is None:
        if not (0 <= member.uid <= _MAX_ID and 0 <= member.gid <= _MAX_ID):
            owner = f"{member.uid}:{member.gid}"
            raise _out_of_range(member, "owner", owner, f"0..{_MAX_ID}")
        if not -_MAX_TIME <= member.mtime <= _MAX_TIME:  # also false for nan
            raise _out_of_range(member, "mtime", member.mtime, "the years 1678..2262")
        meta = known[key] = Meta(
            mode=member.mode & 0o7777,
            uid=member.uid,
            gid=member.gid,
            mtime=int(member.mtime),
            xattrs=xattrs,
        )
    return meta


#: Type flags of regular files: tarfile keeps the pre-POSIX NUL one, our reader maps it.
_REGULAR = frozenset((tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE))


def _entry(member: Member, path: str, whole: BlobSlice, known: dict[tuple, Meta]) -> Entry:
    meta = _meta(member, known)
    kind = member.type
    if kind == tarfile.DIRTYPE:
        return Dir(meta)
    if path == "/":
        raise LayerlabError(
            f"tar entry {member.name!r} makes the root a {member.type!r} entry, "
            "not a directory; refusing this layer"
        )
    if kind in _REGULAR:
        if member.sparse is not None:
            raise LayerlabError(
                f"tar entry {member.name!r} is a sparse file, which layerlab "
                "does not read; re-create the layer without --sparse"
            )
        if not member.size:
            return File(meta)  # shares the one empty Content
        size = member.size
        return File(meta, Content(size=size, opener=Extent(whole, member.offset_data, size)))
    if member.issym():
        return Symlink(meta, member.linkname)
    if member.islnk():
        target = clean_link_target(member.name, member.linkname)
        if target == path:
            raise LayerlabError(f"hardlink {member.name!r} points to itself; refusing this layer")
        return Hardlink(meta, target=target)
    if member.ischr() or member.isblk():
        if not (0 <= member.devmajor <= _MAX_MAJOR and 0 <= member.devminor <= _MAX_MINOR):
            number = f"{member.devmajor}:{member.devminor}"
            raise _out_of_range(member, "device number", number, "Linux's 12:20 bits")
        return Device(meta, "c" if member.ischr() else "b", member.devmajor, member.devminor)
    if member.isfifo():
        return Fifo(meta)
    raise LayerlabError(
        f"tar entry {member.name!r} has unsupported type {member.type!r}; refusing this layer"
    )


def read_changeset(
    fileobj: BinaryIO, *, name: str = "", created_by: str = "", max_entries: int = MAX_ENTRIES
) -> Layer:
    """Parse an OCI layer tar (untrusted) into a `Layer`.

    File contents are read lazily, never kept in memory: from the file itself when it is
    a seekable, uncompressed tar, otherwise from a temporary copy (see `_members`). More
    than `max_entries` tar entries are refused before they fill the memory.
    """
    entries: dict[str, Entry] = {}
    whiteouts: set[str] = set()
    opaque: set[str] = set()
    known: dict[tuple, Meta] = {}
    end = 0
    try:
        members, whole = _members(fileobj)
        for count, member in enumerate(members, 1):
            if count > max_entries:
                raise LayerlabError(
                    f"the layer has more than {max_entries} entries; layerlab reads at most "
                    f"{MAX_ENTRIES} per image (safety.MAX_ENTRIES), refusing it"
                )
            end = max(end, member.offset_data + member.size)
            path = clean_member_name(member.name)
            base = path.rpartition("/")[2]
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
            entries[path] = _entry(member, path, whole, known)  # a later duplicate wins
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise LayerlabError(f"the layer is not a readable tar ({exc}); is it truncated?") from None
    if end > whole.size:
        raise LayerlabError(
            f"the layer tar is truncated: it needs {end} bytes but has {whole.size}; "
            "re-create or re-download it"
        )
    apply_markers(entries, whiteouts, opaque)
    check_parents(entries)
    return Layer.of_canonical(entries, name=name, created_by=created_by)


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
    blockers = sorted(p for p, e in entries.items() if not isinstance(e, (Dir, Whiteout)))
    if not blockers:
        return
    # Paths below a blocker sort right after "<blocker>/": one binary search per blocker,
    # not every ancestor of every path (quadratic in the depth of a hostile tree).
    paths = sorted(entries)
    for parent in blockers:
        below = bisect.bisect_left(paths, parent + "/")
        if below < len(paths) and paths[below].startswith(parent + "/"):
            raise LayerlabError(
                f"layer entry {paths[below]} lies below {parent}, which the same layer makes a "
                f"{entries[parent].kind}; refusing this layer"
            )
