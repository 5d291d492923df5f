"""Interactive explorers for notebooks (ipywidgets 8, JupyterLab 4).

* `StackExplorer`: switch layers off and on and watch the merged view change; pick a path
  to see every version of it across the layers, with a diff between text versions.
* `CowPlayer`: a slider through a container's operation log, one copy-on-write step at a
  time: the command, what it copied up, the notes, the rw layer and the stack picture.
* `ImageCompare`: what two images share (by chain ID) and how their files differ.

Each explorer is a `VBox` whose parts are plain attributes (documented per class) and carry
CSS classes (`layerlab-...`), so tests can drive them from Python and browser tests can
find them on the page. Outputs are `HTML` widgets holding strings, never `Output` widgets,
so what they show can be asserted without a running kernel. Pictures fall back to tables
when Graphviz is missing; every explorer keeps working. `repr()` is one stable line, the
`text/plain` a notebook commits.
"""

from __future__ import annotations

from dataclasses import replace

import ipywidgets as widgets

from ..container import Container
from ..entries import ancestors
from ..i18n import _
from ..image import Image
from ..initlayer import BIND_MOUNTED
from ..layer import Layer
from ..union import UnionView
from .diffs import diff_html, history_diffs, version_diff
from .facts import Stackable, build_facts, copied_up, layer_rows
from .graph import graph
from .stack import stack_figure
from .style import COLOURS, box, entry_label, esc, html_table, one_line, short_id
from .timeline import frame

__all__ = ["StackExplorer", "CowPlayer", "ImageCompare"]

#: Rows shown in path tables and lists; big images say how many more there are.
LIST_LIMIT = 500


def _html(css: str) -> widgets.HTML:
    """An HTML output with a CSS class a browser test can find."""
    out = widgets.HTML()
    out.add_class(css)
    return out


def _table(header: list[str], rows: list[list[str]], css: str, total: int | None = None) -> str:
    grid = [[box(c, fill=COLOURS["header"], bold=True) for c in header]]
    grid += [[box(c, align="left") for c in row] for row in rows[:LIST_LIMIT]]
    more = (total if total is not None else len(rows)) - min(len(rows), LIST_LIMIT)
    tail = _("<p><em>... and {more} more</em></p>").format(more=more) if more > 0 else ""
    return html_table(grid, css=css) + tail


