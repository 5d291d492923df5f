"""layerlab: how containers and their images really work, one layer at a time.

The names below are what the notebooks use. They load on first use, so that
`import layerlab` stays instant even though some modules pull in graphviz or ipywidgets.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Meta": "entries",
    "Content": "entries",
    "File": "entries",
    "Dir": "entries",
    "OpaqueDir": "entries",
    "Symlink": "entries",
    "Hardlink": "entries",
    "Device": "entries",
    "Fifo": "entries",
    "Whiteout": "entries",
    "Layer": "layer",
    "UnionView": "union",
    "Overlay": "copy_on_write",
    "Container": "container",
    "Image": "image",
    "chain_ids": "image",
    "build_image": "commit",
    "build_init_layer": "initlayer",
    "INIT_PATHS": "initlayer",
    "write_changeset": "tar.write",
    "read_changeset": "tar.read",
    "layer_names": "tar.write",
    "load_image": "formats",
    "save_oci": "formats.oci",
    "ubuntu_layers": "samples",
    "ubuntu_image": "samples",
    "app_layer": "samples",
    "app_image": "samples",
    "busybox_image": "samples",
    "run": "live.runtime",
    "progress": "exercises.progress",
    "here": "live.machine",
    "set_language": "i18n",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'layerlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if sys.platform == "emscripten":  # JupyterLite: Python inside a web page (Pyodide)
    # Start loading the WebAssembly Graphviz now, so the first picture finds it ready.
    importlib.import_module(".render.browser", __name__).start_loading()
