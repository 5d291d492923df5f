"""`docker save` archives, old and new.

Docker 20.10 writes the *legacy* form, one directory per layer:

    manifest.json        [{"Config": "<id>.json", "RepoTags": [...], "Layers": ["<v1>/layer.tar"]}]
    <id>.json            the image config; <id> is the image ID
    <v1>/layer.tar       an uncompressed layer (or a symlink to an identical one)
    <v1>/json, VERSION   v1 leftovers
    repositories         {"name": {"tag": "<v1 of the top layer>"}}

Docker 25+ writes an OCI layout inside the tar and keeps `manifest.json` pointing into
`blobs/sha256/`. Both are read through `manifest.json`; an archive with only an OCI
layout (skopeo's `oci-archive`) is read as one. Members are read in place from the tar,
never extracted.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import tarfile
from pathlib import Path
from typing import Any, BinaryIO

from ..image import Image, LayerRef, chain_ids, sha256_digest
from ..output import new_file
from ..safety import (
    MAX_JSON_BYTES,
    LayerlabError,
    check_field,
    check_image_config,
    clean_member_name,
    parse_json,
)
from ..tar.blobs import check_digest, file_opener, open_layer, open_layers, open_regular, sniff
from ..tar.blobslice import BlobSlice
from .oci import LAYER, load_from_store, read_layer, split_ref

__all__ = ["TarStore", "is_docker_archive", "load_docker_archive", "save_docker_archive"]


#: Members of a `docker save` archive we index: a real one has four or five per layer.
MAX_MEMBERS = 100_000


class TarStore:
    """The regular files of an uncompressed tar, read in place by offset.

    Symlinks and hardlinks between members (docker save links identical layers) are
    followed inside the archive only. More than `MAX_MEMBERS` members are refused: tarfile
    keeps every header in memory.
    """

    def __init__(self, whole: BlobSlice, where: str) -> None:
        self.where = where
        self._whole = whole
        self._files: dict[str, tuple[int, int]] = {}
        self._links: dict[str, str] = {}
        try:
            with tarfile.open(fileobj=whole, mode="r:") as tar:
                for count, member in enumerate(tar, 1):
                    if count > MAX_MEMBERS:
                        raise LayerlabError(
                            f"{where} has more than {MAX_MEMBERS} members, far more than a "
                            "docker save archive; refusing it"
                        )
                    name = clean_member_name(member.name)[1:]
                    if member.isreg():
                        self._files[name] = (member.offset_data, member.size)
                    elif member.issym():
                        self._links[name] = posixpath.join(posixpath.dirname(name), member.linkname)
                    elif member.islnk():
                        self._links[name] = member.linkname
        except tarfile.TarError as exc:
            raise LayerlabError(f"{where} is not a readable tar archive ({exc})") from None

    def _resolve(self, relpath: str, what: str) -> tuple[int, int]:
        name = relpath
        for _ in range(16):
            parts = posixpath.normpath(name).split("/")
            if name.startswith("/") or ".." in parts:
                raise LayerlabError(f"{what} names {relpath!r}, outside the archive; refusing it")
            name = "/".join(parts)
            if name in self._files:
                return self._files[name]
            if name not in self._links:
                raise LayerlabError(f"{what} ({relpath}) is missing from {self.where}")
            name = self._links[name]
        raise LayerlabError(f"{what} ({relpath}) is a symlink loop in {self.where}")

    def open(self, relpath: str, what: str) -> BinaryIO:
        offset, size = self._resolve(relpath, what)
        return self._whole.window(offset, size)  # type: ignore[return-value]

    def exists(self, relpath: str) -> bool:
        try:
            self._resolve(relpath, relpath)
        except LayerlabError:
            return False
        return True


def is_docker_archive(path: Path) -> bool:
    """A regular file that is a tar (possibly compressed) is taken for a docker save archive."""
    if not path.is_file():
        return False
    with open_regular(path, "the archive") as f:
        head = f.read(512)
    return bool(sniff(head)) or head[257:262] == b"ustar"


def _open_whole(path: Path) -> BlobSlice:
    """The archive as a seekable window; a gzip/zstd `docker save | gzip` is unpacked first."""
    with open_regular(path, "the archive") as f:
        compressed = sniff(f.read(4))
    if compressed:
        blob = open_layer(file_opener(path), what=f"{path.name} (compressed archive)")
        return BlobSlice.over(blob.tar)
    with open_regular(path, "the archive") as f:
        return BlobSlice.over(f)


def _pick(manifest: Any, tag: str | None, where: str) -> dict[str, Any]:
    if not isinstance(manifest, list) or not all(isinstance(m, dict) for m in manifest):
        raise LayerlabError(
            f"{where}: manifest.json is not a list of images; the archive is corrupt"
        )
    for i, entry in enumerate(manifest):
        check_field(entry, "RepoTags", list, f"{where}: manifest.json[{i}]", items=str)
    if tag is None:
        if len(manifest) != 1:
            tags = sorted(t for m in manifest for t in m.get("RepoTags") or [])
            raise LayerlabError(
                f"{where} holds {len(manifest)} images (tags: {', '.join(tags)}); "
                "pick one with FILE:NAME:TAG"
            )
        return manifest[0]
    for entry in manifest:
        for repo_tag in entry.get("RepoTags") or []:
            if tag in (repo_tag, repo_tag.rsplit(":", 1)[-1]):
                return entry
    raise LayerlabError(f"{where} has no image tagged {tag!r}")


def _digest_from_path(relpath: str) -> str | None:
    """`blobs/sha256/<hex>` and `<hex>.json` name their own digest; so we can check it."""
    parts = relpath.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        return check_digest(f"{parts[1]}:{parts[2]}", relpath)
    stem = relpath[: -len(".json")] if relpath.endswith(".json") else ""
    if len(stem) == 64 and "/" not in stem:
        return check_digest(f"sha256:{stem}", relpath)
    return None


def load_docker_archive(ref: str | os.PathLike[str], tag: str | None = None) -> Image:
    """Load an image from a `docker save` tar (legacy or OCI form), `FILE` or `FILE:TAG`."""
    path, parsed = split_ref(os.fspath(ref))
    tag = tag or parsed
    where = path.name
    store = TarStore(_open_whole(path), where)
    if not store.exists("manifest.json"):
        if store.exists("oci-layout"):
            return load_from_store(store, tag, where)
        raise LayerlabError(f"{where} has no manifest.json; is it a `docker save` archive?")
    with store.open("manifest.json", "manifest.json") as f:
        entry = _pick(parse_json(f.read(MAX_JSON_BYTES + 1), "manifest.json"), tag, where)
    config_path, layer_paths = entry.get("Config"), entry.get("Layers")
    if not isinstance(config_path, str) or not isinstance(layer_paths, list):
        raise LayerlabError(
            f"{where}: manifest.json has no Config or Layers; the archive is corrupt"
        )
    with store.open(config_path, "the image config") as f:
        config_bytes = f.read(MAX_JSON_BYTES + 1)
    config = parse_json(config_bytes, "the image config")
    diff_ids = check_image_config(config, f"the image config {config_path}")
    expected = _digest_from_path(config_path)
    if expected is not None and sha256_digest(config_bytes) != expected:
        raise LayerlabError(
            f"the image config {config_path} does not match its digest; "
            "the archive is corrupt or was tampered with"
        )
    if len(diff_ids) != len(layer_paths):
        raise LayerlabError(
            f"manifest.json lists {len(layer_paths)} layers but the config has "
            f"{len(diff_ids)} diff_ids; the archive is corrupt"
        )
    requests = []
    for i, (relpath, diff_id) in enumerate(zip(layer_paths, diff_ids, strict=True)):
        what = f"layer {i} ({relpath})"
        if not isinstance(relpath, str):
            raise LayerlabError(f"manifest.json layer {i} is not a path; the archive is corrupt")
        check_digest(diff_id, f"diff_id {i}")

        def opener(relpath: str = relpath, what: str = what) -> BinaryIO:
            return store.open(relpath, what)

        requests.append((opener, what, _digest_from_path(relpath), diff_id))
    refs = []
    for (opener, what, *_), blob in zip(requests, open_layers(requests), strict=True):
        media = LAYER + (f"+{blob.compression}" if blob.compression else "")
        refs.append(
            LayerRef(
                read_layer(blob.tar, what, refs),
                blob.diff_id,
                blob.digest,
                blob.size,
                media,
                open_blob=opener,
            )
        )
    try:
        return Image(config_bytes, refs, repo_tags=list(entry.get("RepoTags") or []))
    except ValueError as exc:
        raise LayerlabError(str(exc)) from None


def _add(
    tar: tarfile.TarFile,
    name: str,
    data: bytes | None = None,
    *,
    stream: BinaryIO | None = None,
    size: int = 0,
    directory: bool = False,
) -> None:
    info = tarfile.TarInfo(name)
    info.mode = 0o755 if directory else 0o644
    if directory:
        info.type = tarfile.DIRTYPE
    elif data is not None:
        info.size, stream = len(data), io.BytesIO(data)
    else:
        info.size = size
    tar.addfile(info, stream)


def save_docker_archive(
    image: Image, dest: str | os.PathLike[str], *, tag: str | None = None
) -> None:
    """Write `image` as a legacy `docker save` tar that `docker load` accepts.

    Layer directories are named by ChainID (any unique hex is valid to `docker load`);
    layers are stored uncompressed, as Docker does.
    """
    tags = [tag] if tag else list(image.repo_tags)
    ids = [c.split(":")[1] for c in chain_ids(image.diff_ids)]
    config_name = image.id.split(":")[1] + ".json"
    with new_file(dest) as staging, tarfile.open(staging, "w", format=tarfile.PAX_FORMAT) as tar:
        parent = ""
        for layer_id, ref in zip(ids, image.layers, strict=True):
            if ref.open_blob is None:
                raise LayerlabError(f"layer {ref.diff_id[:19]}... has no stored bytes to save")
            blob = open_layer(ref.open_blob, what=f"layer {ref.diff_id[:19]}", diff_id=ref.diff_id)
            size = blob.tar.seek(0, io.SEEK_END)
            blob.tar.seek(0)
            _add(tar, layer_id, directory=True)
            _add(tar, f"{layer_id}/VERSION", b"1.0")
            v1 = {"id": layer_id, **({"parent": parent} if parent else {})}
            _add(tar, f"{layer_id}/json", json.dumps(v1).encode())
            with blob.tar:
                _add(tar, f"{layer_id}/layer.tar", stream=blob.tar, size=size)
            parent = layer_id
        _add(tar, config_name, image.config_bytes)
        manifest = [
            {"Config": config_name, "RepoTags": tags, "Layers": [f"{i}/layer.tar" for i in ids]}
        ]
        _add(tar, "manifest.json", json.dumps(manifest).encode())
        repositories: dict[str, dict[str, str]] = {}
        for repo_tag in tags:
            name, _, version = repo_tag.rpartition(":")
            if name and ids:
                repositories.setdefault(name, {})[version] = ids[-1]
        _add(tar, "repositories", json.dumps(repositories).encode())
