"""The explorers, driven the way a learner drives them: tick, pick, slide; outputs follow.

Each explorer's parts and CSS classes are its documented interface (a browser test finds
them by class), so these tests also pin that the classes are there.
"""

from __future__ import annotations

import re
from html import unescape

import render_scenes

from layerlab.render import CowPlayer, ImageCompare, StackExplorer


def _classes(widget) -> set[str]:
    return set(widget._dom_classes)


def _merged_paths(explorer: StackExplorer) -> list[str]:
    return re.findall(r"<tr><td[^>]*>(/[^<]*)</td>", explorer.merged.value)


def test_stack_explorer_parts_carry_their_css_classes():
    e = StackExplorer(render_scenes.container())
    assert "layerlab-stack-explorer" in _classes(e)
    assert all("layerlab-layer-toggle" in _classes(t) for t in e.toggles)
    for part, css in [
        (e.picture, "layerlab-stack-picture"),
        (e.merged, "layerlab-merged-view"),
        (e.paths, "layerlab-path-select"),
        (e.path_filter, "layerlab-path-filter"),
        (e.history, "layerlab-path-history"),
        (e.diff, "layerlab-path-diff"),
    ]:
        assert css in _classes(part)


def test_switching_a_layer_off_changes_the_merged_view():
    """Without the layer that whites out /etc/passwd, the base version shows again."""
    e = StackExplorer(render_scenes.image())
    assert "/etc/passwd" not in _merged_paths(e) and "/app/c" in _merged_paths(e)
    e.toggles[1].value = False
    assert "/etc/passwd" in _merged_paths(e) and "/app/a" in _merged_paths(e)
    assert "/app/c" not in _merged_paths(e)
    assert "switched off" in e.picture.value
    assert repr(e) == "<StackExplorer: 1 of 2 layers on, 12 paths>"
    e.toggles[1].value = True
    assert "/etc/passwd" not in _merged_paths(e)


def test_switching_off_the_rw_layer_shows_the_image_again():
    c = render_scenes.container()
    e = StackExplorer(c)
    row = re.search(r"/bin/sh</td><td[^>]*>([^<]*)</td><td[^>]*>(\w+)<", unescape(e.merged.value))
    assert row.groups() == ('file 7 B "ELF v3\\n"', "rw")
    e.toggles[-1].value = False
    row = re.search(r"/bin/sh</td><td[^>]*>([^<]*)</td><td[^>]*>(\w+)<", unescape(e.merged.value))
    assert row.groups() == ('file 7 B "ELF v2\\n"', "L1")


def test_selecting_a_path_shows_its_history_and_diffs():
    e = StackExplorer(render_scenes.container())
    assert "pick a path" in e.history.value
    e.paths.value = "/bin/sh"
    assert "<b>/bin/sh</b>: visible" in e.history.value
    fates = re.findall(r">(visible|shadowed by \w+)<", e.history.value)
    assert fates == ["visible", "shadowed by rw", "shadowed by L1"]  # top first
    assert e.diff.value.count("<pre") == 2  # L0 -> L1, L1 -> rw
    assert "-ELF v1" in e.diff.value and "+ELF v2" in e.diff.value and "+ELF v3" in e.diff.value


def test_history_follows_the_layer_toggles():
    e = StackExplorer(render_scenes.container())
    e.paths.value = "/bin/sh"
    e.toggles[1].value = False
    assert "+ELF v2" not in e.diff.value and "+ELF v3" in e.diff.value
    assert e.diff.value.count("<pre") == 1


def test_the_path_filter_narrows_the_list():
    e = StackExplorer(render_scenes.container())
    e.path_filter.value = "/etc/h"
    assert list(e.paths.options) == ["/etc/hostname", "/etc/hosts"]


def test_cow_player_slider_steps_through_the_log():
    c = render_scenes.container()
    p = CowPlayer(c)
    assert (p.slider.min, p.slider.max, p.slider.value) == (0, len(c.log), 0)
    assert "fresh container" in p.command.value and "empty" in p.rw.value
    p.slider.value = 1
    assert "printf &#x27;ELF v3\\n&#x27; &gt; /bin/sh" in p.command.value
    assert "<code>/bin</code>, <code>/bin/sh</code>" in p.copyups.value
    assert "/bin/sh" in p.rw.value and "step 1: printf" in p.picture.value
    p.slider.value = 3
    assert "rm /app/c" in p.command.value and "whiteout /app/c" in p.notes.value
    assert "WHITEOUT" in p.rw.value and "copied up: nothing" in p.copyups.value
    p.slider.value = 5
    assert "bind-mounted" in p.notes.value
    assert repr(p) == "<CowPlayer: container demo, step 5 of 5>"
    for part, css in [
        (p.slider, "layerlab-step-slider"),
        (p.play, "layerlab-step-play"),
        (p.command, "layerlab-step-command"),
        (p.copyups, "layerlab-step-copyups"),
        (p.notes, "layerlab-step-notes"),
        (p.rw, "layerlab-rw-layer"),
        (p.picture, "layerlab-stack-picture"),
    ]:
        assert css in _classes(part)


def test_image_compare_shows_shared_layers_and_file_differences():
    a, b = render_scenes.image(), render_scenes.sibling_image()
    ic = ImageCompare(a, b, names=("demo", "web"))
    assert ic.common == 1 and a.chain_ids[0][7:19] in ic.shared.value
    assert a.chain_ids[1][7:19] in ic.only_a.value and b.chain_ids[1][7:19] in ic.only_b.value
    changed = dict(ic.changes)
    assert changed["/srv/index.html"].startswith("added")
    assert changed["/etc/passwd"].startswith("added")  # demo whites it out, web keeps it
    assert changed["/app/c"].startswith("removed")
    assert "/etc/hosts" not in changed  # same version from the shared base layer
    ic.paths.value = "/bin/sh"
    assert "-ELF v2" in ic.diff.value and "+ELF v1" in ic.diff.value
    assert repr(ic).startswith("<ImageCompare: 1 shared layers, 1 only in demo, 1 only in web")
    for part, css in [
        (ic.shared, "layerlab-shared-layers"),
        (ic.only_a, "layerlab-only-a"),
        (ic.only_b, "layerlab-only-b"),
        (ic.files, "layerlab-file-changes"),
        (ic.paths, "layerlab-path-select"),
        (ic.diff, "layerlab-path-diff"),
        (ic.picture, "layerlab-graph-picture"),
    ]:
        assert css in _classes(part)


def test_widget_text_plain_is_the_stable_repr():
    """nbval compares text/plain; widget model ids are random, so the repr carries it."""
    e = StackExplorer(render_scenes.image())
    assert e._repr_mimebundle_()["text/plain"] == "<StackExplorer: 2 of 2 layers on, 12 paths>"
