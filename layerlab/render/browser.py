"""The last rendering step in a browser: Graphviz compiled to WebAssembly instead of `dot`.

In JupyterLite the kernel is Pyodide, a Python in the page's web worker, which cannot
start programs, so `graphviz.Digraph.pipe` (it runs `dot`) cannot work there. The course
site serves `@hpcc-js/wasm-graphviz` from npm beside the Pyodide runtime; this module
loads it into the worker and lays out the very same DOT source with it. Everything before
the last step (the DOT a renderer writes) stays the same in every world.

Loading WebAssembly is asynchronous, but a figure's `_repr_mimebundle_` and a widget's
click handler are plain functions. So loading starts in the background as soon as
layerlab is imported (the first cell of every notebook), and a figure asked for before it
has finished waits for it with Pyodide's `run_sync` where the browser can do that (JSPI);
otherwise it shows its table and says to run the cell again.
"""

from __future__ import annotations

from typing import Any

from .. import host
from ..i18n import _

__all__ = ["IN_BROWSER", "BUNDLE", "start_loading", "pipe"]

#: True inside Pyodide (JupyterLite), where there is no `dot` and no subprocess.
IN_BROWSER = host.IN_BROWSER

#: The npm bundle's file name; the site build puts it beside `pyodide-lock.json`.
BUNDLE = "wasm-graphviz.js"

_loading: Any = None  # the asyncio task loading the JS Graphviz, once started
_engine: Any = None  # the loaded Graphviz object (a JsProxy)
_failure: str | None = None  # why loading failed, for the figure's one-line problem


def start_loading() -> None:
    """Begin loading the WebAssembly Graphviz in the background (once, browser only)."""
    global _loading
    if IN_BROWSER and _loading is None:
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # imported outside a cell: Pyodide's default loop is the page's
            loop = asyncio.get_event_loop()
        _loading = loop.create_task(_load())


async def _load() -> None:
    global _engine, _failure
    try:
        import pyodide_js  # type: ignore[import-not-found]  # Pyodide's own JS API
        from pyodide.code import run_js  # type: ignore[import-not-found]

        base = pyodide_js.lockfileBaseUrl or "."
        url = run_js(f"new URL({_js_string(BUNDLE)}, new URL({_js_string(base)}, location.href))")
        module = await run_js(f"import({_js_string(str(url))})")
        _engine = await module.Graphviz.load()
    except Exception as error:  # any failure becomes the figure's problem line
        _failure = _("the browser's Graphviz could not be loaded ({error})").format(
            error=f"{type(error).__name__}: {error}"
        )


def _js_string(text: str) -> str:
    import json

    return json.dumps(text)


def _wait_for_engine() -> None:
    """Block until loading finished, where the browser allows a Python call to block."""
    if _engine is not None or _failure is not None or _loading is None or _loading.done():
        return
    try:
        from pyodide.ffi import can_run_sync, run_sync  # type: ignore[import-not-found]
    except ImportError:
        return
    if can_run_sync():
        run_sync(_loading)


def pipe(source: str, fmt: str) -> tuple[bytes | None, str | None]:
    """Lay out DOT `source` as `fmt` with the WebAssembly Graphviz: (data, None) or
    (None, why not) in one line a learner can act on."""
    if fmt != "svg":
        return None, _("in the browser, Graphviz draws SVG only; save as .svg, not .{fmt}").format(
            fmt=fmt
        )
    start_loading()
    _wait_for_engine()
    if _engine is None:
        if _failure is not None:
            return None, _failure
        return None, _("the browser's Graphviz is still loading; run this cell again in a moment")
    try:
        svg = _engine.layout(source, "svg", "dot")
    except Exception as error:  # a JS exception: bad DOT or out of memory
        return None, _("Graphviz could not draw this: ") + " ".join(str(error).split())
    return str(svg).encode("utf-8"), None
