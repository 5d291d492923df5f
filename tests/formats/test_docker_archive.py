"""`docker save` archives: the legacy form (Docker 20.10) and the OCI form (Docker 25+)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
from tarbuild import image_of, member, tar_bytes

from layerlab.commit import build_image
from layerlab.entries import File, Whiteout
from layerlab.formats import load_image
from layerlab.formats.docker_archive import load_docker_archive, save_docker_archive
from layerlab.formats.oci import save_oci
from layerlab.layer import Layer
from layerlab.safety import LayerlabError

IMAGE = build_image(
    [
        Layer({"/a": File.of("a"), "/b": File.of("b")}),
        Layer({"/b": Whiteout(), "/c": File.of("c")}),
    ],
    tag="demo:1",
)


def archive(path: Path, files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isreg()}


def test_legacy_archive_round_trip_keeps_id_tags_and_union(tmp_path):
    save_docker_archive(IMAGE, tmp_path / "d.tar")
    files = members(tmp_path / "d.tar")
    assert {"manifest.json", "repositories", IMAGE.id[7:] + ".json"} <= set(files)
    loaded = load_docker_archive(tmp_path / "d.tar")
    assert (loaded.id, loaded.repo_tags) == (IMAGE.id, ["demo:1"])
    assert loaded.view().paths() == ["/a", "/c"]


def test_oci_form_with_manifest_json_is_read(tmp_path):
    """Docker 25+: an OCI layout in the tar, and manifest.json pointing into blobs/."""
    save_oci(IMAGE, tmp_path / "oci", tag="demo:1")
    files = {
        str(p.relative_to(tmp_path / "oci")): p.read_bytes()
        for p in (tmp_path / "oci").rglob("*")
        if p.is_file()
    }
    manifest = json.loads(
        files[f"blobs/sha256/{json.loads(files['index.json'])['manifests'][0]['digest'][7:]}"]
    )
    files["manifest.json"] = json.dumps(
        [
            {
                "Config": "blobs/sha256/" + manifest["config"]["digest"][7:],
                "RepoTags": ["demo:1"],
                "Layers": ["blobs/sha256/" + m["digest"][7:] for m in manifest["layers"]],
            }
        ]
    ).encode()
    loaded = load_image(archive(tmp_path / "new.tar", files))
    assert loaded.id == IMAGE.id and loaded.view().read("/c") == b"c"


def test_oci_archive_without_manifest_json_is_read_as_a_layout(tmp_path):
    save_oci(IMAGE, tmp_path / "oci", tag="demo:1")
    files = {
        str(p.relative_to(tmp_path / "oci")): p.read_bytes()
        for p in (tmp_path / "oci").rglob("*")
        if p.is_file()
    }
    assert load_image(archive(tmp_path / "o.tar", files)).id == IMAGE.id


def test_gzipped_archive_is_read(tmp_path):
    save_docker_archive(IMAGE, tmp_path / "d.tar")
    (tmp_path / "d.tar.gz").write_bytes(gzip.compress((tmp_path / "d.tar").read_bytes()))
    assert load_image(tmp_path / "d.tar.gz").id == IMAGE.id


def test_identical_layers_linked_by_symlink_are_followed_inside_the_archive(tmp_path):
    """docker save stores a repeated layer once and symlinks the second layer.tar to it."""
    layer = tar_bytes([member("x", data="same")])
    image = image_of(layer, layer)
    files = {
        "l1/layer.tar": layer,
        image.id[7:] + ".json": image.config_bytes,
        "manifest.json": json.dumps(
            [
                {
                    "Config": image.id[7:] + ".json",
                    "RepoTags": None,
                    "Layers": ["l1/layer.tar", "l2/layer.tar"],
                }
            ]
        ).encode(),
    }
    path = archive(tmp_path / "d.tar", files, {"l2/layer.tar": "../l1/layer.tar"})
    assert load_image(path).diff_ids == image.diff_ids


def test_a_tampered_config_is_refused(tmp_path):
    save_docker_archive(IMAGE, tmp_path / "d.tar")
    files = members(tmp_path / "d.tar")
    name = IMAGE.id[7:] + ".json"
    files[name] = files[name].replace(b'"os":"linux"', b'"os":"evil"')
    with pytest.raises(LayerlabError, match="does not match its digest"):
        load_image(archive(tmp_path / "t.tar", files))


def test_manifest_paths_that_leave_the_archive_are_refused(tmp_path):
    save_docker_archive(IMAGE, tmp_path / "d.tar")
    files = members(tmp_path / "d.tar")
    manifest = json.loads(files["manifest.json"])
    manifest[0]["Layers"][0] = "../../etc/passwd"
    files["manifest.json"] = json.dumps(manifest).encode()
    with pytest.raises(LayerlabError, match="outside the archive"):
        load_image(archive(tmp_path / "t.tar", files))


def test_archive_with_two_images_needs_a_tag(tmp_path):
    save_docker_archive(IMAGE, tmp_path / "d.tar")
    files = members(tmp_path / "d.tar")
    manifest = json.loads(files["manifest.json"])
    manifest.append(dict(manifest[0], RepoTags=["other:2"]))
    files["manifest.json"] = json.dumps(manifest).encode()
    path = archive(tmp_path / "two.tar", files)
    with pytest.raises(LayerlabError, match="holds 2 images"):
        load_image(path)
    assert load_image(f"{path}:other:2").repo_tags == ["other:2"]
