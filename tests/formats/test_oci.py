"""OCI image layouts (image-spec image-layout.md): load, save, verify every digest."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from tarbuild import image_of, member, tar_bytes

from layerlab.commit import build_image
from layerlab.entries import Dir, File, Hardlink, OpaqueDir, Whiteout
from layerlab.formats import load_image
from layerlab.formats.oci import load_oci, save_oci, split_ref
from layerlab.layer import Layer
from layerlab.safety import LayerlabError

BASE = Layer(
    {
        "/etc": Dir(),
        "/etc/hosts": File.of("hosts\n"),
        "/lib/a": File.of("a"),
        "/lib/b": File.of("b" * 100_000),
    }
)
TOP = Layer(
    {
        "/lib": OpaqueDir(),
        "/lib/c": File.of("c"),
        "/etc/hosts": Whiteout(),
        "/link": Hardlink(target="/lib/c"),
    }
)


def blobs(layout: Path) -> dict[str, Path]:
    return {"sha256:" + p.name: p for p in (layout / "blobs" / "sha256").iterdir()}


def manifest_of(layout: Path) -> tuple[dict, Path]:
    index = json.loads((layout / "index.json").read_text())
    path = blobs(layout)[index["manifests"][0]["digest"]]
    return json.loads(path.read_text()), path


def put_blob(layout: Path, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest[7:]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def set_manifest(layout: Path, manifest: dict) -> None:
    """Store a changed manifest and point index.json at it, as a forger would."""
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0].update(put_blob(layout, json.dumps(manifest).encode()))
    (layout / "index.json").write_text(json.dumps(index))


def set_layer(layout: Path, number: int, data: bytes) -> None:
    manifest, _ = manifest_of(layout)
    manifest["layers"][number].update(put_blob(layout, data))
    set_manifest(layout, manifest)


@pytest.fixture
def layout(tmp_path) -> Path:
    save_oci(build_image([BASE, TOP]), tmp_path / "oci", tag="v1", compression="gzip")
    return tmp_path / "oci"


@pytest.mark.parametrize("compression", [None, "gzip", "zstd", ""])
def test_save_then_load_keeps_ids_and_the_union(tmp_path, compression):
    if compression == "zstd":
        pytest.importorskip("zstandard", reason="zstd layers need the zstandard package")
    image = build_image([BASE, TOP], tag="t")
    save_oci(image, tmp_path / "oci", tag="t", compression=compression)
    loaded = load_oci(tmp_path / "oci")
    assert loaded.id == image.id and loaded.diff_ids == image.diff_ids
    assert loaded.view().paths() == ["/etc", "/lib", "/lib/c", "/link"]
    assert loaded.view().read("/link") == b"c"


def test_gzip_layers_have_their_own_digest_but_the_same_diff_id(layout):
    manifest, _ = manifest_of(layout)
    image = load_oci(layout)
    assert all(m["mediaType"].endswith("+gzip") for m in manifest["layers"])
    assert [m["digest"] for m in manifest["layers"]] != image.diff_ids
    assert [ref.digest for ref in image.layers] == [m["digest"] for m in manifest["layers"]]


def test_skopeo_reads_what_we_write_and_we_read_what_it_writes(layout, tmp_path, skopeo):
    """Interoperability with containers/image: oci -> docker-archive -> oci round trip."""
    archive = tmp_path / "d.tar"
    subprocess.run(
        [skopeo, "copy", f"oci:{layout}:v1", f"docker-archive:{archive}:x:y"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [skopeo, "copy", f"docker-archive:{archive}", f"oci:{tmp_path / 'back'}:z"],
        check=True,
        capture_output=True,
    )
    for ref in (str(archive), f"{tmp_path / 'back'}:z"):
        assert load_image(ref).diff_ids == load_oci(layout).diff_ids


def test_tags_pick_an_image_and_an_unknown_tag_lists_the_known_ones(layout, tmp_path):
    assert load_image(f"{layout}:v1").repo_tags == ["v1"]
    with pytest.raises(LayerlabError, match=r"no image tagged 'nope' \(tags: v1\)"):
        load_image(f"{layout}:nope")


def test_a_path_with_a_colon_that_exists_is_not_split(tmp_path):
    odd = tmp_path / "a:b"
    odd.mkdir()
    assert split_ref(str(odd)) == (odd, None)
    assert split_ref(f"{odd}:tag") == (odd, "tag")


def test_layout_with_two_untagged_choices_asks_for_a_tag(layout):
    index = json.loads((layout / "index.json").read_text())
    second = dict(index["manifests"][0], annotations={"org.opencontainers.image.ref.name": "v2"})
    index["manifests"].append(second)
    (layout / "index.json").write_text(json.dumps(index))
    with pytest.raises(LayerlabError, match="pick one with DIR:TAG"):
        load_oci(layout)
    assert load_oci(f"{layout}:v2").id == load_oci(f"{layout}:v1").id


def test_save_refuses_a_non_empty_destination_and_leaves_it_alone(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "mine").write_text("keep")
    with pytest.raises(LayerlabError, match="not empty"):
        save_oci(build_image([BASE]), dest)
    assert [p.name for p in dest.iterdir()] == ["mine"]


def test_uncompressed_layer_in_docker_media_type_is_read(tmp_path):
    """Docker's `application/vnd.docker.image.rootfs.diff.tar` layers: magic bytes decide."""
    save_oci(image_of(tar_bytes([member("x", data="1")])), tmp_path / "oci", tag="t")
    manifest, _ = manifest_of(tmp_path / "oci")
    manifest["layers"][0]["mediaType"] = "application/vnd.docker.image.rootfs.diff.tar"
    set_manifest(tmp_path / "oci", manifest)
    assert load_oci(tmp_path / "oci").view().read("/x") == b"1"


def test_a_gzip_layer_whose_diff_id_is_wrong_is_refused(tmp_path):
    save_oci(build_image([BASE]), tmp_path / "oci", tag="t", compression="gzip")
    set_layer(tmp_path / "oci", 0, gzip.compress(tar_bytes([member("evil", data="x")])))
    with pytest.raises(LayerlabError, match="does not match its digest"):
        load_oci(tmp_path / "oci")


def test_loaded_layers_can_be_saved_again_without_the_original(layout, tmp_path):
    image = load_oci(layout)
    save_oci(image, tmp_path / "copy", tag="c", compression="")
    shutil.rmtree(layout)
    assert load_oci(tmp_path / "copy").view().read("/lib/c") == b"c"
