"""Pictures of layers, unions, images and kernel objects: Graphviz, HTML, text and widgets.

Every renderer returns a `Figure`: a notebook shows it as SVG (with a stable one-line
`text/plain`), `print()` gives the terminal tree, `.dot` the byte-stable DOT source, and
`.save("x.svg" | "x.png" | "x.dot")` writes a file. Without Graphviz's `dot` program a
figure shows an HTML table and says how to install Graphviz; it never raises.

    stack(x)            layers bottom to top, each path's versions, the merged view on top
    lookup(x, path)     one path resolved top-down, stopping where a layer answers
    graph(*images)      images and containers sharing layers, by chain ID, and commits
    namespaces(procs)   a process tree with each process's namespaces
    cgroups(nodes)      a cgroup tree with limits and usage
    timeline(c)         a container's operation log as small stack pictures
    summary(x)          any image, however big: per-layer changes and wasted bytes

`x` is a Container, an Image, a UnionView or a list of Layers (bottom first). The
interactive explorers (`StackExplorer`, `CowPlayer`, `ImageCompare`) load ipywidgets only
when first used, so `layerlab render` in a terminal stays quick.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from .facts import DEFAULT_MAX_PATHS, Stackable, layer_rows
from .figure import INSTALL_HINT, Figure, RenderError, dot_available
from .graph import graph
from .kernel import (
    CgroupNode,
    Process,
    cgroup_from_snapshot,
    cgroups,
    namespaces,
    processes_from_links,
)
from .lookup import lookup
from .stack import stack
from .summary import summarize, summary
from .timeline import frame, timeline

__all__ = [
    "INSTALL_HINT",
    "CgroupNode",
    "CowPlayer",
    "Figure",
    "ImageCompare",
    "Process",
    "RenderError",
    "StackExplorer",
    "cgroup_from_snapshot",
    "cgroups",
    "cli_render",
    "dot_available",
    "frame",
    "graph",
    "lookup",
    "namespaces",
    "overview",
    "processes_from_links",
    "stack",
    "summarize",
    "summary",
    "timeline",
]

_WIDGETS = ("StackExplorer", "CowPlayer", "ImageCompare")


def __getattr__(name: str) -> Any:
    if name in _WIDGETS:
        return getattr(importlib.import_module(".widgets", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def overview(source: Stackable) -> Figure:
    """The best single picture of a stack: the full stack diagram while every path fits,
    the summary once the image is too big to draw path by path."""
    layers, _ = layer_rows(source)
    paths = {p for layer in layers for p in layer if p != "/"}
    return stack(source) if len(paths) <= DEFAULT_MAX_PATHS else summary(source)


def cli_render(image: Stackable, out: str | os.PathLike[str] | None, text: bool) -> None:
    """What `layerlab render IMAGE` does: print the text tree and/or write .svg/.png/.dot.

    Raises `RenderError` with a one-line message (print it after "layerlab: error: ");
    a file is written completely or not at all, and an existing one is never replaced
    (as `layerlab diff -o` never replaces one).
    """
    if out is None and not text:
        raise RenderError("nothing to do: give -o FILE (.svg, .png or .dot) or --text")
    if out is not None and os.path.lexists(out):
        raise RenderError(f"{out} already exists; remove it or choose another name")
    figure = overview(image)
    if out is not None:
        figure.save(out, replace=False)
    if text:
        print(figure.text)
