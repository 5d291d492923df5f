"""OCI image layouts: the directory form of an image that skopeo, umoci and buildkit share.

    DIR/oci-layout          {"imageLayoutVersion": "1.0.0"}
    DIR/index.json          which manifests exist, tagged with org.opencontainers.image.ref.name
    DIR/blobs/sha256/<hex>  manifests, configs and layers, named by the sha256 of their bytes

An image is read top-down: index -> manifest -> config + layers. Every blob is verified
against its digest and size, the config's DiffIDs against the uncompressed layers, and no
name from the image can reach outside DIR. `DIR:TAG` picks one tagged image.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from ..image import Image, LayerRef
from ..layer import Layer
from ..output import new_directory
from ..safety import (
    MAX_ENTRIES,
    MAX_JSON_BYTES,
    LayerlabError,
    check_field,
    check_image_config,
    inside,
    parse_json,
)
from ..tar.blobs import (
    blob_path,
    check_digest,
    compress,
    open_layer,
    open_layers,
    open_regular,
    sniff,
)
from ..tar.read import read_changeset

__all__ = [
    "REF_NAME",
    "Store",
    "DirStore",
    "split_ref",
    "is_layout",
    "load_oci",
    "load_from_store",
    "save_oci",
]

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}


class Store(Protocol):
    """Somewhere the files of a layout live: a directory, or a `docker save` tar."""

    def open(self, relpath: str, what: str) -> BinaryIO: ...

    def exists(self, relpath: str) -> bool: ...


class DirStore:
    """A layout directory; every path is checked to stay inside it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def open(self, relpath: str, what: str) -> BinaryIO:
        path = inside(self.root, relpath, what)
        try:
            return open_regular(path, what)
        except FileNotFoundError:
            raise LayerlabError(f"{what} is missing ({relpath}); the image is incomplete") from None
        except OSError as exc:
            raise LayerlabError(f"cannot read {what} ({exc.strerror})") from None

    def exists(self, relpath: str) -> bool:
        return (self.root / relpath).is_file()


def split_ref(text: str) -> tuple[Path, str | None]:
    """`PATH` or `PATH:TAG` -> (PATH, TAG); the tag itself may hold colons ("name:tag").

    A path that exists as typed is never split; otherwise the shortest existing prefix
    before a colon is the path.
    """
    if os.path.exists(text) or ":" not in text:
        return Path(text), None
    for i, char in enumerate(text):
        if char == ":" and i and os.path.exists(text[:i]):
            return Path(text[:i]), text[i + 1 :] or None
    return Path(text), None


def is_layout(path: Path) -> bool:
    """An OCI layout directory has an `oci-layout` file."""
    return path.is_dir() and (path / "oci-layout").is_file()


def _read_blob(store: Store, desc: Any, what: str) -> bytes:
    """A small blob (JSON), checked against its descriptor's digest and size."""
    if not isinstance(desc, dict):
        raise LayerlabError(f"{what} descriptor is not an object; the image is corrupt")
    _check_descriptor(desc, f"the descriptor of {what}")
    digest = check_digest(desc.get("digest"), what)
    with store.open(blob_path(digest, what), what) as stream:
        data = stream.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise LayerlabError(f"{what} is larger than {MAX_JSON_BYTES} bytes; refusing it")
    actual = f"{digest.split(':')[0]}:{hashlib.new(digest.split(':')[0], data).hexdigest()}"
    if actual != digest:
        raise LayerlabError(
            f"{what} does not match its digest {digest[:19]}...; the image is corrupt or was "
            "tampered with"
        )
    if desc.get("size") != len(data):
        raise LayerlabError(
            f"{what} has {len(data)} bytes but its descriptor says "
            f"{desc.get('size')}; the image is corrupt"
        )
    return data


def _check_descriptor(desc: dict[str, Any], what: str) -> None:
    """The fields of an OCI descriptor that layerlab reads, type-checked."""
    check_field(desc, "mediaType", str, what)
    check_field(desc, "size", int, what)
    annotations = check_field(desc, "annotations", dict, what) or {}
    for key, value in annotations.items():
        if not isinstance(value, str):
            raise LayerlabError(
                f"{what}: annotation {key[:60]!r} should be a string; the image is corrupt"
            )
    platform = check_field(desc, "platform", dict, what)
    if platform is not None:
        check_field(platform, "os", str, f"{what} platform")
        check_field(platform, "architecture", str, f"{what} platform")


