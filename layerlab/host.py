"""What this Python runs on: a process of a Linux user, or a web page (JupyterLite).

In JupyterLite the kernel is Pyodide, a Python compiled to WebAssembly running in the
page's web worker. It has no users, no other processes and no kernel to ask: its `os` has
no `geteuid`, and JupyterLite's kernel puts an empty module in the place of `fcntl`. The
few places that ask who we are, or lock a file against another process, ask here, so
that the same code runs in both worlds without patching the standard library.
"""

from __future__ import annotations

import os
import sys

__all__ = ["IN_BROWSER", "euid", "egid", "can_lock"]

#: True inside Pyodide (JupyterLite), where there is no `dot`, no subprocess and no kernel.
IN_BROWSER = sys.platform == "emscripten"


def euid() -> int:
    """The effective user ID, which picks a lab's root or rootless path. A page's Python
    answers `getuid()` with 0; its probe turns every live path off anyway."""
    return os.getuid() if IN_BROWSER else os.geteuid()


def egid() -> int:
    """The effective group ID (see `euid`)."""
    return os.getgid() if IN_BROWSER else os.getegid()


def can_lock() -> bool:
    """Whether `fcntl.flock` can keep another process off a file: only where there can be
    other processes. A web page runs one Python, and its kernel empties `fcntl`."""
    return not IN_BROWSER
