"""Untrusted input, one place: the rules that keep a hostile image from touching the host.

An image is data somebody else wrote. Every reader in layerlab cleans names and checks
markers here, so that the list of known escapes (docs/semantics.md, "Bad input") is handled
once and tested once:

* tar names with `..` (CVE-2007-4559) are refused; absolute names are made relative;
* hardlinks may only name paths inside the layer stack, never `../x` or a host path;
* whiteouts must name something: `.wh.`, `.wh..`, `.wh...` are refused;
* overlayfs marker xattrs inside a tar would let a layer forge whiteouts on disk: refused;
* blob and manifest paths must stay inside the image (CVE-2024-3727);
* JSON documents and decompressed streams are size-limited (bombs), JSON nesting is
  limited, and every JSON field layerlab reads must have the type the spec gives it
  (`check_field`), so a wrong type is a message naming the field, never a crash.

Every failure is a `LayerlabError` whose message is one line saying what is wrong and
what to do; the CLI prints it as `layerlab: error: <message>`.
"""

from __future__ import annotations

import json
import os
import posixpath
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "LayerlabError",
    "WHITEOUT_PREFIX",
    "OPAQUE_MARKER",
    "MAX_JSON_BYTES",
    "MAX_RATIO",
    "MAX_ENTRIES",
    "clean_member_name",
    "clean_link_target",
    "whiteout_name",
    "check_xattr",
    "check_no_whiteout_name",
    "inside",
    "read_json",
    "parse_json",
    "check_field",
    "check_image_config",
    "check_destination",
]

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
#: AuFS keeps its own bookkeeping under `.wh..wh.*` names; they are never part of a layer.
AUFS_META_PREFIX = ".wh..wh."
#: Overlayfs reads these xattrs as whiteout and opaque markers; a tar must not carry them.
OVERLAY_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")
#: Largest JSON document (index, manifest, config) we parse: real ones are a few KB.
MAX_JSON_BYTES = 16 << 20
#: Largest output/input ratio of a decompressed blob. Deflate cannot exceed ~1032:1, so
#: any honest gzip layer passes; a zstd bomb (or a nested one) does not.
MAX_RATIO = 1100
#: Most tar entries layerlab reads for one image, all layers together. An entry costs
#: about 290 bytes of memory to read and 580 to flatten (bench/hostile.py measures it),
#: so the worst image stays under 300 MB; the largest real images we know have a few
#: hundred thousand files.
MAX_ENTRIES = 400_000
#: Deepest JSON nesting we accept: real image documents are 4 or 5 levels deep.
MAX_JSON_DEPTH = 64


