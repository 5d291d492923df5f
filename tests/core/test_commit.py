"""commit and image IDs: what `docker commit` records (docs/semantics.md 7, 18)."""

import hashlib
import io
import tarfile

import pytest

from layerlab.commit import build_image, commit
from layerlab.container import Container
from layerlab.entries import File
from layerlab.image import EMPTY_TAR_DIFF_ID, Image, chain_ids, sha256_digest
from layerlab.layer import Layer


@pytest.fixture
def image() -> Image:
    base = Layer(
        {"/bin/busybox": File.of("BB", 0o755), "/etc/passwd": File.of("root\n")},
        created_by="ADD rootfs.tar /",
    )
    return build_image([base], tag="demo:1")


def edit(container: Container) -> None:
    container.append("/etc/passwd", "bob\n")
    container.write("/etc/hostname", "elsewhere\n")
    container.unlink("/.dockerenv")


def test_a_no_change_commit_adds_empty_layer_history_and_no_layer(image):
    result = Container(image).commit(created_by="ENV A=1")
    assert result.layer is None and result.tar is None
    assert result.image.diff_ids == image.diff_ids
    assert result.image.history[-1] == {
        "created": "1970-01-01T00:00:00Z",
        "created_by": "ENV A=1",
        "empty_layer": True,
    }
    assert result.image.id != image.id  # new config bytes, new image


def test_commit_captures_the_rw_layer_only(image):
    container = Container(image)
    edit(container)
    result = container.commit()
    with tarfile.open(fileobj=io.BytesIO(result.tar)) as tar:
        names = tar.getnames()
    assert names == [".wh..dockerenv", "etc", "etc/passwd"]  # no hostname, no init files
    assert result.image.diff_ids == [*image.diff_ids, result.diff_id]
    assert result.diff_id == sha256_digest(result.tar)
    assert result.image.view().read("/etc/passwd") == b"root\nbob\n"


def test_the_same_change_gives_the_same_digests(image):
    first, second = Container(image, name="one"), Container(image, name="two")
    edit(first)
    edit(second)
    a, b = first.commit(), second.commit()
    assert a.tar == b.tar
    assert a.image.id == b.image.id


def test_chain_ids_hash_the_previous_chain_id_and_the_next_diff_id():
    """OCI config.md: ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))."""
    d0, d1 = EMPTY_TAR_DIFF_ID, "sha256:" + "ab" * 32
    expected = "sha256:" + hashlib.sha256(f"{d0} {d1}".encode()).hexdigest()
    assert chain_ids([d0, d1]) == [d0, expected]


def test_the_empty_changeset_has_the_well_known_diff_id():
    empty = build_image([Layer()])
    assert empty.diff_ids == [EMPTY_TAR_DIFF_ID]


def test_an_image_whose_config_and_layers_disagree_is_refused(image):
    with pytest.raises(ValueError, match="diff_ids but the image has"):
        Image(image.config_bytes, [])


def test_commit_takes_a_parent_and_changes_not_a_container(image):
    """commit() is the model's: an image (or bare layers) plus a changeset; Container.commit
    only hands it its own parent and rw changes."""
    container = Container(image, name="c")
    edit(container)
    via_container = container.commit(tag="t:1")
    direct = commit(image, container.changes(), tag="t:1")
    assert direct.image.id == via_container.image.id
    assert direct.tar == via_container.tar
    on_layers = commit(image.model_layers(), container.changes())
    assert on_layers.image.diff_ids == via_container.image.diff_ids
    empty = commit(image, None)
    assert empty.layer is None
    assert empty.image.diff_ids == image.diff_ids
    assert empty.image.history[-1]["empty_layer"] is True
