"""The changeset between two directory trees: what `docker diff` and `layerlab diff` compute.

Given snapshots OLD and NEW (plain trees read with `read_layer_dir(..., None)`), build the
layer that turns OLD into NEW when applied on top of it:

* a path only in OLD becomes a whiteout (one for a whole deleted subtree);
* a path only in NEW, or whose type changed, is added with its whole subtree: applying a
  non-directory over anything replaces it, and a new directory over a file replaces it;
* a directory in both is merged: its entry is emitted when its metadata changed or when
  something below it changed (as Docker does), and its children are compared one by one;
* a non-directory in both is emitted when its content, metadata, target or hardlink
  partners changed. Hardlink groups are emitted whole, so the links survive.

Opaque directories are an optimisation here, never a necessity: a directory in both trees
whose old children are *all* gone (none of its old names survive) and that had at least
two of them is emitted as opaque, which replaces N whiteouts by one marker. Any other
case uses whiteouts, which are easier to read in a notebook.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict

from ..entries import Dir, Entry, Hardlink, OpaqueDir, Whiteout, ancestors
from ..layer import Layer

__all__ = ["diff_trees"]


class _Tree:
    """A snapshot with children lists and hardlink groups resolved."""

    def __init__(self, layer: Layer) -> None:
        self.entries = dict(layer.items())
        self.children: dict[str, list[str]] = defaultdict(list)
        self.group: dict[str, tuple[str, ...]] = {}
        groups: dict[str, list[str]] = defaultdict(list)
        for path, entry in self.entries.items():
            if path != "/":
                self.children[posixpath.dirname(path)].append(posixpath.basename(path))
            if isinstance(entry, Hardlink):
                groups[entry.target].append(path)
        for first, others in groups.items():
            members = tuple(sorted([first, *others]))
            for member in members:
                self.group[member] = members

    def resolved(self, path: str) -> Entry:
        entry = self.entries[path]
        return self.entries[entry.target] if isinstance(entry, Hardlink) else entry


def diff_trees(old: Layer, new: Layer) -> Layer:
    """The changeset that turns the tree `old` into the tree `new` (see the module doc)."""
    a, b = _Tree(old), _Tree(new)
    out: dict[str, Entry] = {}

    # Work items instead of recursion: a tree may be thousands of levels deep.
    todo: list[tuple[str, str]] = [("merge", "/")]

    def add_subtree(path: str) -> None:
        stack = [path]
        while stack:
            current = stack.pop()
            out[current] = b.entries[current]
            stack.extend(posixpath.join(current, n) for n in b.children.get(current, ()))

    def merge_dir(path: str) -> None:
        old_names, new_names = set(a.children.get(path, ())), set(b.children.get(path, ()))
        if path != "/" and len(old_names) >= 2 and old_names.isdisjoint(new_names):
            out[path] = OpaqueDir(b.entries[path].meta)
            for name in new_names:
                add_subtree(posixpath.join(path, name))
            return
        for name in sorted(old_names - new_names):
            out[posixpath.join(path, name)] = Whiteout()
        for name in sorted(new_names, reverse=True):
            child = posixpath.join(path, name)
            if name not in old_names:
                add_subtree(child)
            else:
                todo.append(("compare", child))

    def compare(path: str) -> None:
        before, after = a.entries[path], b.entries[path]
        if isinstance(before, Dir) and isinstance(after, Dir):
            if before.meta != after.meta:
                out[path] = after
            todo.append(("merge", path))
        elif isinstance(before, Dir) or isinstance(after, Dir):
            add_subtree(path)
        elif a.resolved(path) != b.resolved(path) or a.group.get(path) != b.group.get(path):
            out[path] = after

    if "/" in a.entries and "/" in b.entries and a.entries["/"].meta != b.entries["/"].meta:
        out["/"] = b.entries["/"]
    while todo:
        step, path = todo.pop()
        if step == "merge":
            merge_dir(path)
        else:
            compare(path)
    # A hardlink group is emitted whole, so the applied tree links the same names.
    for path in [p for p in out if p in b.group]:
        for member in b.group[path]:
            out[member] = b.entries[member]
    # Every parent of a change is emitted too, as Docker does: an extractor creates a
    # parent the layer does not list as a fresh 0755 root dir, and overlayfs would show
    # that instead of the real one.
    for path in list(out):
        for parent in ancestors(path):
            out.setdefault(parent, b.entries[parent])
    return Layer(out)
