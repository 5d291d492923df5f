"""Serve build/site the way any static host would: plain files over HTTP on 127.0.0.1.

The course site (`make site`, web/build.py) must work from a dumb file server, so the
tests use the standard library's, in a thread, with only the MIME types a static host
sends for these files (module scripts and WebAssembly are refused by the browser under a
wrong type). `StaticSite` also speaks the small part of lab_server.LabServer that the
lab_page helpers use, so the same helpers drive JupyterLite's UI.
"""

from __future__ import annotations

import functools
import http.server
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".whl": "application/zip",
    ".ipynb": "application/json",
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def log_message(self, format: str, *args) -> None:  # noqa: A002  # the base's name
        """Keep the test output clean; failures show in the browser's view instead."""


@dataclass
class StaticSite:
    root: Path
    server: http.server.ThreadingHTTPServer

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def url(self, path: str) -> str:
        return self.base + path

    def lab_url(self, notebook: str) -> str:
        """The page the book's JupyterLite button opens for `notebook`."""
        return self.url(f"lite/lab/index.html?path={quote(notebook)}")

    def kernel_states(self) -> list[str]:
        """No server owns the kernels (they run in the page), so nothing to add here."""
        return []


def serve(root: Path) -> StaticSite:
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="static-site").start()
    return StaticSite(root, server)


def stop(site: StaticSite) -> None:
    site.server.shutdown()
    site.server.server_close()
