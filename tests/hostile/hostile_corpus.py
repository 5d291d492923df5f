"""The hostile corpus: every class of bad input layerlab must survive, made by code.

Each `Case` writes its input below a base directory (an OCI layout, a docker save tar, two
trees for `diff`, a picture to overwrite) and returns the `layerlab` arguments that feed
it, with the words the one-line error must contain ("" when the command must succeed).
Nothing here is a binary blob: bombs are built from repeated gzip members, so a 2 GiB
layer costs 2 MB and a few milliseconds to make.

`tests/hostile/test_hostile.py` runs every case; `bench/hostile.py` measures the bombs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tarbuild import tar_bytes

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MiB = 1 << 20


# -- building blocks ---------------------------------------------------------------------


def tar(*members: tuple[str, str, bytes | str, dict[str, Any]] | tuple[str, str]) -> bytes:
    """Tar bytes, no checks: (name, kind, data or link target, TarInfo fields)."""
    return tar_bytes(members)


def raw_pax(name: str, records: dict[str, str], data: bytes = b"x") -> bytes:
    """A tar of one file whose PAX records are written verbatim: values tarfile refuses
    to write (`mtime=nan`) are exactly what a hostile producer sends."""
    payload = b""
    for key, value in records.items():
        body = f" {key}={value}\n".encode()
        length = len(body) + len(str(len(body)))
        length = len(body) + len(str(length))
        payload += str(length).encode() + body
    pax = tarfile.TarInfo("././@PaxHeader")
    pax.type, pax.size = tarfile.XHDTYPE, len(payload)
    member = tarfile.TarInfo(name)
    member.size, member.mode = len(data), 0o644
    return (
        pax.tobuf(tarfile.USTAR_FORMAT)
        + payload
        + bytes(-len(payload) % 512)
        + member.tobuf(tarfile.USTAR_FORMAT)
        + data
        + bytes(-len(data) % 512)
        + bytes(1024)
    )


def zeros_gzip(size: int) -> bytes:
    """gzip of `size` zero bytes in a few KB, as repeated members of 16 MiB each."""
    chunk = gzip.compress(bytes(16 * MiB), 9)
    whole, rest = divmod(size, 16 * MiB)
    return chunk * whole + (gzip.compress(bytes(rest), 9) if rest else b"")


def bomb_layer(size: int) -> bytes:
    """A gzip layer of one file of `size` zero bytes. Its DiffID is never computed (that
    would hash gigabytes); a bomb must be stopped long before the DiffID is checked."""
    header = tarfile.TarInfo("zeros")
    header.size = size
    tail = bytes(-size % 512 + 1024)
    return gzip.compress(header.tobuf(tarfile.PAX_FORMAT)) + zeros_gzip(size) + gzip.compress(tail)


#: The DiffID a bomb's config claims: any valid one (see `bomb_layer`).
BOMB_DIFF_ID = "sha256:" + "0" * 64


def _ustar(name: str, kind: bytes) -> bytes:
    """One ustar header, built directly (tarfile takes 20 us per member; this, 3)."""
    block = bytearray(512)
    block[: len(name)] = name.encode()
    block[100:108] = b"0000755\0" if kind == b"5" else b"0000644\0"
    block[108:124] = b"0000000\0" * 2
    block[124:148] = b"00000000000\0" * 2
    block[148:156] = b" " * 8
    block[156:157] = kind
    block[257:265] = b"ustar\x0000"
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def many_entries(count: int) -> tuple[bytes, str]:
    """A gzip layer of `count` empty files in dirs of 1,000: (blob, DiffID). 1.2 million
    entries are a 600 MB tar and a 10 MB blob, as in the issue."""
    sha, out = hashlib.sha256(), io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0) as z:
        for start in range(0, count, 1000):
            part = [_ustar(f"d{start // 1000}", b"5")]
            part += [
                _ustar(f"d{start // 1000}/f{i}", b"0")
                for i in range(start, min(start + 1000, count))
            ]
            chunk = b"".join(part)
            sha.update(chunk)
            z.write(chunk)
        sha.update(bytes(1024))
        z.write(bytes(1024))
    return out.getvalue(), "sha256:" + sha.hexdigest()


def blob(root: Path, data: bytes) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (root / "blobs/sha256").mkdir(parents=True, exist_ok=True)
    (root / "blobs/sha256" / digest[7:]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def layout(
    root: Path,
    *layers: bytes,
    diff_ids: list[str] | None = None,
    config: dict[str, Any] | None = None,
    stored: list[bytes] | None = None,
) -> Path:
    """An OCI layout written byte by byte. `layers` are the uncompressed tars; `stored`
    (if given) the blobs as stored, e.g. compressed ones."""
    root.mkdir(parents=True)
    ids = diff_ids or ["sha256:" + hashlib.sha256(d).hexdigest() for d in layers]
    cfg = config if config is not None else {"rootfs": {"type": "layers", "diff_ids": ids}}
    config_desc = blob(root, json.dumps(cfg).encode())
    manifest = {
        "schemaVersion": 2,
        "config": dict(config_desc, mediaType="application/vnd.oci.image.config.v1+json"),
        "layers": [dict(blob(root, d), mediaType=OCI_LAYER) for d in (stored or layers)],
    }
    entry = dict(blob(root, json.dumps(manifest).encode()), mediaType=MANIFEST)
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return root


def manifest_path(image: Path) -> Path:
    index = json.loads((image / "index.json").read_text())
    return image / "blobs/sha256" / index["manifests"][0]["digest"][7:]


def rewrite_manifest(image: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit the manifest and re-address it, so only the edit is wrong."""
    manifest = json.loads(manifest_path(image).read_text())
    change(manifest)
    index = json.loads((image / "index.json").read_text())
    index["manifests"][0].update(blob(image, json.dumps(manifest).encode()))
    (image / "index.json").write_text(json.dumps(index))


