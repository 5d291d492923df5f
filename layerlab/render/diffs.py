"""What changed between two versions of a file: a unified diff, as `diff -u` prints it.

dive shows that a file changed but never how; learners asking "what did this layer do to
/etc/passwd?" want the lines. Text files get a unified diff; binary or huge files get one
line with their sizes, because a diff of a binary says nothing and reading a 1 GB blob to
say it would freeze the notebook.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from ..entries import Entry, File, describe
from ..i18n import _
from ..union import Version
from .style import esc

__all__ = ["version_diff", "history_diffs", "diff_html", "READ_LIMIT"]

#: Files larger than this are compared by size and digest, never read into a diff.
READ_LIMIT = 256 * 1024


def _text(entry: Entry) -> list[str] | None:
    """The lines of a small UTF-8 file, or None for anything else."""
    if not isinstance(entry, File) or entry.size > READ_LIMIT:
        return None
    try:
        return entry.content.read().decode("utf-8").splitlines(keepends=True)
    except (UnicodeDecodeError, OSError):
        return None


def _what(entry: Entry | None) -> str:
    return describe(entry) if entry is not None else _("absent")


def version_diff(old: Entry | None, new: Entry | None, old_name: str, new_name: str) -> str:
    """A unified diff between two entries, or one line saying how they differ."""
    old_lines = [] if old is None else _text(old)
    new_lines = [] if new is None else _text(new)
    if old_lines is None or new_lines is None:
        if old == new:
            return _("{old} and {new} are identical").format(old=old_name, new=new_name)
        return _("{old}: {old_kind}\n{new}: {new_kind}\n(not text: no line diff)").format(
            old=old_name, old_kind=_what(old), new=new_name, new_kind=_what(new)
        )
    lines = list(difflib.unified_diff(old_lines, new_lines, old_name, new_name))
    if not lines:
        return _("{old} and {new} have the same contents").format(old=old_name, new=new_name)
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def history_diffs(path: str, versions: Sequence[Version], names: Sequence[str]) -> list[str]:
    """Diffs between each file version of `path` and the next one up the stack."""
    files = [v for v in versions if isinstance(v.entry, File)]
    return [
        version_diff(a.entry, b.entry, f"{path} ({names[a.layer]})", f"{path} ({names[b.layer]})")
        for a, b in zip(files, files[1:], strict=False)
    ]


def diff_html(diffs: Sequence[str]) -> str:
    """Diffs as coloured <pre> blocks: red for removed lines, green for added ones."""
    if not diffs:
        return _("<p><em>no two file versions to compare</em></p>")
    blocks = []
    for diff in diffs:
        lines = []
        for line in diff.splitlines():
            colour = (
                "#c62828"
                if line.startswith("-") and not line.startswith("---")
                else "#2e7d32"
                if line.startswith("+") and not line.startswith("+++")
                else "inherit"
            )
            lines.append(f'<span style="color:{colour}">{esc(line)}</span>')
        blocks.append(
            '<pre style="margin:4px 0;padding:4px;background:#fafafa">'
            + "\n".join(lines)
            + "</pre>"
        )
    return "".join(blocks)
