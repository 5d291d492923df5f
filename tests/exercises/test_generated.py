"""The reference solutions agree with the models the checkers judge by, on inputs
hypothesis generates (derandomized: the same examples on every run, so CI is reproducible).

The checkers themselves run seeded generated cases; this is the other half: where the
reference and the model could part, hypothesis looks for an input that shows it.
"""

from __future__ import annotations

import functools

from hypothesis import given, settings
from hypothesis import strategies as st

from layerlab import UnionView, chain_ids
from layerlab.entries import Dir, File, OpaqueDir, Whiteout
from layerlab.exercises import get
from layerlab.exercises.ex01 import _reference
from layerlab.exercises.ex03 import resolve
from layerlab.exercises.judging import layer_names
from layerlab.layer import Layer

SEEDED = settings(derandomize=True, max_examples=60, deadline=None, database=None)


@functools.cache
def reference(exercise_id: str):
    """The function the reference solution cell passes to check() (not judged here)."""
    seen = []
    cell = compile(get(exercise_id).solution, "<solution>", "exec")
    exec(cell, {"check": lambda eid, answer: seen.append(answer)})
    return seen[0]


uid_lines = st.lists(
    st.tuples(st.integers(0, 1 << 20), st.integers(0, 1 << 31), st.integers(1, 1 << 16)),
    max_size=5,
)


@SEEDED
@given(uid_lines, st.integers(0, 1 << 21), st.booleans())
def test_01_3_the_reference_maps_uids_as_the_model(lines, uid, padded):
    ranges = sorted(lines)
    disjoint = [r for i, r in enumerate(ranges) if i == 0 or r[0] >= sum(ranges[i - 1][::2])]
    text = "".join(
        f"{a:>10} {b:>10} {c:>10}\n" if padded else f"{a} {b} {c}\n" for a, b, c in disjoint
    )
    assert reference("01.3")(text, uid) == _reference(text, uid)


names = st.sampled_from(["a", "b", "..", ".", ""])


@SEEDED
@given(
    st.lists(st.sampled_from("xyz"), max_size=3),
    st.lists(st.sampled_from("xyzp"), max_size=4),
    st.lists(names, min_size=1, max_size=6),
    st.booleans(),
)
def test_03_1_the_reference_resolves_as_the_model(root, cwd, path, absolute):
    root_path, cwd_path = "/" + "/".join(root), "/" + "/".join(cwd)
    text = ("/" if absolute else "") + "/".join(path)
    assert reference("03.1")(root_path, cwd_path, text) == resolve(root_path, cwd_path, text)


digests = st.lists(
    st.text("0123456789abcdef", min_size=4, max_size=8).map(lambda h: f"sha256:{h}"),
    min_size=3,
    max_size=6,
)


@SEEDED
@given(digests)
def test_04_1_the_reference_chain_id_is_the_libraries(diff_ids):
    assert reference("04.1")(diff_ids) == chain_ids(diff_ids)[2]


@SEEDED
@given(digests, digests, st.integers(0, 6))
def test_04_2_the_reference_counts_shared_chain_ids(a, b, common):
    b = a[:common] + b
    shared = sum(1 for x, y in zip(chain_ids(a), chain_ids(b), strict=False) if x == y)
    assert reference("04.2")(a, b) == shared


def entries():
    return st.sampled_from(["file", "dir", "opaque", "whiteout"])


@st.composite
def layer_stacks(draw):
    paths = ["/d", "/d/f", "/d/e", "/d/e/g", "/h"]
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        layer = Layer()
        for path in draw(st.lists(st.sampled_from(paths), unique=True, max_size=4)):
            kind = draw(entries())
            if kind in ("file", "whiteout") and any(k.startswith(path + "/") for k in layer):
                continue  # a directory with members cannot also be a file or a whiteout
            # a tar lists a member's directories before it, as docker's do
            above = [p for p in ("/d", "/d/e") if path.startswith(p + "/")]
            if not all(isinstance(layer.get(p, Dir()), Dir) for p in above):
                continue
            for p in above:
                layer[p] = layer.get(p) or Dir()
            layer[path] = {
                "file": File.of("x\n"),
                "dir": Dir(),
                "opaque": OpaqueDir(),
                "whiteout": Whiteout(),
            }[kind]
        layers.append(layer)
    return layers


@SEEDED
@given(layer_stacks(), st.sampled_from(["/d", "/d/f", "/d/e", "/d/e/g", "/h", "/none"]))
def test_04_3_the_reference_lookup_is_the_union_views(layers, path):
    node = UnionView(layers).lookup(path)
    assert reference("04.3")(layers, path) == (None if node is None else node.layer)


@SEEDED
@given(layer_stacks())
def test_05_2_the_reference_tar_names_are_the_changesets(layers):
    layer = layers[-1]
    names = sorted(n.rstrip("/") for n in reference("05.2")(layer))
    assert names == list(layer_names(layer))
