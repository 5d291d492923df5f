"""What every renderer returns: a `Figure` that draws itself wherever it is shown.

A Figure holds the Graphviz graph (its DOT source is what tests compare, because DOT is
ours and byte-stable while SVG changes with every Graphviz release), a text rendering for
terminals and an HTML table for notebooks without Graphviz. Its `text/plain` form is one
stable sentence with no memory address, so a notebook's committed output never changes
just because it ran again; the picture itself goes out as `image/svg+xml`.

Graphviz's `dot` program is a separate install from the `graphviz` Python package, and
Binder images or fresh laptops often lack it. A figure never raises for that: it shows its
table and one line that says how to install Graphviz.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import graphviz

from ..i18n import N_, _
from ..safety import LayerlabError
from . import browser
from .style import esc, one_line

__all__ = ["Figure", "RenderError", "INSTALL_HINT", "dot_available", "new_graph"]

#: Shown instead of a picture; translated with `_` where shown.
INSTALL_HINT = N_(
    "Graphviz's `dot` program is not installed, so this is a table instead of a picture. "
    "Install it with `sudo apt-get install graphviz`, `brew install graphviz` or "
    "`conda install -c conda-forge graphviz`."
)

#: Formats `Figure.save` writes; `.dot` needs no Graphviz binary at all.
FORMATS = ("svg", "png", "dot")


class RenderError(LayerlabError):
    """A figure could not be written; the message says what to do instead.

    It is a `LayerlabError`, so `layerlab render` prints it as one line and exits 1.
    """


def dot_available() -> bool:
    """Is Graphviz's `dot` on PATH? Asked every time, so installing it mid-session works.
    In a browser (Pyodide) the WebAssembly Graphviz stands in for it (see browser.py)."""
    return browser.IN_BROWSER or shutil.which("dot") is not None


def new_graph(name: str, **graph_attr: str) -> graphviz.Digraph:
    """A Digraph with the course's fonts; every renderer starts here."""
    graph = graphviz.Digraph(name)
    graph.attr(fontname="Helvetica", fontsize="12", **graph_attr)
    graph.attr("node", fontname="Helvetica", fontsize="11")
    graph.attr("edge", fontname="Helvetica", fontsize="10")
    return graph


class Figure:
    """A rendered picture: DOT for Graphviz, text for terminals, HTML for the fallback."""

    def __init__(
        self, kind: str, graph: graphviz.Digraph, *, summary: str, text: str, html: str
    ) -> None:
        self.kind = kind
        self.graph = graph
        self.summary = one_line(summary)
        self.text = text
        self.html = html
        self._svg: str | None = None
        #: Why the last Graphviz run gave no picture (None when it did, or was not tried).
        self.problem: str | None = None

    @property
    def dot(self) -> str:
        """The DOT source: deterministic, so tests and snapshots compare it byte for byte."""
        return self.graph.source

    def pipe(self, fmt: str = "svg") -> bytes | None:
        """Run Graphviz (`dot`, or its WebAssembly build in a browser); None (never an
        exception) when it is missing or fails.

        `problem` then says why, in one line a learner can act on.
        """
        self.problem = None
        if browser.IN_BROWSER:
            data, self.problem = browser.pipe(self.dot, fmt)
            return data
        if not dot_available():
            self.problem = _(INSTALL_HINT)
            return None
        try:
            return self.graph.pipe(format=fmt, quiet=True)
        except graphviz.ExecutableNotFound:
            self.problem = _(INSTALL_HINT)
        except (graphviz.CalledProcessError, OSError) as error:
            detail = getattr(error, "stderr", b"") or str(error)
            if isinstance(detail, bytes):
                detail = detail.decode("utf-8", "replace")
            self.problem = _("Graphviz could not draw this: ") + " ".join(detail.split())
        return None

    def svg(self) -> str | None:
        """The picture as SVG text, or None without Graphviz."""
        if self._svg is None:
            data = self.pipe("svg")
            self._svg = data.decode("utf-8") if data is not None else None
        return self._svg

    @property
    def fallback_html(self) -> str:
        """The table shown instead of the picture, with the one line on installing Graphviz."""
        why = esc(self.problem or INSTALL_HINT)
        return (
            f'<div class="layerlab-fallback">{self.html}'
            f'<p class="layerlab-dot-missing"><em>{why}</em></p></div>'
        )

    def to_html(self) -> str:
        """Inline SVG when Graphviz works, else the fallback; what the widgets embed."""
        svg = self.svg()
        if svg is None:
            return self.fallback_html
        start = svg.find("<svg")
        return f'<div class="layerlab-figure">{svg[start:] if start >= 0 else svg}</div>'

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        svg = self.svg()
        if svg is None:
            return {"text/plain": repr(self), "text/html": self.fallback_html}
        return {"text/plain": repr(self), "image/svg+xml": svg}

    def save(self, path: str | os.PathLike[str], *, replace: bool = True) -> Path:
        """Write `.svg`, `.png` or `.dot`; all or nothing, never a half-written file.

        `replace=False` refuses an existing file (or symlink) of that name, also one that
        appears while drawing: what `layerlab render -o` does, like `diff -o`.
        """
        target = Path(path)
        fmt = target.suffix.lstrip(".").lower()
        if fmt not in FORMATS:
            raise RenderError(
                f"cannot write {target.name!r}: use a name ending in .svg, .png or .dot"
            )
        if fmt == "dot":
            data = self.dot.encode("utf-8")
        else:
            piped = self.pipe(fmt)
            if piped is None:
                raise RenderError(
                    f"cannot write {target.name}: {self.problem} "
                    "Or write a .dot file, or use --text."
                )
            data = piped
        _write_atomically(target, data, replace)
        return target

    def __repr__(self) -> str:
        return f"<{self.kind}: {self.summary}>"

    def __str__(self) -> str:
        return self.text


def _write_atomically(target: Path, data: bytes, replace: bool = True) -> None:
    """Write beside the target and rename (or link, which never replaces), so a crash
    leaves the old file or nothing."""
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise RenderError(f"cannot write {target}: directory {directory} does not exist")
    if len(os.fsencode(target.name)) > 255:
        raise RenderError(f"cannot write {target.name[:40]}...: a file name has at most 255 bytes")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:64]}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        if replace:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise RenderError(
                    f"{target} already exists; remove it or choose another name"
                ) from None
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process umask (reading it means setting it; put it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