def _platform_ok(desc: dict[str, Any]) -> bool:
    want = _ARCH.get(platform.machine(), platform.machine())
    plat = desc.get("platform") or {}
    return plat.get("os", "linux") == "linux" and plat.get("architecture", want) == want


#: Nested image indexes we descend; real ones nest once (a multi-platform image).
_MAX_NESTING = 8


def _pick(store: Store, index: Any, tag: str | None, where: str, depth: int = 0) -> dict[str, Any]:
    """The manifest descriptor for `tag` (or the only image), descending nested indexes."""
    if depth > _MAX_NESTING:
        raise LayerlabError(
            f"{where} nests image indexes more than {_MAX_NESTING} deep; the layout is corrupt"
        )
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise LayerlabError(f"{where} lists no images; the layout is empty or corrupt")
    manifests = [m for m in manifests if isinstance(m, dict)]
    for i, m in enumerate(manifests):
        _check_descriptor(m, f"{where}: manifests[{i}]")
    if tag is not None:
        names = [m.get("annotations", {}).get(REF_NAME) for m in manifests]
        chosen = [m for m, n in zip(manifests, names, strict=True) if n == tag]
        if not chosen:
            known = ", ".join(sorted({n for n in names if n})) or "none"
            raise LayerlabError(f"{where} has no image tagged {tag!r} (tags: {known})")
    else:
        chosen = manifests if len(manifests) == 1 else [m for m in manifests if _platform_ok(m)]
        if len(chosen) != 1:
            tags = sorted({m.get("annotations", {}).get(REF_NAME, "?") for m in manifests})
            raise LayerlabError(
                f"{where} holds {len(manifests)} images (tags: {', '.join(tags)}); "
                "pick one with DIR:TAG"
            )
    desc = chosen[0]
    if desc.get("mediaType") in (INDEX, DOCKER_LIST):
        nested = parse_json(_read_blob(store, desc, "a nested image index"), "a nested index")
        picked = _pick(store, nested, None, where, depth + 1)
        return {**picked, "annotations": desc.get("annotations", {})}
    return desc


def load_from_store(store: Store, tag: str | None, where: str) -> Image:
    """Load one image from a layout held in `store` (a directory or an archive)."""
    if not store.exists("oci-layout"):
        raise LayerlabError(f"{where} is not an OCI image layout (no oci-layout file)")
    with store.open("index.json", "index.json") as stream:
        index = parse_json(stream.read(MAX_JSON_BYTES + 1), f"{where}/index.json")
    desc = _pick(store, index, tag, where)
    manifest = parse_json(_read_blob(store, desc, "the image manifest"), "the image manifest")
    if not isinstance(manifest, dict):
        raise LayerlabError("the image manifest is not a JSON object; the image is corrupt")
    config_bytes = _read_blob(store, manifest.get("config"), "the image config")
    diff_ids = check_image_config(parse_json(config_bytes, "the image config"), "the image config")
    layers = check_field(manifest, "layers", list, "the image manifest", required=True, items=dict)
    for i, ldesc in enumerate(layers):
        _check_descriptor(ldesc, f"the image manifest: layers[{i}]")
    if len(diff_ids) != len(layers):
        raise LayerlabError(
            f"the manifest lists {len(layers)} layers but the config has "
            f"{len(diff_ids)} diff_ids; the image is corrupt"
        )
    requests = []
    for i, (ldesc, diff_id) in enumerate(zip(layers, diff_ids, strict=True)):
        what = f"layer {i}"
        digest = check_digest(ldesc.get("digest") if isinstance(ldesc, dict) else None, what)
        check_digest(diff_id, f"diff_id {i}")
        requests.append((_opener(store, blob_path(digest, what), what), what, digest, diff_id))
    refs = []
    for (opener, what, digest, _), ldesc, blob in zip(
        requests, layers, open_layers(requests), strict=True
    ):
        if blob.size != ldesc.get("size"):
            raise LayerlabError(
                f"{what} has {blob.size} bytes but the manifest says "
                f"{ldesc.get('size')}; the image is corrupt"
            )
        media = ldesc.get("mediaType", LAYER)
        refs.append(
            LayerRef(
                read_layer(blob.tar, what, refs),
                blob.diff_id,
                digest,
                blob.size,
                media,
                open_blob=opener,
            )
        )
    annotations = desc.get("annotations") or {}
    name = annotations.get(CONTAINERD_NAME) or annotations.get(REF_NAME)
    try:
        return Image(config_bytes, refs, repo_tags=[name] if name else [])
    except ValueError as exc:
        raise LayerlabError(str(exc)) from None


