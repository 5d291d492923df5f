"""Notebook 05's lab: what a copy-up costs, measured on a real overlay mount.

The container's layers are written as Docker's overlay2 dirs and mounted (as root, or in a
user namespace with `userxattr`). Then one byte is appended to a big file of an image layer,
and one byte to each of a few small ones, and each append is timed. The kernel must copy
the whole file into the upper dir before the first write, so the big append is slow and
the upper dir ends up holding the whole file.

Times differ from machine to machine and run to run, so the result shows only facts that
hold everywhere: how many bytes the upper dir holds after a one-byte write, and whether
the big append was slower than the fastest small one. Without a kernel that allows the
mount, the model answers the byte count, and the comparison is what Linux machines show.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import ClassVar

from .. import host
from ..container import Container
from ..entries import File
from ..i18n import N_, _
from .kernel.child import run
from .kernel.cleanup import temp_dir
from .kernel.probe import run_live
from .kernel.result import LiveResult, derived, fact, live_world
from .overlay_mount import check_rootless, mount_container

__all__ = ["CopyUpCost", "copy_up_cost"]


@dataclass(frozen=True, kw_only=True)
class CopyUpCost(LiveResult):
    """One byte appended to a big lower file, and to small ones, through overlayfs."""

    title: ClassVar[str] = N_("copy-up: one byte appended to a big file of an image layer")
    lesson: ClassVar[str] = N_(
        "The first write copies the whole file up before it writes a single byte: the cost "
        "grows with the file, not with the change."
    )
    path: str
    size: int
    file = derived(
        N_("file"),
        lambda r: _("{path} ({size} bytes in an image layer)").format(
            path=r.path, size=f"{r.size:,}"
        ),
    )
    written = derived(N_("bytes written by the process"), lambda r: 1)
    upper_size: int = fact(N_("bytes the upper dir holds for it afterwards"), show="{:,}".format)
    small_files: int
    big_was_slower: bool = fact(
        N_("slower than the same append to a small file (best of {small_files})")
    )


def _append_timed(path: str) -> float:
    start = time.perf_counter()
    with open(path, "ab") as handle:
        handle.write(b"!")
    return time.perf_counter() - start


def _measure(root: str, container: Container, big: str, small: list[str], rootless: bool) -> dict:
    """In the lab's child, in a private mount namespace: mount, append, time, look."""
    mounted = mount_container(root, container, rootless)
    small_times = [_append_timed(mounted.merged + path) for path in small]
    big_time = _append_timed(mounted.merged + big)
    upper_size = os.stat(mounted.upper + big).st_size
    return {"upper_size": upper_size, "big_was_slower": big_time > min(small_times)}


def copy_up_cost(container: Container, big: str, small: list[str]) -> CopyUpCost:
    """Append one byte to `big` and to each of `small` through a real overlay mount of
    `container` (a fresh one: its rw layer is not changed), or ask the model when the
    kernel does not allow the mount."""
    entry = container.view().stat(big)
    size = entry.size if isinstance(entry, File) else 0
    rootless = host.euid() != 0

    def live() -> CopyUpCost:
        if rootless:
            check_rootless(container)
        with temp_dir("copy-up") as root:
            got = run(_measure, root, container, big, small, rootless,
                      namespaces=["mnt"], user=rootless, timeout=60)  # fmt: skip
        return CopyUpCost(live=True, world=live_world(), path=big, size=size,
                          small_files=len(small), **got)  # fmt: skip

    def simulated(reason: str) -> CopyUpCost:
        model = Container(container.image_layers, name=container.name)
        model.append(big, b"!")
        upper = model.rw[big]
        return CopyUpCost(
            live=False, world="simulated", reason=reason, path=big, size=size,
            upper_size=upper.size if isinstance(upper, File) else 0,
            small_files=len(small), big_was_slower=True,
        )  # fmt: skip

    features = ["user_namespaces", "overlayfs_rootless"] if rootless else ["overlayfs"]
    return run_live(["mount_namespace", *features], live, simulated)
