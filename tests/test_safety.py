"""The bad-input suite: every case of docs/semantics.md "Bad input a safe reader must survive".

Each hostile image goes through `layerlab flatten IMAGE DEST` as a user would run it. After
each one we check what a user cares about: the exit code, a one-line error that says what
is wrong, no DEST (or an untouched one), no staging leftovers, and a sentinel directory
*outside* DEST that the image tried to reach, byte for byte as before.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from layerlab.cli import main
from layerlab.safety import MAX_JSON_BYTES

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def tar(*members: tuple) -> bytes:
    """Raw tar bytes, no checks: (name, type, data-or-target, extra TarInfo fields)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as out:
        for name, kind, data, *extra in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.mode = 0o755
            stream = None
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = data
            elif kind == tarfile.REGTYPE:
                info.size, stream = len(data), io.BytesIO(data)
            for key, value in (extra[0] if extra else {}).items():
                setattr(info, key, value)
            out.addfile(info, stream)
    return buffer.getvalue()


F, D, L, H = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


def blob(root: Path, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (root / "blobs/sha256").mkdir(parents=True, exist_ok=True)
    (root / "blobs/sha256" / digest[7:]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def layout(
    root: Path, *layers: bytes, diff_ids: list[str] | None = None, gzipped: bool = False
) -> Path:
    """An OCI layout written byte by byte, with none of layerlab's own checks."""
    root.mkdir()
    stored = [gzip.compress(data) if gzipped else data for data in layers]
    ids = diff_ids or ["sha256:" + hashlib.sha256(d).hexdigest() for d in layers]
    config = blob(root, json.dumps({"rootfs": {"type": "layers", "diff_ids": ids}}).encode())
    manifest = {
        "schemaVersion": 2,
        "config": dict(config, mediaType="x"),
        "layers": [dict(blob(root, d), mediaType=OCI_LAYER) for d in stored],
    }
    entry = dict(
        blob(root, json.dumps(manifest).encode()),
        mediaType="application/vnd.oci.image.manifest.v1+json",
    )
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return root


def manifest_of(image: Path) -> tuple[dict, Path]:
    index = json.loads((image / "index.json").read_text())
    path = image / "blobs/sha256" / index["manifests"][0]["digest"][7:]
    return json.loads(path.read_bytes()), path


def first_layer(image: Path) -> Path:
    return image / "blobs/sha256" / manifest_of(image)[0]["layers"][0]["digest"][7:]


class World:
    """A temp dir with an image, a DEST to flatten into, and a sentinel the image targets."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.outside = base / "outside"
        self.outside.mkdir()
        self.sentinel = self.outside / "sentinel"
        self.sentinel.write_text("precious")
        self.sentinel.chmod(0o600)
        self.dest = base / "dest"

    def state(self) -> dict:
        return {
            str(p.relative_to(self.base)): (
                p.lstat().st_mode,
                p.read_bytes() if p.is_file() and not p.is_symlink() else None,
            )
            for p in self.outside.rglob("*")
        } | {"top": sorted(os.listdir(self.base))}

    def flatten(self, image: Path, capsys) -> tuple[int, str]:
        before = self.state()
        code = main(["flatten", "--no-progress", str(image), str(self.dest)])
        err = capsys.readouterr().err
        after = self.state()
        assert sorted(before["top"] + (["dest"] if code == 0 else [])) == after.pop("top")
        before.pop("top")
        assert after == before, "the image changed something outside DEST"
        return code, err

    def refused(self, image: Path, capsys, match: str) -> None:
        code, err = self.flatten(image, capsys)
        assert code == 1
        assert err.startswith("layerlab: error: ") and err.count("\n") == 1, err
        assert match in err, err
        assert not self.dest.exists()


@pytest.fixture
def world(tmp_path) -> World:
    return World(tmp_path)


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../escape", "a/../../escape", "./../outside/sentinel"])
def test_dotdot_names_are_refused(world, capsys, name):
    """CVE-2007-4559 (Python tarfile): a member named ../x lands outside the target."""
    world.refused(layout(world.base / "img", tar((name, F, b"owned"))), capsys, "'..'")


def test_absolute_names_are_made_relative_and_stay_inside(world, capsys):
    target = str(world.sentinel)
    code, _ = world.flatten(layout(world.base / "img", tar((target, F, b"owned"))), capsys)
    assert code == 0
    assert (world.dest / target.lstrip("/")).read_bytes() == b"owned"


@pytest.mark.parametrize("target", ["ABS", "../outside", "../../../../../../../../ABS"])
def test_writing_through_a_lower_symlink_stays_inside(world, capsys, target):
    """A layer writes link/sentinel where a lower layer made link -> outside (absolute or
    relative). The union makes `link` a real directory; nothing reaches the host."""
    target = target.replace("ABS", str(world.outside).lstrip("/"))
    if target.startswith(str(world.outside).lstrip("/")):
        target = "/" + target
    image = layout(
        world.base / "img", tar(("link", L, target)), tar(("link/sentinel", F, b"owned"))
    )
    code, _ = world.flatten(image, capsys)
    assert code == 0
    assert (world.dest / "link").is_dir() and not (world.dest / "link").is_symlink()


def test_dir_replaced_by_symlink_to_root_in_the_same_tar_is_refused(world, capsys):
    image = layout(
        world.base / "img",
        tar(("d", D, b""), ("d", L, "/"), ("d" + str(world.sentinel), F, b"owned")),
    )
    world.refused(image, capsys, "which the same layer makes a symlink")


@pytest.mark.parametrize("target", ["../x", "../../outside/sentinel", "ABS"])
def test_hardlinks_to_dotdot_or_host_paths_are_refused(world, capsys, target):
    """Never link a host file: a hardlink names a path inside the image only."""
    target = str(world.sentinel) if target == "ABS" else target
    world.refused(layout(world.base / "img", tar(("h", H, target))), capsys, "hardlink")


def test_hardlink_to_a_symlink_never_changes_what_the_symlink_points_to(world, capsys):
    """CVE-2021-32760: chmod through a hardlinked symlink reached a host file."""
    image = layout(
        world.base / "img",
        tar(("s", L, str(world.sentinel)), ("h", H, "s"), ("f", F, b"x", {"mode": 0o777})),
    )
    code, _ = world.flatten(image, capsys)
    assert code == 0 and os.readlink(world.dest / "h") == str(world.sentinel)


@pytest.mark.parametrize("name", [".wh.", "d/.wh..", "d/.wh..."])
def test_whiteouts_that_name_nothing_are_refused(world, capsys, name):
    world.refused(layout(world.base / "img", tar((name, F, b""))), capsys, "whiteout")


@pytest.mark.parametrize("kind", [F, L, tarfile.FIFOTYPE])
def test_dot_with_a_non_directory_type_is_refused(world, capsys, kind):
    world.refused(
        layout(world.base / "img", tar((".", kind, "/" if kind == L else b""))),
        capsys,
        "not a directory",
    )


@pytest.mark.parametrize("key", ["trusted.overlay.opaque", "user.overlay.whiteout"])
def test_overlay_marker_xattrs_inside_a_tar_are_refused(world, capsys, key):
    pax = {"pax_headers": {f"SCHILY.xattr.{key}": "y"}}
    world.refused(layout(world.base / "img", tar(("d", D, b"", pax))), capsys, "overlayfs xattr")


# -- blobs, manifests, sizes ----------------------------------------------------------------


def test_a_blob_that_does_not_match_its_digest_is_refused(world, capsys):
    image = layout(world.base / "img", tar(("f", F, b"good")))
    first_layer(image).write_bytes(tar(("f", F, b"evil")))
    world.refused(image, capsys, "does not match its digest")


@pytest.mark.parametrize("digest", ["sha256:../../outside/sentinel", "sha256:" + "0" * 63 + "/"])
def test_digests_that_are_paths_are_refused(world, capsys, digest):
    """CVE-2024-3727: a digest like sha256:../../x made containers/image read any file."""
    image = layout(world.base / "img", tar(("f", F, b"x")))
    index = json.loads((image / "index.json").read_text())
    index["manifests"][0]["digest"] = digest
    (image / "index.json").write_text(json.dumps(index))
    world.refused(image, capsys, "invalid digest")


def test_a_symlinked_blob_leading_outside_is_refused(world, capsys):
    image = layout(world.base / "img", tar(("f", F, b"x")))
    index = json.loads((image / "index.json").read_text())
    path = image / "blobs/sha256" / index["manifests"][0]["digest"][7:]
    path.unlink()
    path.symlink_to(world.sentinel)
    world.refused(image, capsys, "outside the image")


def test_layer_count_different_from_diff_ids_is_refused(world, capsys):
    image = layout(world.base / "img", tar(("f", F, b"x")), diff_ids=["sha256:" + "a" * 64] * 2)
    world.refused(image, capsys, "1 layers but the config has 2 diff_ids")


def test_truncated_gzip_gives_a_clear_error(world, capsys):
    image = layout(world.base / "img", tar(("f", F, os.urandom(20000))), gzipped=True)
    layer = first_layer(image)
    layer.write_bytes(layer.read_bytes()[:-3000])
    world.refused(image, capsys, "truncated")


def test_a_decompression_bomb_is_refused(world, capsys):
    zstandard = pytest.importorskip("zstandard", reason="the zstd bomb needs zstandard")
    bomb = zstandard.ZstdCompressor(level=19).compress(tar(("zeros", F, bytes(64 << 20))))
    image = layout(world.base / "img", tar(("f", F, b"x")))
    manifest, _ = manifest_of(image)
    manifest["layers"][0].update(blob(image, bomb))
    index = json.loads((image / "index.json").read_text())
    index["manifests"][0].update(blob(image, json.dumps(manifest).encode()))
    (image / "index.json").write_text(json.dumps(index))
    world.refused(image, capsys, "decompression bomb")


def test_huge_json_is_refused_before_parsing(world, capsys):
    image = layout(world.base / "img", tar(("f", F, b"x")))
    (image / "index.json").write_bytes(b" " * (MAX_JSON_BYTES + 10) + b"{}")
    world.refused(image, capsys, "more than")


def test_a_non_empty_destination_is_never_touched(world, capsys):
    world.dest.mkdir()
    (world.dest / "mine").write_text("user data")
    image = layout(world.base / "img", tar(("mine", F, b"overwritten")))
    code = main(["flatten", str(image), str(world.dest)])
    assert code == 1 and "not empty" in capsys.readouterr().err
    assert (world.dest / "mine").read_text() == "user data"
