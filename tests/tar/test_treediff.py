"""`layerlab diff`: the changeset between two trees, applied on OLD, gives NEW."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from layerlab.entries import Dir, File, Hardlink, Meta, OpaqueDir, Symlink, Whiteout
from layerlab.layer import Layer
from layerlab.tar.treediff import diff_trees
from layerlab.union import UnionView

ROOT = {"/": Dir()}


def tree(entries: dict) -> Layer:
    return Layer({**ROOT, **entries})


def seen(view: UnionView) -> dict:
    """What a user sees: entries by path (an opaque dir is just a dir once merged), with
    hardlinked names grouped."""
    groups: dict[int, list[str]] = {}
    nodes = list(view.walk())
    for node in nodes:
        groups.setdefault(node.inode, []).append(node.path)
    plain = {n.path: Dir(n.entry.meta) if isinstance(n.entry, Dir) else n.entry for n in nodes}
    return {n.path: (plain[n.path], tuple(groups[n.inode])) for n in nodes}


def applies(old: Layer, new: Layer) -> Layer:
    changes = diff_trees(old, new)
    assert seen(UnionView([old, changes])) == seen(UnionView([new]))
    return changes


def test_deleting_a_subtree_is_one_whiteout():
    changes = applies(
        tree({"/d": Dir(), "/d/a": File.of("a"), "/d/b/c": File.of("c"), "/k": Dir()}),
        tree({"/k": Dir()}),
    )
    assert dict(changes.items()) == {"/d": Whiteout()}


def test_unchanged_tree_gives_an_empty_layer():
    old = tree({"/a": File.of("a"), "/d": Dir(), "/d/l": Symlink(target="a")})
    assert len(applies(old, old)) == 0


def test_type_change_emits_the_new_entry_and_its_subtree():
    changes = applies(tree({"/x": File.of("f")}), tree({"/x": Dir(), "/x/y": File.of("y")}))
    assert changes.paths() == ["/x", "/x/y"] and changes.whiteouts == []


def test_dir_metadata_change_emits_just_the_dir():
    changes = applies(
        tree({"/d": Dir(), "/d/a": File.of("a")}),
        tree({"/d": Dir(Meta(mode=0o700)), "/d/a": File.of("a")}),
    )
    assert dict(changes.items()) == {"/d": Dir(Meta(mode=0o700))}


def test_replacing_all_children_of_a_dir_uses_one_opaque_marker():
    changes = applies(
        tree({"/d": Dir(), "/d/a": File.of("a"), "/d/b": File.of("b")}),
        tree({"/d": Dir(), "/d/z": File.of("z")}),
    )
    assert changes.opaque_dirs == ["/d"] and changes.whiteouts == []


def test_removing_one_child_of_several_uses_a_whiteout_not_opaque():
    changes = applies(
        tree({"/d": Dir(), "/d/a": File.of("a"), "/d/b": File.of("b")}),
        tree({"/d": Dir(), "/d/b": File.of("b")}),
    )
    assert changes.whiteouts == ["/d/a"] and changes.opaque_dirs == []


def test_a_new_hardlink_to_an_unchanged_file_keeps_the_link():
    changes = applies(
        tree({"/a": File.of("a")}), tree({"/a": File.of("a"), "/b": Hardlink(target="/a")})
    )
    assert changes["/b"] == Hardlink(target="/a")


names = st.sampled_from(["a", "b", "c"])
leaf = st.sampled_from(
    [File.of("1"), File.of("2"), File.of("1", mode=0o600), Symlink(target="a"), Symlink(target="b")]
)
dirmeta = st.sampled_from([Dir(), Dir(Meta(mode=0o700))])


@st.composite
def trees(draw: st.DrawFn) -> Layer:
    entries: dict = dict(ROOT)

    def fill(path: str, depth: int) -> None:
        for name in draw(st.sets(names, max_size=3)):
            child = f"{path.rstrip('/')}/{name}"
            if depth < 2 and draw(st.booleans()):
                entries[child] = draw(dirmeta)
                fill(child, depth + 1)
            else:
                entries[child] = draw(leaf)

    fill("/", 0)
    files = sorted(p for p, e in entries.items() if isinstance(e, File))
    for path in sorted(p for p, e in entries.items() if not isinstance(e, Dir)):
        others = [f for f in files if f < path]
        if others and draw(st.integers(0, 4)) == 0:
            entries[path] = Hardlink(target=draw(st.sampled_from(others)))
    # a hardlink's target must stay a file: targets are always earlier, plain files
    return Layer(
        {
            p: e
            for p, e in entries.items()
            if not isinstance(e, Hardlink) or isinstance(entries[e.target], File)
        }
    )


@settings(max_examples=150, derandomize=True)
@given(trees(), trees())
def test_old_plus_diff_is_new_for_generated_trees(old, new):
    changes = applies(old, new)
    assert not any(isinstance(e, OpaqueDir) and p == "/" for p, e in changes.items())
