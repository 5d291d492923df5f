"""The stack diagram, its text tree and the lookup trace say what the union rules say.

Rules from docs/semantics.md: whiteouts delete lower versions (3), opaque dirs
hide lower children (4, 13), copy-up (12), the init layer and its bind mounts (17, 18).
"""

from __future__ import annotations

import re

import render_scenes

from layerlab.entries import Dir, File
from layerlab.layer import Layer
from layerlab.render import lookup, stack
from layerlab.render.facts import stack_facts


def _first_cells(dot: str) -> list[str]:
    """The first cell of each table row of a stack diagram's DOT, top to bottom."""
    rows = re.findall(r"<TR><TD[^>]*>(.*?)</TD>", dot)
    return [re.sub(r"<[^>]+>", " ", row).strip() for row in rows]


def test_layers_are_drawn_bottom_to_top_under_the_merged_view():
    cells = _first_cells(stack(render_scenes.container()).dot)
    assert cells[0] == "layer"
    assert cells[1].startswith("merged view")
    assert [c.split()[0] for c in cells[2:6]] == ["rw", "init", "L1", "L0"]


def test_whiteout_is_marked_and_the_version_it_deletes_is_crossed_out():
    """semantics 3: a whiteout deletes the lower path; the diagram strikes that version."""
    dot = stack(render_scenes.image()).dot
    assert "✗ WHITEOUT" in dot and "(.wh.passwd)" in dot
    assert re.search(r"<S>file 11 B &quot;root:x:0:0\\n&quot;</S>", dot)
    assert "whited out by L1" in dot


def test_opaque_dir_is_marked_and_hidden_children_are_crossed_out():
    """semantics 4: an opaque dir hides every lower child of the directory."""
    dot = stack(render_scenes.image()).dot
    assert "OPAQUE dir" in dot and "hides lower children" in dot
    assert dot.count("hidden by opaque dir by L1") == 2  # /app/a and /app/b
    assert re.search(r"<S>file 3 B &quot;a1\\n&quot;</S>", dot)


def test_copy_ups_are_highlighted_in_the_rw_layer_only():
    """semantics 12: writing a lower file copies it (and its parents) up. /app/c was copied
    up, then deleted and made again by mkdir: that opaque dir is new, not a copy."""
    facts = stack_facts(render_scenes.container())
    rw = len(facts.rows) - 1
    copied = {
        (col.path, c.layer) for col in facts.columns for c in col.cells if "copy-up" in c.marks
    }
    assert copied == {("/app", rw), ("/bin", rw), ("/bin/sh", rw)}
    assert "#ffe0b2" in stack(render_scenes.container()).dot  # the copy-up fill is drawn


def test_init_files_are_marked_never_committed_and_bind_mounts_say_so():
    """semantics 17-18: hosts, hostname and resolv.conf are bind mounts; init never commits."""
    facts = stack_facts(render_scenes.container())
    init = next(r.index for r in facts.rows if r.role == "init")
    marks = {col.path: col.cell(init).marks for col in facts.columns if col.cell(init)}
    assert all("never committed" in m for m in marks.values())
    assert {p for p, m in marks.items() if "bind-mounted" in m} == {
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
    }
    merged = {col.path: col.mount for col in facts.columns}
    assert merged["/etc/hosts"] == "bind mount" and merged["/.dockerenv"] is None


def test_the_merged_row_shows_what_the_union_shows():
    c = render_scenes.container()
    facts = stack_facts(c)
    view = c.view()
    for col in facts.columns:
        node = view.lookup(col.path)
        assert (col.visible, col.provider) == ((node.entry, node.layer) if node else (None, None))


def test_big_stacks_show_the_paths_that_teach_and_say_how_many_are_left_out():
    files = {f"/usr/share/doc/f{i:03d}": File.of(str(i)) for i in range(100)}
    upper = Layer({"/usr/share/doc/f007": File.of("new"), "/usr/share/doc/f008": File.of("x")})
    facts = stack_facts([Layer(files), upper], max_paths=10)
    paths = [c.path for c in facts.columns]
    assert len(paths) == 10 and facts.omitted == 90
    assert {"/usr/share/doc/f007", "/usr/share/doc/f008"} <= set(paths)  # two versions each
    assert "90 more paths not shown" in stack([Layer(files), upper], max_paths=10).dot


def test_plain_parent_directories_get_no_column():
    facts = stack_facts([Layer({"/etc": Dir(), "/etc/motd": File.of("hi")})])
    assert [c.path for c in facts.columns] == ["/etc/motd"]


def test_text_tree_has_the_same_information():
    text = str(stack(render_scenes.container()))
    sections = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert sections[1:] == [
        "merged view: what the container sees",
        "rw  (container layer)  -- read-write: what docker commit captures",
        f"init  {render_scenes.container().init.name}  -- Docker's -init layer: never committed",
        next(s for s in sections if s.startswith("L1")),
        next(s for s in sections if s.startswith("L0")),
    ]
    assert "✗ WHITEOUT (.wh.passwd)" in text
    assert "DELETED: hidden by opaque dir by L1" in text
    assert "bind mount (the container's own file)" in text
    assert "copy-up" in text and "bind-mounted, never committed" in text


def test_lookup_stops_at_the_whiteout_and_never_asks_lower_layers():
    """overlayfs: a whiteout ends the lookup; layers below are not consulted."""
    text = str(lookup(render_scenes.container(), "/etc/passwd"))
    outcomes = dict(re.findall(r"^(\S+)\s.*?\s(miss|whiteout|not asked|found)\s", text, re.M))
    assert outcomes == {"rw": "miss", "init": "miss", "L1": "whiteout", "L0": "not asked"}
    assert text.endswith("=> ENOENT: /etc/passwd: no such file or directory")


def test_lookup_under_an_opaque_dir_stops_there():
    figure = lookup(render_scenes.image(), "/app/a")
    assert "stopped at L1 (opaque)" in repr(figure)
    assert "NOT ASKED" in figure.dot and "ENOENT" in figure.dot


def test_lookup_finds_the_top_version_and_names_its_layer():
    figure = lookup(render_scenes.container(), "/bin/sh")
    assert "asked rw; stopped at rw (found); found: file from rw" in repr(figure)


def test_lookup_of_a_bind_mount_is_answered_by_the_mount_table():
    figure = lookup(render_scenes.container(), "/etc/hosts")
    assert "asked no layer" in repr(figure)
    assert "bind mount: answers, the union is never asked" in figure.dot
