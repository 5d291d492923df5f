"""Beyond the corpus: random damage must not reach "internal error" either.

Hypothesis changes bytes of a small layer tar, and puts values of every JSON type into
every field of the index, manifest and config that layerlab reads. Whatever comes out,
the answer is exit 0, or exit 1 with one line that is not an internal error.
"""

from __future__ import annotations

import hashlib
import json
import shutil

from hostile_corpus import blob, layout, manifest_path, tar
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerlab.cli import main

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LAYER = tar(
    ("d", "d"),
    ("d/f", "f", "hello", {"pax_headers": {"SCHILY.xattr.user.k": "v"}}),
    ("d/l", "l", "f"),
    ("d/h", "h", "d/f"),
    ("d/.wh.gone", "f"),
    ("p", "p"),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _answer(argv, capsys) -> None:
    code = main(argv)
    err = capsys.readouterr().err
    assert "internal error" not in err, err
    assert code in (0, 1), err
    if code:
        assert err.startswith("layerlab: error: ") and err.count("\n") == 1, err


@FUZZ
@given(changes=st.lists(st.tuples(st.integers(0, len(LAYER) - 1), st.integers(0, 255)), max_size=6))
def test_damaged_layer_bytes(changes, tmp_path_factory, capsys):
    base = tmp_path_factory.mktemp("fuzz")
    data = bytearray(LAYER)
    for offset, value in changes:
        data[offset] = value
    diff_id = "sha256:" + hashlib.sha256(bytes(data)).hexdigest()
    image = layout(base / "img", bytes(data), diff_ids=[diff_id])
    _answer(["flatten", "--no-progress", str(image), str(base / "dest")], capsys)
    shutil.rmtree(base)


FIELDS = [
    ("index", ["manifests"]),
    ("index", ["manifests", 0]),
    ("index", ["manifests", 0, "annotations"]),
    ("index", ["manifests", 0, "mediaType"]),
    ("index", ["manifests", 0, "platform"]),
    ("manifest", ["config"]),
    ("manifest", ["layers"]),
    ("manifest", ["layers", 0]),
    ("manifest", ["layers", 0, "mediaType"]),
    ("manifest", ["layers", 0, "size"]),
    ("config", ["rootfs"]),
    ("config", ["rootfs", "diff_ids"]),
    ("config", ["history"]),
    ("config", ["history", 0]),
    ("config", ["history", 0, "created_by"]),
    ("config", ["history", 0, "empty_layer"]),
    ("config", ["config"]),
    ("config", ["created"]),
    ("config", ["os"]),
]


def _set(document, path, value) -> None:
    for key in path[:-1]:
        document = document[key]
    document[path[-1]] = value


@FUZZ
@given(
    field=st.sampled_from(FIELDS), value=JSON_VALUES, command=st.sampled_from(["inspect", "render"])
)
def test_any_json_value_in_any_field(field, value, command, tmp_path_factory, capsys):
    base = tmp_path_factory.mktemp("fuzz")
    layer = tar(("f", "f", "x"))
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {"rootfs": {"type": "layers", "diff_ids": [diff_id]}, "history": [{}]}
    document, where = field
    if document == "config":
        _set(config, where, value)
    image = layout(base / "img", layer, config=config)
    index = json.loads((image / "index.json").read_text())
    if document == "manifest":
        manifest = json.loads(manifest_path(image).read_text())
        _set(manifest, where, value)
        index["manifests"][0].update(blob(image, json.dumps(manifest).encode()))
    if document == "index":
        _set(index, where, value)
    (image / "index.json").write_text(json.dumps(index))
    argv = ["inspect", str(image)] if command == "inspect" else ["render", str(image), "--text"]
    _answer(argv, capsys)
    shutil.rmtree(base)