def read_layer(tar: BinaryIO, what: str, read_so_far: Sequence[LayerRef] = ()) -> Layer:
    """`read_changeset`, with the layer named in its errors ("layer 3: tar entry ..."), and
    with what the layers read before it left of the image's `MAX_ENTRIES`."""
    left = MAX_ENTRIES - sum(len(ref.layer) for ref in read_so_far)
    try:
        return read_changeset(tar, max_entries=left)
    except LayerlabError as exc:
        raise LayerlabError(f"{what}: {exc}") from None


def _opener(store: Store, path: str, what: str) -> Callable[[], BinaryIO]:
    return lambda: store.open(path, what)


def load_oci(ref: str | os.PathLike[str], tag: str | None = None) -> Image:
    """Load an image from an OCI layout directory, `DIR` or `DIR:TAG`."""
    path, parsed = split_ref(os.fspath(ref))
    if not path.is_dir():
        raise LayerlabError(f"{path} is not a directory; give an OCI layout directory")
    return load_from_store(DirStore(path), tag or parsed, str(path))


# -- saving ---------------------------------------------------------------------------------


def _write_blob(root: Path, source: BinaryIO) -> tuple[str, int]:
    """Copy a stream into blobs/sha256/, named by its digest."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    tmp = blobs / ".incoming"
    h = hashlib.sha256()
    size = 0
    with open(tmp, "wb") as out:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
            out.write(chunk)
    os.replace(tmp, blobs / h.hexdigest())
    return "sha256:" + h.hexdigest(), size


def _json_blob(root: Path, value: Any) -> tuple[str, int]:
    return _write_blob(root, io.BytesIO(json.dumps(value, separators=(",", ":")).encode()))


def _layer_blob(root: Path, ref: LayerRef, compression: str | None) -> dict[str, Any]:
    """Store one layer, as it was or recompressed, and describe it for the manifest."""
    if ref.open_blob is None:
        raise LayerlabError(f"layer {ref.diff_id[:19]}... has no stored bytes to save")
    with ref.open_blob() as stream:
        stored = sniff(stream.read(4))
    if compression is None or compression == stored:
        with ref.open_blob() as stream:
            digest, size = _write_blob(root, stream)
        kind = stored
    else:
        blob = open_layer(ref.open_blob, what=f"layer {ref.digest[:19]}", diff_id=ref.diff_id)
        staged = root / "blobs" / ".compressing"
        staged.parent.mkdir(parents=True, exist_ok=True)
        with blob.tar, open(staged, "w+b") as out:
            compress(blob.tar, out, compression)
            out.seek(0)
            digest, size = _write_blob(root, out)
        staged.unlink()
        kind = compression
    return {"mediaType": LAYER + (f"+{kind}" if kind else ""), "digest": digest, "size": size}


def save_oci(
    image: Image,
    dest: str | os.PathLike[str],
    *,
    tag: str | None = "latest",
    compression: str | None = None,
) -> str:
    """Write `image` as a new OCI layout at `dest` (absent or empty); returns the manifest digest.

    `compression` None keeps each layer blob as it is stored; "gzip", "zstd" or "" (none)
    recompresses. Either way the DiffIDs, and so the image ID, stay the same.
    """
    with new_directory(dest) as root:
        layers = [_layer_blob(root, ref, compression) for ref in image.layers]
        config_digest, config_size = _write_blob(root, io.BytesIO(image.config_bytes))
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": CONFIG, "digest": config_digest, "size": config_size},
            "layers": layers,
        }
        digest, size = _json_blob(root, manifest)
        entry: dict[str, Any] = {"mediaType": MANIFEST, "digest": digest, "size": size}
        if tag:
            entry["annotations"] = {REF_NAME: tag}
        index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [entry]}
        (root / "index.json").write_text(json.dumps(index, separators=(",", ":")))
        (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return digest