def with_config(image_dir: Path, config: Any) -> Path:
    """A one-layer image whose config is exactly `config` (any JSON value)."""
    image = layout(image_dir, tar(("f", "f", "x")))
    raw = config if isinstance(config, bytes) else json.dumps(config).encode()

    def swap(manifest: dict[str, Any]) -> None:
        manifest["config"].update(blob(image, raw))

    rewrite_manifest(image, swap)
    return image


def first_layer_blob(image: Path) -> Path:
    manifest = json.loads(manifest_path(image).read_text())
    return image / "blobs/sha256" / manifest["layers"][0]["digest"][7:]


def good_config(layer: bytes, **fields: Any) -> dict[str, Any]:
    ids = ["sha256:" + hashlib.sha256(layer).hexdigest()]
    return {"rootfs": {"type": "layers", "diff_ids": ids}, **fields}


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def docker_archive(path: Path, manifest: Any, layer: bytes | None = None) -> Path:
    """A `docker save` tar with this manifest.json (any JSON), one config and one layer."""
    layer = layer if layer is not None else tar(("f", "f", "x"))
    config = json.dumps(good_config(layer)).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    files = {config_name: config, "l1/layer.tar": layer}
    if manifest == "default":
        manifest = [{"Config": config_name, "RepoTags": ["x:1"], "Layers": ["l1/layer.tar"]}]
    files["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(path, "w") as out:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return path


# -- the cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile input: its class (as issue tracker and docs name it), how to build it,
    and what a user must see."""

    name: str
    klass: str
    build: Callable[[Path], list[str]]
    expect: str = ""
    root_only: bool = False

    def __str__(self) -> str:
        return self.name


def _flatten(image: Path, base: Path) -> list[str]:
    return ["flatten", "--no-progress", str(image), str(base / "dest")]


def _inspect(image: Path) -> list[str]:
    return ["inspect", str(image)]


CASES: list[Case] = []


def case(klass: str, expect: str = "", *, root_only: bool = False):  # noqa: ANN201
    def register(build: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
        name = build.__name__.replace("_", "-")
        CASES.append(Case(name, klass, build, expect, root_only))
        return build

    return register


# nested compression: decompress once, as stored; what comes out must be a tar


@case("nested-compression", "compressed again")
def gzip_in_gzip(base: Path) -> list[str]:
    inner = gzip.compress(tar(("zeros", "f", bytes(64 * MiB))))
    image = layout(base / "img", tar(("f", "f", "x")), stored=[gzip.compress(inner)])
    return _flatten(image, base)


@case("nested-compression", "compressed again")
def zstd_in_gzip(base: Path) -> list[str]:
    import zstandard

    inner = zstandard.ZstdCompressor().compress(tar(("zeros", "f", bytes(8 * MiB))))
    image = layout(base / "img", tar(("f", "f", "x")), stored=[gzip.compress(inner)])
    return _inspect(image)


@case("nested-compression", "not a readable tar")
def gzip_of_random_bytes(base: Path) -> list[str]:
    junk = hashlib.sha256(b"seed").digest() * 4096
    image = layout(base / "img", junk, stored=[gzip.compress(junk)])
    return _inspect(image)


@case("nested-compression", "not a readable tar")
def plain_random_bytes(base: Path) -> list[str]:
    return _inspect(layout(base / "img", hashlib.sha256(b"x").digest() * 100))


# decompression bombs: the test lowers the space budget, so they stop after 256 MiB


@case("bomb", "(TMPDIR)")
def gzip_bomb_2gib(base: Path) -> list[str]:
    image = layout(base / "img", b"", diff_ids=[BOMB_DIFF_ID], stored=[bomb_layer(2 << 30)])
    return _flatten(image, base)


@case("bomb", "(TMPDIR)")
def two_parallel_bombs(base: Path) -> list[str]:
    data = bomb_layer(1 << 30)
    other = data + gzip.compress(bytes(1024))  # a second blob, same bytes out
    ids = [BOMB_DIFF_ID] * 2
    image = layout(base / "img", b"", b"", diff_ids=ids, stored=[data, other])
    return _flatten(image, base)


@case("bomb", "decompression bomb")
def zstd_bomb(base: Path) -> list[str]:
    import zstandard

    bomb = zstandard.ZstdCompressor(level=19).compress(tar(("zeros", "f", bytes(64 * MiB))))
    image = layout(base / "img", tar(("f", "f", "x")), stored=[bomb])
    return _flatten(image, base)


@case("bomb", "truncated")
def truncated_zstd(base: Path) -> list[str]:
    import zstandard

    layer = tar(("f", "f", os.urandom(200_000)))
    stored = zstandard.ZstdCompressor().compress(layer)[:-5000]
    return _flatten(layout(base / "img", layer, stored=[stored]), base)


@case("bomb", "truncated")
def truncated_gzip(base: Path) -> list[str]:
    layer = tar(("f", "f", os.urandom(200_000)))
    return _flatten(layout(base / "img", layer, stored=[gzip.compress(layer)[:-5000]]), base)


# a deep tree followed by an entry that fails: cleanup must still work


def _deep(depth: int) -> list[tuple]:
    path, members = "", []
    for _ in range(depth):
        path = f"{path}d/"
        members.append((path.rstrip("/"), "d"))
    return members


@case("deep-tree", "File name too long")
def deep_tree_then_a_failing_entry(base: Path) -> list[str]:
    members = [*_deep(1000), ("d/" + "n" * 300, "f", "x")]
    return _flatten(layout(base / "img", tar(*members)), base)


@case("deep-tree")
def deep_tree_flattens(base: Path) -> list[str]:
    return _flatten(layout(base / "img", tar(*_deep(600), ("d/f", "f", "x"))), base)


@case("deep-tree")
def deep_trees_diff(base: Path) -> list[str]:
    old, new = base / "old", base / "new"
    old.mkdir()
    deep = new / "/".join(["d"] * 600)
    # os.makedirs would pass PATH_MAX; go down step by step
    fd = os.open(new.parent, os.O_RDONLY)
    for name in ["new", *["d"] * 600]:
        os.mkdir(name, dir_fd=fd)
        child = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(os.open("f", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    os.close(fd)
    assert deep.name == "d"
    return ["diff", str(old), str(new), "-o", str(base / "layer.tar")]


# blobs that are FIFOs or devices: refused at once, never opened for reading


@case("fifo-blob", "FIFO")
def layer_blob_is_a_fifo(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    layer = first_layer_blob(image)
    layer.unlink()
    os.mkfifo(layer)
    return _inspect(image)


@case("fifo-blob", "FIFO")
def index_is_a_fifo(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    (image / "index.json").unlink()
    os.mkfifo(image / "index.json")
    return _inspect(image)


@case("fifo-blob", "device", root_only=True)
def layer_blob_is_a_device(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    layer = first_layer_blob(image)
    layer.unlink()
    os.mknod(layer, 0o600 | 0o020000, os.makedev(1, 5))  # like /dev/zero: endless bytes
    return _inspect(image)


# odd values: each is a one-line error naming the field and the file


def _odd_tar(base: Path, data: bytes) -> list[str]:
    return _flatten(layout(base / "img", data), base)


@case("odd-values", "owner")
def uid_beyond_32_bits(base: Path) -> list[str]:
    return _odd_tar(base, raw_pax("f", {"uid": str(1 << 40)}))


@case("odd-values", "owner")
def negative_gid(base: Path) -> list[str]:
    return _odd_tar(base, raw_pax("f", {"gid": "-1"}))


@case("odd-values", "owner")
def uid_that_means_unchanged(base: Path) -> list[str]:
    return _odd_tar(base, raw_pax("f", {"uid": str((1 << 32) - 1)}))


@case("odd-values", "mtime")
def mtime_nan(base: Path) -> list[str]:
    return _odd_tar(base, raw_pax("f", {"mtime": "nan"}))


@case("odd-values", "mtime")
def mtime_1e400(base: Path) -> list[str]:
    return _odd_tar(base, raw_pax("f", {"mtime": "1e400"}))


@case("odd-values", "mtime")
def mtime_minus_1e400(base: Path) -> list[str]:
    return _odd_tar(base, raw_pax("f", {"mtime": "-1e400"}))


@case("odd-values", "device number")
def device_major_that_wraps_to_mem(base: Path) -> list[str]:
    return _odd_tar(base, tar(("mem", "c", b"", {"devmajor": 4097, "devminor": 1})))


@case("odd-values", "device number")
def device_minor_beyond_20_bits(base: Path) -> list[str]:
    return _odd_tar(base, tar(("dev", "c", b"", {"devmajor": 1, "devminor": 1 << 20})))


@case("odd-values", "nested more than")
def index_nested_10000_deep(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    (image / "index.json").write_bytes(nested(10_000))
    return _inspect(image)


@case("odd-values", "nested more than")
def config_nested_100_deep(base: Path) -> list[str]:
    return _inspect(with_config(base / "img", nested(100)))


@case("odd-values", "nested more than")
def manifest_nested_5000_deep(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    raw = b'{"layers":' + nested(5000) + b"}"
    index = json.loads((image / "index.json").read_text())
    index["manifests"][0].update(blob(image, raw))
    (image / "index.json").write_text(json.dumps(index))
    return _inspect(image)


@case("odd-values", "'annotations'")
def annotations_a_string(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    index = json.loads((image / "index.json").read_text())
    index["manifests"][0]["annotations"] = "latest"
    (image / "index.json").write_text(json.dumps(index))
    return _inspect(image)


@case("odd-values", "'rootfs'")
def rootfs_a_list(base: Path) -> list[str]:
    return _inspect(with_config(base / "img", {"rootfs": ["layers"]}))


@case("odd-values", "'history'")
def history_of_ints(base: Path) -> list[str]:
    layer = tar(("f", "f", "x"))
    return _inspect(with_config(base / "img", good_config(layer, history=[1, 2])))


@case("odd-values", "'created_by'")
def created_by_a_number(base: Path) -> list[str]:
    layer = tar(("f", "f", "x"))
    return _inspect(with_config(base / "img", good_config(layer, history=[{"created_by": 7}])))


@case("odd-values", "'config'")
def config_field_a_string(base: Path) -> list[str]:
    layer = tar(("f", "f", "x"))
    return _inspect(with_config(base / "img", good_config(layer, config="sh")))


@case("odd-values", "'diff_ids'")
def diff_ids_of_objects(base: Path) -> list[str]:
    return _inspect(with_config(base / "img", {"rootfs": {"diff_ids": [{}]}}))


@case("odd-values", "is not a JSON object")
def config_a_list(base: Path) -> list[str]:
    return _inspect(with_config(base / "img", [1, 2, 3]))


@case("odd-values", "'layers'")
def manifest_layers_an_object(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    rewrite_manifest(image, lambda m: m.update(layers={"digest": "x"}))
    return _inspect(image)


@case("odd-values", "'size'")
def layer_size_a_string(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    rewrite_manifest(image, lambda m: m["layers"][0].update(size="12"))
    return _inspect(image)


@case("odd-values", "'platform'")
def platform_a_string(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    index = json.loads((image / "index.json").read_text())
    index["manifests"].append(dict(index["manifests"][0], platform="linux/amd64"))
    (image / "index.json").write_text(json.dumps(index))
    return _inspect(image)


@case("odd-values", "'RepoTags'")
def repo_tags_an_int(base: Path) -> list[str]:
    manifest = [{"Config": "c.json", "RepoTags": 5, "Layers": []}]
    return _inspect(docker_archive(base / "img.tar", manifest))


@case("odd-values", "nested more than")
def docker_manifest_nested(base: Path) -> list[str]:
    path = docker_archive(base / "img.tar", "default")
    raw = path.read_bytes()
    path.unlink()
    with tarfile.open(path, "w") as out, tarfile.open(fileobj=io.BytesIO(raw)) as src:
        for member in src:
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                data = nested(3000)
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    return _inspect(path)


@case("odd-values", "nests image indexes")
def index_chain_too_deep(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    index = json.loads((image / "index.json").read_text())
    desc = index["manifests"][0]
    for _ in range(20):
        inner = {"schemaVersion": 2, "manifests": [desc]}
        desc = dict(
            blob(image, json.dumps(inner).encode()),
            mediaType="application/vnd.oci.image.index.v1+json",
        )
    (image / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [desc]}))
    return _inspect(image)


# render -o and diff -o never replace a file


@case("render-overwrite", "already exists")
def render_over_an_existing_file(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    (base / "mine.dot").write_text("precious")
    return ["render", str(image), "-o", str(base / "mine.dot")]


@case("render-overwrite", "already exists")
def render_over_a_symlink(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    (base / "target.dot").write_text("precious")
    (base / "link.dot").symlink_to(base / "target.dot")
    return ["render", str(image), "-o", str(base / "link.dot")]


# messages that used to mislead


@case("messages")
def flatten_into_a_long_legal_name(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    return ["flatten", "--no-progress", str(image), str(base / ("n" * 250))]


@case("messages", "at most 255")
def flatten_into_a_name_too_long(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    return ["flatten", "--no-progress", str(image), str(base / ("n" * 300))]


@case("messages")
def diff_to_a_long_legal_name(base: Path) -> list[str]:
    (base / "old").mkdir()
    (base / "new").mkdir()
    (base / "new/f").write_text("x")
    return ["diff", str(base / "old"), str(base / "new"), "-o", str(base / ("n" * 250))]


@case("messages", "at most 255")
def diff_to_a_name_too_long(base: Path) -> list[str]:
    (base / "old").mkdir()
    (base / "new").mkdir()
    return ["diff", str(base / "old"), str(base / "new"), "-o", str(base / ("n" * 300))]


@case("messages", "at most 255")
def render_to_a_name_too_long(base: Path) -> list[str]:
    image = layout(base / "img", tar(("f", "f", "x")))
    return ["render", str(image), "-o", str(base / ("n" * 300 + ".dot"))]


# an untrusted image flattened as root: DEST stays the user's


@case("root-flatten")
def setuid_devices_and_a_hostile_root_entry(base: Path) -> list[str]:
    layer = tar(
        (".", "d", b"", {"mode": 0o7777, "uid": 1234, "gid": 1234}),
        ("suid", "f", "#!/bin/sh\n", {"mode": 0o4777}),
        ("mem", "c", b"", {"mode": 0o666, "devmajor": 1, "devminor": 1}),
    )
    return _flatten(layout(base / "img", layer), base)


# entry count: the test lowers the limit so that the case stays small


@case("entry-count", "entries")
def more_entries_than_allowed(base: Path) -> list[str]:
    members = [(f"e{i}", "f") for i in range(1200)]
    return _inspect(layout(base / "img", tar(*members)))


@case("entry-count", "members")
def docker_archive_with_too_many_members(base: Path) -> list[str]:
    path = base / "img.tar"
    with open(path, "wb") as out:
        out.write(b"".join(_ustar(f"m{i}", b"0") for i in range(1200)) + bytes(1024))
    return _inspect(path)


# classic escapes, kept here so the sweep covers them too


@case("escapes", "contains '..'")
def dotdot_name(base: Path) -> list[str]:
    return _odd_tar(base, tar(("../escape", "f", "x")))


@case("escapes", "refusing this layer")
def write_through_a_symlink_in_the_same_layer(base: Path) -> list[str]:
    return _odd_tar(base, tar(("d", "l", "/"), ("d/x", "f", "x")))


@case("escapes", "outside the image")
def hardlink_to_a_host_path(base: Path) -> list[str]:
    return _odd_tar(base, tar(("h", "h", "../../etc/passwd")))


CASES_BY_NAME = {c.name: c for c in CASES}


def run_and_report_peak() -> None:
    """`layerlab ARGS...`, then "peak-rss-kb N" on stderr: this process's own peak (VmHWM),
    which, unlike a child's rusage, does not count the parent it was forked from."""
    import sys

    from layerlab.cli import main

    try:
        code = main(sys.argv[1:])
    finally:
        with open("/proc/self/status") as status:
            peak = next(line.split()[1] for line in status if line.startswith("VmHWM"))
        print(f"peak-rss-kb {peak}", file=sys.stderr)
    sys.exit(code)
