"""The stack diagram: layers bottom to top, one column per path, the merged view on top.

Reading a column upward replays the union: the lowest version first, each later layer
shadowing, merging, whiting out or hiding it, and the top row showing what a process in
the container finally sees. Whiteouts are red and cross out what they delete; opaque
directories are purple and cross out the lower children they hide; copy-ups are orange;
the `-init` layer is blue and says it is never committed, and the files Docker bind-mounts
over it say so. Every colour is repeated as a word, for readers who do not see colour.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from ..entries import OpaqueDir, Whiteout
from ..i18n import _
from .facts import DEFAULT_MAX_PATHS, Cell, Column, LayerRow, Stackable, StackFacts, stack_facts
from .figure import Figure, new_graph
from .style import COLOURS, STRUCK_FATES, Box, box, dot_label, dot_table, entry_label, html_table

__all__ = ["stack", "stack_figure", "stack_grid", "legend_grid", "cell_box", "merged_box"]


def cell_box(cell: Cell | None, path: str, rows: tuple[LayerRow, ...]) -> Box:
    """How one layer's version of a path is drawn."""
    if cell is None:
        return box("")
    lines = [entry_label(cell.entry)]
    by = _(" by {layer}").format(layer=rows[cell.by].short) if cell.by is not None else ""
    if isinstance(cell.entry, Whiteout):
        marker = f"(.wh.{posixpath.basename(path)})"
        return box(
            _("✗ WHITEOUT"),
            marker,
            _("deletes lower versions"),
            fill=COLOURS["whiteout"],
            bold=True,
        )
    fill = COLOURS["visible"] if cell.fate == "visible" else COLOURS["hidden"]
    if isinstance(cell.entry, OpaqueDir):
        fill = COLOURS["opaque"]
        lines.append(_("hides lower children"))
    if "copy-up" in cell.marks:
        fill = COLOURS["copy-up"]
    elif "never committed" in cell.marks:
        fill = COLOURS["init"]
    lines += [_(m) for m in cell.marks if m != "never committed"]
    lines += _fate_line(cell, by)
    return box(
        *lines,
        fill=fill,
        bold=cell.fate == "visible",
        strike=cell.fate in STRUCK_FATES,
        faint=cell.fate != "visible",
    )


def _fate_line(cell: Cell, by: str) -> list[str]:
    return [_(cell.fate) if cell.fate == "visible" else f"{_(cell.fate)}{by}"]


def merged_box(column: Column, rows: tuple[LayerRow, ...]) -> Box:
    if column.mount:
        return box(
            _("bind mount"), _("(the container's own file)"), fill=COLOURS["init"], bold=True
        )
    if column.visible is None or column.provider is None:
        return box("-", _("not visible"), faint=True)
    provider = rows[column.provider].short if column.provider >= 0 else _("root")
    return box(
        entry_label(column.visible),
        _("from {layer}").format(layer=provider),
        fill=COLOURS["merged"],
        bold=True,
    )


def stack_grid(facts: StackFacts) -> list[list[Box]]:
    """The table: a header of paths, the merged view, then layers from the top down."""
    header = [box(_("layer"), fill=COLOURS["header"], bold=True)]
    header += [box(c.path, fill=COLOURS["header"], bold=True) for c in facts.columns]
    merged = [
        box(_("merged view"), _("what the container sees"), fill=COLOURS["merged"], bold=True)
    ]
    merged += [merged_box(c, facts.rows) for c in facts.columns]
    grid = [header, merged]
    for row in reversed(facts.rows):
        fill = COLOURS["init"] if row.role == "init" else COLOURS["header"]
        label = box(row.title, *(row.note and [_clip_note(row.note)]), fill=fill, align="left")
        grid.append(
            [label] + [cell_box(c.cell(row.index), c.path, facts.rows) for c in facts.columns]
        )
    return grid


def _clip_note(note: str, width: int = 40) -> str:
    return note if len(note) <= width else note[: width - 1] + "…"


def legend_grid() -> list[list[Box]]:
    """What the colours and crossings mean, drawn with the same boxes."""
    return [
        [
            box(_("visible"), fill=COLOURS["visible"], bold=True),
            box(_("shadowed"), faint=True, fill=COLOURS["hidden"]),
            box(_("deleted"), strike=True, faint=True, fill=COLOURS["hidden"]),
            box(_("✗ WHITEOUT"), fill=COLOURS["whiteout"], bold=True),
            box(_("OPAQUE dir"), fill=COLOURS["opaque"]),
            box(_("copy-up"), fill=COLOURS["copy-up"]),
            box(_("init: never committed"), fill=COLOURS["init"]),
        ]
    ]


def stack_figure(facts: StackFacts, *, name: str = "stack", legend: bool = True) -> Figure:
    """Draw already-gathered facts (the timeline and explorer reuse this)."""
    from .text import stack_tree

    title = facts.step or _("stack: {layers}").format(layers=facts.describe_rows())
    graph = new_graph(name, label=dot_label(title), labelloc="t")
    graph.node("stack", label=dot_table(stack_grid(facts)), shape="plaintext")
    html = html_table(stack_grid(facts), title=title, css="layerlab-stack-table")
    if legend:
        legend_title = _("legend")
        graph.node("legend", label=dot_table(legend_grid(), title=legend_title), shape="plaintext")
        graph.edge("stack", "legend", style="invis")
        html += html_table(legend_grid(), title=legend_title, css="layerlab-legend")
    if facts.omitted:
        note = _("{count} more paths not shown: see layerlab.render.summary()").format(
            count=facts.omitted
        )
        graph.node("more", label=dot_label(note), shape="note")
        graph.edge("legend" if legend else "stack", "more", style="invis")
        html += f"<p>{note}</p>"
    return Figure(
        "stack diagram", graph, summary=facts.summary(), text=stack_tree(facts), html=html
    )


def stack(
    source: Stackable,
    *,
    paths: Iterable[str] | None = None,
    under: str = "/",
    max_paths: int = DEFAULT_MAX_PATHS,
    legend: bool = True,
) -> Figure:
    """Draw a Container, Image, UnionView or layer list as a stack diagram.

    `paths` picks the columns; otherwise the paths under `under` that teach the most,
    at most `max_paths` of them.
    """
    facts = stack_facts(source, paths=paths, under=under, max_paths=max_paths)
    return stack_figure(facts, legend=legend)
