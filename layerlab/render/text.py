"""Terminal renderings: the same facts as the pictures, as trees of plain text.

`layerlab render IMAGE --text` prints these, and every Figure's `str()` is one, so a
learner in a terminal, a log file or a notebook without Graphviz reads the same story:
the merged view first, then each layer from the top down as a directory tree, with the
fate of every version written out in words.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from ..entries import Whiteout
from ..i18n import _
from .facts import Cell, Column, LayerRow, StackFacts
from .style import STRUCK_FATES, entry_label

__all__ = ["tree_lines", "stack_tree", "cell_text"]

#: Labels wider than this are not padded further, so deep paths do not push text away.
MAX_LABEL = 44


def tree_lines(items: Mapping[str, str], *, indent: str = "  ") -> list[str]:
    """Draw paths as a tree (├──, └──) with each path's text beside it.

    Parents that have no text of their own still appear, so the tree is always whole.
    """
    root: dict[str, dict] = {}
    for path in sorted(items):
        node = root
        for part in path.strip("/").split("/"):
            node = node.setdefault(part, {})
    rows: list[tuple[str, str]] = []

    def walk(node: dict[str, dict], prefix: str, base: str) -> None:
        names = sorted(node)
        for i, name in enumerate(names):
            last = i == len(names) - 1
            full = f"{base}/{name}"
            rows.append((f"{prefix}{'└── ' if last else '├── '}{name}", items.get(full, "")))
            walk(node[name], prefix + ("    " if last else "│   "), full)

    walk(root, indent, "")
    width = min(max((len(label) for label, _ in rows), default=0), MAX_LABEL)
    return [f"{label:<{width}}  {text}".rstrip() for label, text in rows]


def cell_text(cell: Cell, rows: tuple[LayerRow, ...], path: str) -> str:
    """One version in words: what it is, what became of it, and its marks."""
    if isinstance(cell.entry, Whiteout):
        return _("✗ WHITEOUT (.wh.{name}): deletes lower versions").format(
            name=posixpath.basename(path)
        )
    by = _(" by {layer}").format(layer=rows[cell.by].short) if cell.by is not None else ""
    fate = _(cell.fate) if cell.fate == "visible" else f"{_(cell.fate)}{by}"
    if cell.fate in STRUCK_FATES:
        fate = _("DELETED: {fate}").format(fate=fate)
    marks = "".join(f", {_(m)}" for m in cell.marks)
    return f"{entry_label(cell.entry)}  [{fate}{marks}]"


def _merged_text(column: Column, rows: tuple[LayerRow, ...]) -> str:
    if column.mount:
        return _("bind mount (the container's own file)")
    if column.visible is None or column.provider is None:
        return _("- (not visible)")
    provider = rows[column.provider].short if column.provider >= 0 else _("root")
    return _("{entry}  [from {layer}]").format(entry=entry_label(column.visible), layer=provider)


def stack_tree(facts: StackFacts, *, title: bool = True) -> str:
    """The stack as text: merged view, then each layer top down as a tree."""
    lines = [facts.step or _("stack: {layers}").format(layers=facts.summary()), ""] if title else []
    lines.append(_("merged view: what the container sees"))
    lines += tree_lines({c.path: _merged_text(c, facts.rows) for c in facts.columns})
    for row in reversed(facts.rows):
        note = f"  -- {row.note}" if row.note else ""
        lines += ["", f"{row.title}{note}"]
        held = {
            c.path: cell_text(cell, facts.rows, c.path)
            for c in facts.columns
            if (cell := c.cell(row.index)) is not None
        }
        lines += tree_lines(held) if held else [_("  (nothing among the paths shown)")]
    if facts.omitted:
        more = _("{count} more paths not shown: see layerlab.render.summary()")
        lines += ["", more.format(count=facts.omitted)]
    return "\n".join(lines)