class StackExplorer(widgets.VBox):
    """Layer checkboxes, the stack picture, the merged view, and one path's history.

    Parts: `toggles` (one Checkbox per layer, bottom first; class layerlab-layer-toggle),
    `picture` (layerlab-stack-picture), `merged` (layerlab-merged-view), `path_filter`
    (Text, layerlab-path-filter), `paths` (Select, layerlab-path-select), `history`
    (layerlab-path-history) and `diff` (layerlab-path-diff).
    """

    def __init__(self, source: Stackable, *, max_paths: int = 24) -> None:
        self._layers, self._rows = layer_rows(source)
        self._container = source if isinstance(source, Container) else None
        self._max_paths = max_paths
        named = {p for layer in self._layers for p in layer if p != "/"}
        self._all_paths = sorted(named | {a for p in named for a in ancestors(p)})
        self.toggles = [
            widgets.Checkbox(value=True, description=row.title, indent=False) for row in self._rows
        ]
        for toggle in self.toggles:
            toggle.add_class("layerlab-layer-toggle")
            toggle.observe(lambda _: self.refresh(), names="value")
        self.picture = _html("layerlab-stack-picture")
        self.merged = _html("layerlab-merged-view")
        self.path_filter = widgets.Text(placeholder=_("filter paths, e.g. /etc"))
        self.path_filter.add_class("layerlab-path-filter")
        self.paths = widgets.Select(options=self._all_paths[:LIST_LIMIT], rows=10, value=None)
        self.paths.add_class("layerlab-path-select")
        self.history = _html("layerlab-path-history")
        self.diff = _html("layerlab-path-diff")
        self.path_filter.observe(lambda _: self._filter(), names="value")
        self.paths.observe(lambda _: self.show_path(), names="value")
        # A wide stack picture must scroll, not squeeze the checkboxes to nothing.
        layers_box = widgets.VBox(
            [widgets.HTML(_("<b>layers (top first)</b>")), *reversed(self.toggles)],
            layout=widgets.Layout(flex="0 0 auto", min_width="16em"),
        )
        self.picture.layout = widgets.Layout(overflow="auto", flex="1 1 auto")
        path_box = widgets.VBox([self.path_filter, self.paths])
        super().__init__(
            [
                widgets.HBox([layers_box, self.picture]),
                widgets.HTML(_("<b>merged view</b>")),
                self.merged,
                widgets.HTML(_("<b>history of a path</b>")),
                widgets.HBox([path_box, widgets.VBox([self.history, self.diff])]),
            ]
        )
        self.add_class("layerlab-stack-explorer")
        self.refresh()

    def _current(self) -> tuple[list[Layer], list]:
        """Layers with the switched-off ones emptied: same positions, same labels."""
        layers = [
            layer if t.value else Layer(name=layer.name)
            for layer, t in zip(self._layers, self.toggles, strict=True)
        ]
        rows = [
            row if t.value else replace(row, off=True)
            for row, t in zip(self._rows, self.toggles, strict=True)
        ]
        return layers, rows

    def view(self) -> UnionView:
        """The union of the layers that are switched on."""
        return UnionView(self._current()[0])

    def refresh(self) -> None:
        """Redraw the picture, the merged view and the selected path's history."""
        layers, rows = self._current()
        container = self._container
        facts = build_facts(
            layers,
            rows,
            max_paths=self._max_paths,
            copied=copied_up(container) if container else set(),
            mounts=BIND_MOUNTED if container else (),
        )
        self.picture.value = stack_figure(facts, legend=False).to_html()
        nodes = [n for n in UnionView(layers).walk() if n.path != "/"]
        table = [
            [n.path, entry_label(n.entry), rows[n.layer].short if n.layer >= 0 else _("root")]
            for n in nodes
        ]
        if container:
            table = [
                [p, _("bind mount (the container's own file)"), _("mount")]
                if p in container.mounts
                else [p, e, w]
                for p, e, w in table
            ]
        self.merged.value = _table(
            [_("path"), _("entry"), _("from")], table, "layerlab-merged-table"
        )
        self.show_path()

    def _filter(self) -> None:
        needle = self.path_filter.value.strip()
        matches = [p for p in self._all_paths if needle in p]
        self.paths.options = matches[:LIST_LIMIT]

    def show_path(self) -> None:
        """Show every version of the selected path and the diffs between them."""
        path = self.paths.value
        if path is None:
            self.history.value = _("<p><em>pick a path to see its history</em></p>")
            self.diff.value = ""
            return
        layers, rows = self._current()
        history = UnionView(layers).history(path)
        names = [row.short for row in rows]
        table = [
            [
                rows[v.layer].title,
                entry_label(v.entry),
                v.fate + (_(" by {layer}").format(layer=names[v.by]) if v.by is not None else ""),
            ]
            for v in reversed(history.versions)
        ]
        status = _("visible") if history.visible else _("not visible")
        self.history.value = f"<p><b>{esc(path)}</b>: {status}</p>" + _table(
            [_("layer"), _("version"), _("fate")], table, "layerlab-history"
        )
        self.diff.value = diff_html(history_diffs(path, history.versions, names))

    def __repr__(self) -> str:
        on = sum(t.value for t in self.toggles)
        return (
            f"<StackExplorer: {on} of {len(self.toggles)} layers on, {len(self._all_paths)} paths>"
        )


class CowPlayer(widgets.VBox):
    """Step through a container's log; step 0 is the fresh container.

    Parts: `slider` (IntSlider, layerlab-step-slider), `play` (Play, layerlab-step-play),
    `command` (layerlab-step-command), `copyups` (layerlab-step-copyups), `notes`
    (layerlab-step-notes), `rw` (the rw layer at that step, layerlab-rw-layer) and
    `picture` (layerlab-stack-picture).
    """

    def __init__(self, container: Container, *, interval_ms: int = 1500) -> None:
        self._container = container
        last = len(container.log)
        self.slider = widgets.IntSlider(value=0, min=0, max=last, description=_("step"))
        self.slider.add_class("layerlab-step-slider")
        self.play = widgets.Play(value=0, min=0, max=last, interval=interval_ms)
        self.play.add_class("layerlab-step-play")
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.command = _html("layerlab-step-command")
        self.copyups = _html("layerlab-step-copyups")
        self.notes = _html("layerlab-step-notes")
        self.rw = _html("layerlab-rw-layer")
        self.picture = _html("layerlab-stack-picture")
        self.slider.observe(lambda _: self.show(), names="value")
        super().__init__(
            [
                widgets.HBox([self.play, self.slider]),
                self.command,
                self.copyups,
                self.notes,
                widgets.HTML(_("<b>rw layer</b>")),
                self.rw,
                self.picture,
            ]
        )
        self.add_class("layerlab-cow-player")
        self.show()

    def show(self) -> None:
        """Show the step the slider points at."""
        n = self.slider.value
        step = self._container.log[n - 1] if n else None
        command = step.command if step else _("(fresh container: nothing done yet)")
        self.command.value = _("<p><b>step {n}</b>: <code>{command}</code></p>").format(
            n=n, command=esc(one_line(command))
        )
        copies = step.copied_up if step else ()
        self.copyups.value = (
            _("<p>copied up: {paths}</p>").format(
                paths=", ".join(f"<code>{esc(p)}</code>" for p in copies)
            )
            if copies
            else _("<p>copied up: nothing</p>")
        )
        notes = step.notes if step else ()
        self.notes.value = "".join(f"<p>{esc(note)}</p>" for note in notes)
        rw = step.rw if step else self._container.fresh_rw
        rows = [[p, entry_label(e)] for p, e in rw.items() if p != "/"]
        self.rw.value = (
            _table([_("path"), _("entry")], rows, "layerlab-rw-table")
            if rows
            else _("<p><em>the rw layer is empty</em></p>")
        )
        self.picture.value = frame(self._container, n).to_html()

    def __repr__(self) -> str:
        return (
            f"<CowPlayer: container {self._container.name}, step {self.slider.value} of "
            f"{len(self._container.log)}>"
        )


