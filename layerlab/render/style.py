"""One palette, one way to escape, one table shape: what every picture shares.

The pictures and their fallbacks are built from the same `Box` grid, so a table drawn by
Graphviz and the HTML table shown when Graphviz is missing always say the same thing.
Colours encode one meaning each across the whole course (green = what the container sees,
red = a whiteout, purple = an opaque directory, orange = a copy-up, blue = the init layer),
and every colour is doubled by a word, because colour alone does not reach every reader.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from ..entries import (
    Device,
    Dir,
    Entry,
    File,
    Hardlink,
    OpaqueDir,
    Symlink,
    Whiteout,
)
from ..i18n import N_, _

#: Meaning -> colour. Light fills keep black text readable in print and on screens.
COLOURS: dict[str, str] = {
    "visible": "#c8e6c9",  # the version the container sees
    "hidden": "#eeeeee",  # shadowed, merged, or deleted from below
    "whiteout": "#ffcdd2",  # a deletion marker
    "opaque": "#e1bee7",  # an opaque directory
    "copy-up": "#ffe0b2",  # copied up from a lower layer
    "init": "#bbdefb",  # Docker's -init layer
    "header": "#f5f5f5",
    "merged": "#a5d6a7",
    "absent": "#ffffff",
    "warning": "#fff3e0",
}
INK = "#212121"
FAINT = "#757575"
FONT = "Helvetica"

#: Fates (from `UnionView.history`) that mean the data is gone from the merged view.
STRUCK_FATES = ("whited out", "hidden by opaque dir", "replaced with parent")
#: The union model's fates and the facts' marks are keys in code and words on the page:
#: marked here for the catalog, translated with `_` only where they are shown.
SHOWN_WORDS = (
    N_("visible"),
    N_("shadowed"),
    N_("merged"),
    N_("whited out"),
    N_("hidden by opaque dir"),
    N_("replaced with parent"),
    N_("whiteout"),
    N_("not visible"),
    N_("implied parent"),
    N_("copy-up"),
    N_("bind-mounted"),
    N_("never committed"),
    N_("opaque dir"),
    # the kinds of entry (entries.py), for the lookup's answer
    N_("entry"),
    N_("file"),
    N_("dir"),
    N_("symlink"),
    N_("hardlink"),
    N_("device"),
    N_("fifo"),
)


def esc(text: object) -> str:
    """Escape text for Graphviz HTML-like labels and for HTML alike."""
    return html.escape(str(text), quote=True)


def short_id(digest: str | None, length: int = 12) -> str:
    """`sha256:abcdef...` -> `abcdef012345`, the 12 hex digits Docker prints."""
    if not digest:
        return "-"
    return digest.split(":", 1)[-1][:length]


def human_bytes(size: int) -> str:
    """Sizes as people read them (binary units), exact below 1 KiB."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def clip(text: str, width: int) -> str:
    """Shorten text to `width` characters, marking the cut with an ellipsis."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def preview(entry: File, width: int = 14) -> str:
    """The first bytes of a small text file, quoted; empty for binary or large files.

    Showing "v1" and "v2" in the cells is what makes shadowing obvious to a learner.
    """
    if entry.size == 0:
        return '""'
    if entry.size > 64:
        return ""
    try:
        text = entry.content.read().decode("utf-8")
    except (UnicodeDecodeError, OSError):
        return ""
    shown = text.replace("\n", "\\n")
    return '"' + clip(shown, width) + '"' if shown.isprintable() else ""


def entry_label(entry: Entry | None) -> str:
    """One short line naming an entry the way the course talks about it."""
    if entry is None:
        return "-"
    if isinstance(entry, Whiteout):
        return _("WHITEOUT")
    if isinstance(entry, OpaqueDir):
        return _("OPAQUE dir")
    if isinstance(entry, Dir):
        return _("dir")
    if isinstance(entry, File):
        shown = preview(entry)
        return _("file {size}").format(size=human_bytes(entry.size)) + (
            f" {shown}" if shown else ""
        )
    if isinstance(entry, Symlink):
        return _("symlink -> {target}").format(target=entry.target)
    if isinstance(entry, Hardlink):
        return _("hardlink -> {target}").format(target=entry.target)
    if isinstance(entry, Device):
        return _("{type}-device {major}:{minor}").format(
            type=entry.type, major=entry.major, minor=entry.minor
        )
    return _(entry.kind)


@dataclass(frozen=True)
class Box:
    """One table cell: lines of text plus how to draw them.

    `strike` crosses out the first line only (the entry that was deleted), so the
    line saying why stays readable.
    """

    lines: tuple[str, ...]
    fill: str = COLOURS["absent"]
    bold: bool = False
    strike: bool = False
    faint: bool = False
    colspan: int = 1
    align: str = "center"


def box(*lines: str, **style: object) -> Box:
    """Shorthand used by every renderer: `box("L0", "abc123", fill=...)`."""
    return Box(tuple(lines), **style)  # type: ignore[arg-type]


def _dot_text(line: str, cell: Box, first: bool) -> str:
    text = esc(line)
    if not text:
        return ""  # Graphviz rejects empty <B></B>
    if cell.strike and first:
        text = f"<S>{text}</S>"
    if cell.bold:
        text = f"<B>{text}</B>"
    if cell.faint:
        text = f'<FONT COLOR="{FAINT}">{text}</FONT>'
    return text


def plural(count: int, word: str, many: str | None = None) -> str:
    """ "1 layer", "2 layers": summaries are read aloud by screen readers too."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def one_line(text: str) -> str:
    """Newlines shown as a visible `\\n`, so a caption or a repr stays on one line."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def dot_label(*lines: str, left: bool = False) -> str:
    """A plain Graphviz label as HTML-like text, so no character of a path or a command
    (quotes, backslashes, newlines) can be read as DOT syntax."""
    brk = '<BR ALIGN="LEFT"/>' if left else "<BR/>"
    body = brk.join(esc(one_line(line)) for line in lines)
    return f"<{body}{brk if left else ''}>"


def dot_table(rows: Sequence[Sequence[Box]], *, title: str = "") -> str:
    """A Graphviz HTML-like label (with the outer `<...>`) for a grid of boxes."""
    out = ['<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">']
    if title:
        width = max((sum(c.colspan for c in row) for row in rows), default=1)
        out.append(f'<TR><TD COLSPAN="{width}" BORDER="0"><B>{esc(title)}</B></TD></TR>')
    for row in rows:
        out.append("<TR>")
        for cell in row:
            body = (
                "<BR/>".join(_dot_text(line, cell, i == 0) for i, line in enumerate(cell.lines))
                or " "
            )
            span = f' COLSPAN="{cell.colspan}"' if cell.colspan > 1 else ""
            side = cell.align.upper()
            align = "" if cell.align == "center" else f' ALIGN="{side}" BALIGN="{side}"'
            out.append(f'<TD BGCOLOR="{cell.fill}"{span}{align}>{body}</TD>')
        out.append("</TR>")
    out.append("</TABLE>>")
    return "".join(out)


def html_table(rows: Sequence[Sequence[Box]], *, title: str = "", css: str = "") -> str:
    """The same grid as a plain HTML table, for notebooks without Graphviz."""
    cls = f' class="{esc(css)}"' if css else ""
    out = [
        f'<table{cls} style="border-collapse:collapse;font-family:{FONT},sans-serif;'
        'font-size:12px">'
    ]
    if title:
        out.append(f"<caption><b>{esc(title)}</b></caption>")
    for row in rows:
        out.append("<tr>")
        for cell in row:
            style = [
                f"background:{cell.fill}",
                "border:1px solid #9e9e9e",
                "padding:3px 6px",
                f"text-align:{cell.align}",
                f"color:{FAINT if cell.faint else INK}",
            ]
            if cell.bold:
                style.append("font-weight:bold")
            span = f' colspan="{cell.colspan}"' if cell.colspan > 1 else ""
            lines = [esc(line) for line in cell.lines]
            if cell.strike and lines:
                lines[0] = f"<s>{lines[0]}</s>"
            body = "<br>".join(lines)
            out.append(f'<td{span} style="{";".join(style)}">{body}</td>')
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns for terminals; the first row is the header."""
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