class LayerlabError(Exception):
    """A refusal with a one-line message that tells the user what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def clean_member_name(name: str) -> str:
    """The model path of a tar member name; refuses names that could leave the root.

    A leading "/" is dropped (the name stays inside the layer, as GNU tar and Docker do).
    Any `..` component is refused outright: no tool writes one, and resolving it
    lexically would still be wrong once a symlink sits on the path.
    """
    if (  # already canonical, the common case: no empty, "." or ".." part, no NUL
        name[:1] not in ("", ".", "/")
        and name[-1] != "/"
        and "/." not in name
        and "//" not in name
        and "\x00" not in name
    ):
        return "/" + name
    if not name or "\x00" in name:
        raise LayerlabError(f"tar entry {name!r} has an empty or invalid name; refusing the layer")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerlabError(
            f"tar entry {name!r} contains '..' and could escape the root; refusing this layer"
        )
    return "/" + "/".join(parts)


def clean_link_target(member: str, target: str) -> str:
    """The model path a hardlink points to; refuses `..` and absolute host paths.

    A hardlink names another entry of the layer stack by its path in the archive. An
    absolute or `..` target can only be an attempt to link a host file (docs/semantics.md).
    """
    if target.startswith("/"):
        raise LayerlabError(
            f"hardlink {member!r} points to absolute path {target!r}; hardlink targets must be "
            "paths inside the image, refusing this layer"
        )
    if ".." in target.split("/"):
        raise LayerlabError(
            f"hardlink {member!r} points to {target!r}, outside the image; refusing this layer"
        )
    path = clean_member_name(target)
    if path == "/":
        raise LayerlabError(f"hardlink {member!r} points to the root directory; refusing it")
    return path


def whiteout_name(member: str, basename: str) -> str | None:
    """For a `.wh.` member, the name it deletes; None for the opaque marker.

    Refuses the names that delete nothing or something impossible: `.wh.` (no name),
    `.wh..` and `.wh...` (the directory itself or its parent), and AuFS's internal
    `.wh..wh.*` bookkeeping, which a layer never carries.
    """
    if basename == OPAQUE_MARKER:
        return None
    if basename.startswith(AUFS_META_PREFIX):
        raise LayerlabError(
            f"tar entry {member!r} is AuFS-internal bookkeeping, not a layer entry; "
            "refusing this layer"
        )
    target = basename[len(WHITEOUT_PREFIX) :]
    if target in ("", ".", ".."):
        raise LayerlabError(
            f"whiteout {member!r} names {target or 'nothing'!r}; a whiteout must name a file, "
            "refusing this layer"
        )
    return target


def check_no_whiteout_name(path: str) -> None:
    """Refuse a real file called `.wh.*`: in a layer that name can only mean a deletion."""
    if posixpath.basename(path).startswith(WHITEOUT_PREFIX):
        raise LayerlabError(
            f"{path!r} is named like a whiteout (.wh.*) and cannot be stored in a layer; rename it"
        )


def check_xattr(member: str, key: str) -> None:
    """Refuse overlayfs marker xattrs: extracted onto an upper dir they would forge
    whiteouts or opaque directories that the tar never declared."""
    if key.startswith(OVERLAY_XATTR_PREFIXES):
        raise LayerlabError(
            f"tar entry {member!r} carries the overlayfs xattr {key!r}; a layer must not set "
            "overlay markers, refusing it"
        )


def inside(root: Path, relative: str, what: str) -> Path:
    """`root/relative`, refusing anything that leaves `root` (absolute, `..`, symlinks).

    Used for blob paths and archive member paths named by a manifest (CVE-2024-3727).
    """
    if not relative or relative.startswith("/") or ".." in relative.split("/"):
        raise LayerlabError(f"{what} names the path {relative!r}, outside the image; refusing it")
    path = root / relative
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if real != real_root and not real.startswith(real_root + os.sep):
        raise LayerlabError(
            f"{what} path {relative!r} leads outside the image through a symlink; refusing it"
        )
    return path


def parse_json(data: bytes, what: str) -> Any:
    """Parse a JSON document, refusing huge or deeply nested ones and turning syntax errors
    into one line. Nesting is limited because every later walk over the document (printing
    it, copying it) would otherwise fail on the recursion limit instead of here."""
    if len(data) > MAX_JSON_BYTES:
        raise LayerlabError(
            f"{what} is {len(data)} bytes, more than the {MAX_JSON_BYTES} allowed; refusing it"
        )
    try:
        value = json.loads(data)
    except RecursionError:
        value = None  # nested far beyond MAX_JSON_DEPTH: reported below
        depth = MAX_JSON_DEPTH + 1
    except (ValueError, UnicodeDecodeError) as exc:
        raise LayerlabError(f"{what} is not valid JSON ({exc}); the image is corrupt") from None
    else:
        depth = _depth(value)
    if depth > MAX_JSON_DEPTH:
        raise LayerlabError(
            f"{what} is nested more than {MAX_JSON_DEPTH} levels deep; the image is corrupt"
        )
    return value


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed document (iteratively)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                stack.extend((child, level + 1) for child in item)
    return deepest


_JSON_TYPES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "a number",
    bool: "true or false",
}


def check_field(
    document: Any,
    key: str,
    kind: type,
    what: str,
    *,
    required: bool = False,
    items: type | None = None,
) -> Any:
    """`document[key]` if it has the JSON type `kind` (and its items `items`), else a
    one-line refusal naming the field and the document; a missing optional field is None."""
    value = document.get(key) if isinstance(document, dict) else None
    if value is None and not required:
        return None
    wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
    if not wrong and items is not None:
        wrong = not all(isinstance(item, items) for item in value)
    if wrong:
        expected = _JSON_TYPES[kind] + (f" of {_JSON_TYPES[items]}s" if items else "")
        got = "missing" if value is None else f"{type(value).__name__} {str(value)[:40]!r}"
        raise LayerlabError(
            f"{what}: field {key!r} should be {expected}, but it is {got}; the image is corrupt"
        )
    return value


def read_json(stream: BinaryIO, what: str) -> Any:
    """Read and parse at most MAX_JSON_BYTES (+1, to notice a bigger one) from a stream."""
    return parse_json(stream.read(MAX_JSON_BYTES + 1), what)


def check_image_config(config: Any, what: str) -> list[str]:
    """Type-check every field of an image config that layerlab reads; returns its diff_ids.

    The model trusts these types (history entries are objects, `created_by` is text), so
    they are checked once here, where the field and the file can still be named.
    """
    if not isinstance(config, dict):
        raise LayerlabError(f"{what} is not a JSON object; the image is corrupt")
    rootfs = check_field(config, "rootfs", dict, what, required=True)
    diff_ids = check_field(rootfs, "diff_ids", list, f"{what} rootfs", required=True, items=str)
    for key in ("created", "architecture", "os", "author"):
        check_field(config, key, str, what)
    check_field(config, "config", dict, what)
    history = check_field(config, "history", list, what, items=dict) or []
    for i, step in enumerate(history):
        for key in ("created", "created_by", "author", "comment"):
            check_field(step, key, str, f"{what} history[{i}]")
        check_field(step, "empty_layer", bool, f"{what} history[{i}]")
    return list(diff_ids)


def check_destination(dest: Path) -> bool:
    """Refuse a destination that holds anything: flattening never overwrites user data.

    Returns True when `dest` exists (empty), False when it is absent but creatable.
    """
    if os.path.islink(dest):
        raise LayerlabError(f"destination {dest} is a symlink; give a real empty directory")
    if dest.exists():
        if not dest.is_dir():
            raise LayerlabError(f"destination {dest} exists and is not a directory; choose another")
        with os.scandir(dest) as names:
            if next(names, None) is not None:
                raise LayerlabError(
                    f"destination {dest} is not empty; give a new or empty directory so nothing "
                    "is lost"
                )
        return True
    parent = dest.parent
    if not parent.is_dir():
        raise LayerlabError(f"the parent of destination {dest} does not exist; create it first")
    return False
