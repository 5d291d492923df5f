"""The image summary: counts and wasted bytes agree with the model's own union.

`summary.py` replays the union over flat dicts for speed; these tests hold it to
`UnionView`, layer by layer, on random stacks, and pin the byte-counting rules the
docstring promises (each shipped byte once; dive counts every copy, issue 684).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from layerlab.entries import Content, Dir, File, OpaqueDir, Symlink, Whiteout
from layerlab.layer import Layer
from layerlab.render import summary
from layerlab.render.summary import summarize
from layerlab.union import UnionView

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import render_scenes  # noqa: E402
from render import synthetic_layers  # noqa: E402  (the benchmark's own image)

NAMES = ["/a", "/a/x", "/a/y", "/a/y/z", "/b", "/b/x", "/c"]
ENTRIES = st.sampled_from(["file", "file2", "dir", "opaque", "whiteout", "symlink"])


def _entry(kind: str):
    return {
        "file": File.of("1234"),
        "file2": File.of("abcdefgh"),
        "dir": Dir(),
        "opaque": OpaqueDir(),
        "whiteout": Whiteout(),
        "symlink": Symlink(target="/c"),
    }[kind]


@st.composite
def stacks(draw) -> list[Layer]:
    layers = []
    for n in range(draw(st.integers(1, 5))):
        chosen = draw(st.dictionaries(st.sampled_from(NAMES), ENTRIES, max_size=5))
        layer = Layer(name=f"l{n}")
        for path, kind in sorted(chosen.items()):
            entry = _entry(kind)
            parent_is_file = any(
                isinstance(layer.get(p), (File, Symlink, Whiteout))
                for p in NAMES
                if path.startswith(p + "/")
            )
            if not parent_is_file:
                layer[path] = entry
        layers.append(layer)
    return layers


def _visible(layers: list[Layer]) -> dict[str, tuple[int, object]]:
    view = UnionView(layers)
    return {n.path: (n.layer, n.entry) for n in view.walk() if n.path != "/"}


@settings(max_examples=150, deadline=None)
@given(stacks())
def test_counts_match_the_union_layer_by_layer(layers):
    """added/deleted/modified are set differences of UnionView before and after each layer."""
    stats = summarize(layers).layers
    before: dict = {}
    for i, stat in enumerate(stats):
        after = _visible(layers[: i + 1])
        added = after.keys() - before.keys()
        deleted = before.keys() - after.keys()
        modified = {
            p
            for p in after.keys() & before.keys()
            if after[p][0] == i
            and not (isinstance(after[p][1], Dir) and isinstance(before[p][1], Dir))
        }
        assert (stat.added, stat.deleted, stat.modified) == (
            len(added),
            len(deleted),
            len(modified),
        ), f"layer {i}"
        before = after


@settings(max_examples=150, deadline=None)
@given(stacks())
def test_wasted_bytes_are_the_shipped_versions_the_view_does_not_use(layers):
    """Without hardlinks: wasted = every shipped file byte minus the visible versions' bytes."""
    shipped = sum(layer.size for layer in layers)
    view = UnionView(layers)
    used = sum(
        n.entry.size
        for n in view.walk()
        if isinstance(n.entry, File) and layers[n.layer].get(n.path) is n.entry
    )
    facts = summarize(layers)
    assert facts.wasted == shipped - used
    assert facts.visible_paths == len(view.paths())


def test_a_file_changed_once_wastes_one_copy_not_two():
    """dive adds up every copy of a path (issue 684); the old copy is the only waste."""
    layers = [Layer({"/f": File.of(b"a" * 10)}), Layer({"/f": File.of(b"b" * 10)})]
    facts = summarize(layers)
    assert facts.wasted == 10
    assert [(v.path, v.layer, v.reason) for v in facts.wasted_versions] == [
        ("/f", 0, "shadowed by L1")
    ]


def test_deleted_data_is_still_shipped_and_counts_as_waste():
    layers = [
        Layer({"/big": File.of(b"x" * 100), "/d/k": File.of(b"k" * 7)}),
        Layer({"/big": Whiteout(), "/d": OpaqueDir()}),
    ]
    reasons = {v.path: v.reason for v in summarize(layers).wasted_versions}
    assert reasons == {"/big": "whited out by L1", "/d/k": "hidden by opaque dir in L1"}
    assert summarize(layers).wasted == 107


def test_a_visible_hardlink_keeps_its_targets_data_alive():
    """Deleting one name of a hardlinked file frees nothing: the other name still reads it."""
    facts = summarize(render_scenes.hardlinked_layers())
    assert facts.wasted == 0 and facts.size == 100
    assert facts.layers[2].deleted == 1


def test_each_layer_reports_the_waste_it_ships():
    facts = summarize(render_scenes.image())
    per_layer = [s.wasted for s in facts.layers]
    assert per_layer == [
        sum(v.size for v in facts.wasted_versions if v.layer == i) for i in range(len(facts.layers))
    ]
    assert per_layer[0] == len("root:x:0:0\n") + len("ELF v1\n") + len("a1\n") + len("b1\n")


def test_the_summary_names_the_paths_that_matter():
    figure = summary(render_scenes.container(), top=3)
    text = str(figure)
    assert "biggest waste (of 7 unreachable versions)" in text
    assert "/etc/passwd  L1     whiteout" in text
    assert "/bin/sh" in text.split("paths changed by several layers")[1]


def test_twenty_layers_of_twenty_thousand_files_stay_one_small_picture():
    """Legible at scale: one row per layer plus a few path tables, whatever the file count.
    (Its speed is measured in bench/render.py, not here.)"""
    layers = synthetic_layers()
    assert sum(len(layer) for layer in layers) >= 20_000
    figure = summary(layers)
    assert figure.dot.count("<TR>") <= (1 + 1 + 20 + 1) + 3 * (1 + 1 + 10)  # titles, headers
    assert len(figure.dot) < 40_000
    assert all(f"layer{n:02d}" in figure.dot for n in range(1, 20))


def test_the_summary_never_reads_file_contents():
    """Sizes come from tar headers; reading a 1 GB layer to draw a table would be a bug."""

    def refuse():
        raise AssertionError("read")

    rng = random.Random(3)
    layers = [
        Layer(
            {
                f"/f{i}": File(content=Content(size=rng.randint(1, 99), opener=refuse))
                for i in range(50)
            }
        ),
        Layer({f"/f{i}": File(content=Content(size=5, opener=refuse)) for i in range(9)}),
    ]
    assert summarize(layers).wasted_versions[0].layer == 0
    summary(layers).dot  # noqa: B018  (drawing must not read either)