class ImageCompare(widgets.VBox):
    """Two images: shared layers (same chain ID), the rest, and their file differences.

    Parts: `shared` (layerlab-shared-layers), `only_a` (layerlab-only-a), `only_b`
    (layerlab-only-b), `files` (layerlab-file-changes), `paths` (Select of changed paths,
    layerlab-path-select), `diff` (layerlab-path-diff), `picture` (layerlab-graph-picture).
    """

    def __init__(self, a: Image, b: Image, *, names: tuple[str, str] = ("A", "B")) -> None:
        self._a, self._b, self._names = a, b, names
        self._views = (a.view(), b.view())
        common = 0
        while (
            common < min(len(a.chain_ids), len(b.chain_ids))
            and a.chain_ids[common] == b.chain_ids[common]
        ):
            common += 1  # chain IDs name whole prefixes, so sharing is always a prefix
        self.common = common
        self.shared = _html("layerlab-shared-layers")
        self.only_a = _html("layerlab-only-a")
        self.only_b = _html("layerlab-only-b")
        self.files = _html("layerlab-file-changes")
        self.diff = _html("layerlab-path-diff")
        self.picture = _html("layerlab-graph-picture")
        self.changes = self._changes()
        self.paths = widgets.Select(
            options=[p for p, _ in self.changes][:LIST_LIMIT], rows=8, value=None
        )
        self.paths.add_class("layerlab-path-select")
        self.paths.observe(lambda _: self.show_path(), names="value")
        self.shared.value = self._layers(a, 0, common, _("shared by both (same chain ID)"))
        only_in = _("only in {image}")
        self.only_a.value = self._layers(a, common, len(a.layers), only_in.format(image=names[0]))
        self.only_b.value = self._layers(b, common, len(b.layers), only_in.format(image=names[1]))
        self.files.value = _table(
            [_("path"), f"{names[0]} -> {names[1]}"],
            [[p, what] for p, what in self.changes],
            "layerlab-files-table",
        )
        self.picture.value = graph(a, b, names=names).to_html()
        super().__init__(
            [
                self.picture,
                self.shared,
                widgets.HBox([self.only_a, self.only_b]),
                widgets.HTML(_("<b>files that differ</b>")),
                self.files,
                widgets.HBox([self.paths, self.diff]),
            ]
        )
        self.add_class("layerlab-image-compare")
        self.show_path()

    def _layers(self, image: Image, start: int, stop: int, title: str) -> str:
        rows = [
            [
                f"L{i}",
                short_id(image.chain_ids[i]),
                short_id(image.diff_ids[i]),
                image.layers[i].layer.created_by,
            ]
            for i in range(start, stop)
        ]
        body = (
            _table(
                [_("layer"), _("chain ID"), _("diff ID"), _("created by")], rows, "layerlab-layers"
            )
            if rows
            else _("<p><em>none</em></p>")
        )
        return f"<p><b>{esc(title)}</b></p>{body}"

    def _changes(self) -> list[tuple[str, str]]:
        """Paths whose merged-view entry differs: added, removed or changed."""
        va, vb = ({n.path: n.entry for n in v.walk() if n.path != "/"} for v in self._views)
        out = []
        for path in sorted(va.keys() | vb.keys()):
            old, new = va.get(path), vb.get(path)
            if old == new:
                continue
            kind = _("added") if old is None else _("removed") if new is None else _("changed")
            out.append((path, f"{kind}: {entry_label(old)} -> {entry_label(new)}"))
        return out

    def show_path(self) -> None:
        """The diff of the selected path between the two merged views."""
        path = self.paths.value
        if path is None:
            self.diff.value = _("<p><em>pick a path to compare its contents</em></p>")
            return
        old, new = (getattr(v.lookup(path), "entry", None) for v in self._views)
        a, b = self._names
        self.diff.value = diff_html([version_diff(old, new, f"{path} ({a})", f"{path} ({b})")])

    def __repr__(self) -> str:
        return (
            f"<ImageCompare: {self.common} shared layers, {len(self._a.layers) - self.common}"
            f" only in {self._names[0]}, {len(self._b.layers) - self.common} only in "
            f"{self._names[1]}, {len(self.changes)} paths differ>"
        )
