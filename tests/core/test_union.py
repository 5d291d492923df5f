"""UnionView: merged trees follow the OCI layer spec and overlayfs (docs/semantics.md 2-6, 9-11)."""

import pytest

from layerlab.entries import Dir, File, Hardlink, Meta, OpaqueDir, Symlink, Whiteout
from layerlab.layer import Layer
from layerlab.union import UnionView


def view(*layers: dict) -> UnionView:
    return UnionView([Layer(entries) for entries in layers])


def test_whiteout_deletes_the_lower_path_and_its_subtree():
    """OCI layer.md: `.wh.<name>` deletes <name> of any type, with its subtree."""
    v = view({"/a/x": File.of("1"), "/a/y/z": File.of("2"), "/b": File.of("3")}, {"/a": Whiteout()})
    assert v.paths() == ["/b"]


def test_whiteout_is_never_visible_and_readdir_hides_it():
    v = view({"/etc/motd": File.of("hi"), "/etc/hosts": File.of("h")}, {"/etc/motd": Whiteout()})
    assert v.readdir("/etc") == ["hosts"]
    assert v.lookup("/etc/motd") is None


def test_opaque_dir_hides_lower_children_but_keeps_its_own():
    """OCI: `.wh..wh..opq` never hides siblings from the same layer."""
    v = view(
        {"/d/old": File.of("o"), "/d/keep": File.of("k")},
        {"/d": OpaqueDir(), "/d/new": File.of("n")},
    )
    assert v.readdir("/d") == ["new"]


def test_dir_over_dir_merges_children_and_takes_upper_metadata():
    v = view(
        {"/d": Dir(Meta(mode=0o700)), "/d/a": File.of("a")},
        {"/d": Dir(Meta(mode=0o755, uid=5)), "/d/b": File.of("b")},
    )
    assert v.readdir("/d") == ["a", "b"]
    assert v.stat("/d").meta == Meta(mode=0o755, uid=5)
    assert v.lookup("/d").layer == 1


@pytest.mark.parametrize("upper", [File.of("f"), Symlink(target="/x")])
def test_non_directory_over_a_directory_removes_the_subtree(upper):
    v = view({"/d/a": File.of("a")}, {"/d": upper})
    assert v.paths() == ["/d"]
    assert v.stat("/d") == upper


def test_directory_over_a_file_replaces_it():
    v = view({"/d": File.of("f")}, {"/d": Dir(), "/d/c": File.of("c")})
    assert v.readdir("/d") == ["c"]


def test_missing_parents_are_root_owned_0755_dirs():
    """OCI: missing parents are created as root-owned 0755 directories."""
    v = view({"/a/b/c": File.of("x")})
    assert v.stat("/a").meta == Meta(mode=0o755)
    assert v.stat("/a/b").kind == "dir"


def test_symlinked_parent_becomes_a_real_directory_like_overlay_storage():
    """Pinned disagreement: overlay per-layer storage (what a container sees), not umoci's
    write-through, decides `/lib/foo` over a lower symlink `/lib`."""
    v = view(
        {"/lib": Symlink(target="usr/lib"), "/usr/lib/a": File.of("a")}, {"/lib/foo": File.of("f")}
    )
    assert v.stat("/lib").kind == "dir"
    assert v.readdir("/lib") == ["foo"]
    assert v.readdir("/usr/lib") == ["a"]


def test_hardlink_to_a_lower_file_keeps_the_content_after_the_target_is_deleted():
    """OCI: a hardlink whose target is later deleted keeps the content."""
    v = view({"/a": File.of("data")}, {"/b": Hardlink(target="/a")}, {"/a": Whiteout()})
    assert v.read("/b") == b"data"
    assert not v.exists("/a")


def test_hardlinked_names_share_an_inode():
    v = view({"/a": File.of("data"), "/b": Hardlink(target="/a"), "/c": File.of("data")})
    assert v.lookup("/a").inode == v.lookup("/b").inode != v.lookup("/c").inode


def test_hardlink_to_nothing_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="exists in neither"):
        view({"/b": Hardlink(target="/missing")})


def test_read_follows_symlinks_but_never_leaves_the_root():
    v = view(
        {
            "/etc/passwd": File.of("root"),
            "/up": Symlink(target="../../../etc/passwd"),
            "/abs": Symlink(target="/etc/passwd"),
        }
    )
    assert v.read("/up") == b"root"
    assert v.read("/abs") == b"root"
    assert v.resolve("/up") == "/etc/passwd"


def test_history_names_every_version_and_its_fate():
    v = view(
        {"/f": File.of("v0")}, {"/f": File.of("v1")}, {"/f": Whiteout()}, {"/f": File.of("v3")}
    )
    fates = [(ver.layer, ver.fate, ver.by) for ver in v.history("/f").versions]
    assert fates == [
        (0, "shadowed", 1),
        (1, "whited out", 2),
        (2, "whiteout", None),
        (3, "visible", None),
    ]
    assert v.history("/f").provider == 3


def test_history_reports_opaque_hiding_and_parent_whiteouts():
    v = view({"/d/a": File.of("a"), "/e/b": File.of("b")}, {"/d": OpaqueDir(), "/e": Whiteout()})
    assert [x.fate for x in v.history("/d/a").versions] == ["hidden by opaque dir"]
    assert [x.fate for x in v.history("/e/b").versions] == ["whited out"]
    assert not v.history("/e/b").visible


def test_trace_stops_at_the_first_layer_that_answers():
    v = view({"/f": File.of("0")}, {}, {"/g": File.of("2")})
    assert [(s.layer, s.outcome) for s in v.trace("/f")] == [(2, "miss"), (1, "miss"), (0, "found")]


def test_trace_stops_at_a_whiteout_and_at_an_opaque_parent():
    v = view({"/f": File.of("0"), "/d/x": File.of("x")}, {"/f": Whiteout(), "/d": OpaqueDir()})
    assert [s.outcome for s in v.trace("/f")] == ["whiteout"]
    assert [s.outcome for s in v.trace("/d/x")] == ["opaque"]


def test_walk_lists_parents_before_children_in_sorted_order():
    v = view({"/b/z": File.of(""), "/a": Dir(), "/b/a": File.of("")})
    assert [n.path for n in v.walk()] == ["/", "/a", "/b", "/b/a", "/b/z"]


def test_a_whiteout_under_a_lower_symlink_makes_the_parent_a_real_directory():
    """Per-layer storage holds `lib/.wh.k` in a real `lib/` directory, like any entry."""
    v = view(
        {"/lib": Symlink(target="usr/lib"), "/usr/lib/k": File.of("k")}, {"/lib/k": Whiteout()}
    )
    assert v.stat("/lib").kind == "dir"
    assert v.readdir("/lib") == []
    assert v.read("/usr/lib/k") == b"k"


def test_a_hardlink_keeps_a_lower_file_its_own_layer_whites_out():
    """Flattening tools (umoci) keep the data: the link was made before the delete."""
    v = view({"/a": File.of("data")}, {"/a": Whiteout(), "/b": Hardlink(target="/a")})
    assert v.read("/b") == b"data"
    assert not v.exists("/a")
