"""The union view: what a process sees when the layers are stacked, and why.

`UnionView` applies layers bottom to top with the rules of the OCI layer spec and the
kernel's overlayfs (see the course notebooks 04 and 05):

* a whiteout deletes the path and its subtree from the layers below;
* an opaque directory hides every lower child, never its own layer's children;
* a directory over a directory merges the children and takes the upper metadata;
* any other pair replaces the lower path, subtree and all;
* a parent a layer needs but does not list is created in that layer as a root-owned
  0755 directory.

Where the references disagree we pick what a *container* sees, that is overlayfs over
Docker's per-layer storage, rather than a flattening extractor such as umoci:

* when a layer adds `/lib/foo` and a lower `/lib` is a symlink, the layer gets a real
  `/lib` directory (umoci writes through the link into `/usr/lib`);
* when a layer adds `/d/new` without an entry for `/d`, Docker's extractor creates `/d` in
  that layer's own directory, so the merged `/d` takes that 0755 root metadata (umoci
  keeps the lower directory's).

Beside the merged tree the view answers *why*: `history()` gives every version of a path
and what ended it, `trace()` replays the kernel's top-down lookup.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .entries import (
    Dir,
    Entry,
    Hardlink,
    Meta,
    OpaqueDir,
    Whiteout,
    ancestors,
    describe,
    normpath,
)
from .layer import Layer
from .pathwalk import walk

__all__ = ["UnionView", "Node", "Version", "PathHistory", "TraceStep"]

ROOT_DIR = Dir(Meta(mode=0o755))


@dataclass(frozen=True)
class Node:
    """A visible path: its entry, the layer that provides it, and an inode number.

    Names that share `inode` are hardlinks of one file. Inode numbers are small, stable
    integers that only mean something inside one view.
    """

    path: str
    entry: Entry
    layer: int
    inode: int

    @property
    def kind(self) -> str:
        return self.entry.kind

    def __str__(self) -> str:
        return f"{self.path}  ({describe(self.entry)}, from layer {self.layer})"


@dataclass(frozen=True)
class Version:
    """One layer's version of a path and its fate in the merged view.

    `fate` is one of "visible", "shadowed" (a higher layer replaced it), "merged" (a higher
    directory took over its metadata, children still merge), "whited out", "hidden by
    opaque dir", "replaced with parent", or "whiteout" for the marker itself.
    `by` is the layer that decided the fate.
    """

    layer: int
    entry: Entry
    fate: str
    by: int | None = None


@dataclass(frozen=True)
class PathHistory:
    """Every version of one path across the stack, bottom layer first."""

    path: str
    versions: tuple[Version, ...]
    provider: int | None

    @property
    def visible(self) -> bool:
        return self.provider is not None

    def __str__(self) -> str:
        lines = [f"history of {self.path}:"]
        for v in self.versions:
            by = f" by layer {v.by}" if v.by is not None else ""
            lines.append(f"  layer {v.layer}: {describe(v.entry):<28} {v.fate}{by}")
        return "\n".join(lines)


@dataclass(frozen=True)
class TraceStep:
    """One step of a top-down lookup: which layer was asked and what it answered.

    `outcome` is "miss" (keep looking lower), "found", "whiteout" (stop: deleted),
    "opaque" (stop: a parent is opaque here, lower layers are never asked) or
    "blocked" (stop: a parent here is not a directory).
    """

    layer: int
    outcome: str
    detail: str


class _Tree:
    """Mutable node of the merged tree while the view is being built."""

    __slots__ = ("entry", "layer", "inode", "children")

    def __init__(self, entry: Entry, layer: int, inode: int) -> None:
        self.entry = entry
        self.layer = layer
        self.inode = inode
        self.children: dict[str, _Tree] | None = {} if isinstance(entry, Dir) else None


class UnionView:
    """The merged, read-only view of a stack of layers (bottom layer first)."""

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers: list[Layer] = list(layers)
        self._next_inode = 1
        self._root = _Tree(ROOT_DIR, -1, self._inode())
        self._implied: dict[int, frozenset[str]] = {}
        for index, layer in enumerate(self.layers):
            self._apply(index, layer)

    # -- building -----------------------------------------------------------------------
    def _inode(self) -> int:
        self._next_inode += 1
        return self._next_inode - 1

    def _apply(self, index: int, layer: Layer) -> None:
        items = layer.items()
        markers, links, others = [], [], []
        for item in items:
            entry = item[1]
            if isinstance(entry, Whiteout):
                markers.append(item)
            elif isinstance(entry, Hardlink):
                links.append(item)
            else:
                if isinstance(entry, OpaqueDir):
                    markers.append(item)
                others.append(item)
        # A hardlink may name a lower file this very layer whites out; flattening keeps
        # that file's data, so remember the targets before anything is removed.
        before = {e.target: self._find(normpath(e.target)) for _, e in links}
        # Whiteouts and opaque markers act on lower layers only, so they go first:
        # their position in the tar never matters (OCI layer spec).
        for path, entry in markers:
            if isinstance(entry, Whiteout):
                self._parent(path, index, layer)  # the layer holds its whiteouts in real dirs
                self._remove(path)
            else:
                node = self._find(path)
                if node is not None and node.children is not None:
                    node.children = {}
        # Entries come sorted, so a directory's entry precedes everything below it and the
        # parent found for one name stays right for its siblings: look each one up once.
        parents: dict[str, _Tree] = {}
        for path, entry in others:
            if path == "/":
                self._root.entry, self._root.layer = entry, index
                continue
            head, _, name = path.rpartition("/")
            node = parents.get(head)
            if node is None:
                node = parents[head] = self._parent(path, index, layer)
            self._put_in(node, name, entry, index)
        # Hardlinks last: their target may be a later entry of the same layer.
        pending = links
        while pending:
            unresolved = []
            for path, link in pending:
                target = self._find(normpath(link.target)) or before[link.target]
                if target is None:
                    unresolved.append((path, link))
                elif target.children is not None:
                    raise ValueError(f"{path}: hardlink to directory {link.target}")
                else:
                    self._put(path, target.entry, index, layer, inode=target.inode)
            if len(unresolved) == len(pending):
                path, link = unresolved[0]
                raise ValueError(
                    f"{path}: hardlink target {link.target} exists in neither this layer "
                    "nor a lower one"
                )
            pending = unresolved

    def _find(self, path: str) -> _Tree | None:
        node = self._root
        for name in path.strip("/").split("/"):
            if not name:
                continue
            if node.children is None or name not in node.children:
                return None
            node = node.children[name]
        return node

    def _remove(self, path: str) -> None:
        parent = self._find(posixpath.dirname(path))
        if parent is not None and parent.children is not None:
            parent.children.pop(posixpath.basename(path), None)

    def _put(
        self, path: str, entry: Entry, index: int, layer: Layer, inode: int | None = None
    ) -> None:
        node = self._parent(path, index, layer)
        self._put_in(node, path.rpartition("/")[2], entry, index, inode)

    def _put_in(
        self, node: _Tree, name: str, entry: Entry, index: int, inode: int | None = None
    ) -> None:
        children = node.children
        assert children is not None
        existing = children.get(name)
        if existing is not None and existing.children is not None and isinstance(entry, Dir):
            existing.entry, existing.layer = entry, index
            return
        children[name] = _Tree(entry, index, self._inode() if inode is None else inode)

    def _parent(self, path: str, index: int, layer: Layer) -> _Tree:
        """The directory that holds `path` in this layer, made real where it must be."""
        *dirs, _ = path.strip("/").split("/")
        listed = layer.by_path
        node = self._root
        prefix = ""
        for part in dirs:
            prefix = f"{prefix}/{part}"
            assert node.children is not None
            child = node.children.get(part)
            if child is None or child.children is None:
                # Missing parent, or a non-directory (even a symlink) in the way:
                # per-layer storage makes it a real directory.
                child = _Tree(ROOT_DIR, index, self._inode())
                node.children[part] = child
            elif child.layer != index and prefix not in listed:
                # The layer's own directory for an unlisted parent is a fresh 0755 one,
                # and the upper directory's metadata is what overlayfs shows.
                child.entry, child.layer = ROOT_DIR, index
            node = child
        return node

    # -- questions ----------------------------------------------------------------------
    def lookup(self, path: str) -> Node | None:
        """The visible entry at `path`, without following symlinks; None if absent."""
        path = normpath(path)
        node = self._find(path)
        return None if node is None else Node(path, node.entry, node.layer, node.inode)

    def exists(self, path: str) -> bool:
        return self.lookup(path) is not None

    def stat(self, path: str) -> Entry:
        """Like lstat(2): the entry itself, FileNotFoundError if the union has no such path."""
        node = self.lookup(path)
        if node is None:
            raise FileNotFoundError(f"{normpath(path)}: no such file or directory in the union")
        return node.entry

    def resolve(self, path: str) -> str:
        """Follow symlinks inside the view, like the kernel does inside a container's root."""
        return walk(path, lambda p: getattr(self.lookup(p), "entry", None))

    def read(self, path: str) -> bytes:
        """The bytes a process gets from `cat path` in the container (symlinks followed)."""
        entry = self.stat(self.resolve(path))
        if isinstance(entry, Dir):
            raise IsADirectoryError(f"{normpath(path)}: is a directory")
        content = getattr(entry, "content", None)
        if content is None:
            raise OSError(f"{normpath(path)}: a {entry.kind} has no contents to read")
        return content.read()

    def readdir(self, path: str = "/") -> list[str]:
        """Merged directory listing, sorted; whiteouts and opaque markers never appear."""
        node = self._find(normpath(path))
        if node is None:
            raise FileNotFoundError(f"{normpath(path)}: no such directory in the union")
        if node.children is None:
            raise NotADirectoryError(f"{normpath(path)}: not a directory")
        return sorted(node.children)

    def walk(self, top: str = "/") -> Iterator[Node]:
        """Every visible path under `top` (itself included), parents before children."""
        top = normpath(top)
        start = self._find(top)
        if start is None:
            return
        stack = [(top, start)]
        while stack:
            path, node = stack.pop()
            yield Node(path, node.entry, node.layer, node.inode)
            if node.children:
                prefix = "" if path == "/" else path
                stack.extend(
                    (f"{prefix}/{name}", node.children[name])
                    for name in sorted(node.children, reverse=True)
                )

    def paths(self) -> list[str]:
        """All visible paths except "/", sorted."""
        return [n.path for n in self.walk() if n.path != "/"]

    def __len__(self) -> int:
        return len(self.paths())

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.exists(path)

    # -- provenance ---------------------------------------------------------------------
    def _implied_dirs(self, index: int) -> frozenset[str]:
        """Directories a layer creates implicitly because it has entries below them."""
        if index not in self._implied:
            layer = self.layers[index]
            self._implied[index] = frozenset(a for p in layer for a in ancestors(p))
        return self._implied[index]

    def _ended_by_ancestor(self, layer: Layer, path: str) -> str | None:
        """How an entry at a parent path in `layer` ends lower versions of `path`, if it does."""
        for parent in ancestors(path):
            entry = layer.get(parent)
            if isinstance(entry, Whiteout):
                return "whited out"
            if isinstance(entry, OpaqueDir):
                return "hidden by opaque dir"
            if entry is not None and not isinstance(entry, Dir):
                return "replaced with parent"
        return None

    def history(self, path: str) -> PathHistory:
        """Every layer's version of `path`, bottom first, with the fate of each."""
        path = normpath(path)
        versions: list[Version] = []
        current: int | None = None  # index into versions of the live version

        def end(fate: str, by: int) -> None:
            nonlocal current
            if current is not None:
                versions[current] = Version(
                    versions[current].layer, versions[current].entry, fate, by
                )
                current = None

        for index, layer in enumerate(self.layers):
            ended = self._ended_by_ancestor(layer, path)
            if ended:
                end(ended, index)
            entry = layer.get(path)
            if isinstance(entry, Whiteout):
                end("whited out", index)
                versions.append(Version(index, entry, "whiteout"))
            elif entry is not None:
                previous = versions[current].entry if current is not None else None
                both_dirs = isinstance(entry, Dir) and isinstance(previous, Dir)
                end("merged" if both_dirs else "shadowed", index)
                versions.append(Version(index, entry, "live"))
                current = len(versions) - 1
            elif path in self._implied_dirs(index):
                previous = versions[current].entry if current is not None else None
                end("merged" if isinstance(previous, Dir) else "replaced with parent", index)
                versions.append(Version(index, ROOT_DIR, "live"))
                current = len(versions) - 1
        node = self.lookup(path)
        if current is not None and node is not None:
            v = versions[current]
            versions[current] = Version(v.layer, v.entry, "visible")
        return PathHistory(path, tuple(versions), node.layer if node else None)

    def trace(self, path: str) -> list[TraceStep]:
        """Replay the kernel's lookup of `path`: ask each layer from the top down."""
        path = normpath(path)
        steps: list[TraceStep] = []
        for index in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[index]
            entry = layer.get(path)
            if isinstance(entry, Whiteout):
                steps.append(TraceStep(index, "whiteout", f"whiteout for {path}: not found"))
                return steps
            if entry is not None or path in self._implied_dirs(index):
                what = describe(entry) if entry is not None else "dir (implied parent)"
                steps.append(TraceStep(index, "found", what))
                return steps
            for parent in ancestors(path):
                above = layer.get(parent)
                if isinstance(above, Whiteout):
                    steps.append(TraceStep(index, "whiteout", f"{parent} is whited out here"))
                    return steps
                if isinstance(above, OpaqueDir):
                    steps.append(
                        TraceStep(
                            index, "opaque", f"{parent} is opaque here: lower layers not asked"
                        )
                    )
                    return steps
                if above is not None and not isinstance(above, Dir):
                    steps.append(TraceStep(index, "blocked", f"{parent} is a {above.kind} here"))
                    return steps
            steps.append(TraceStep(index, "miss", "no entry"))
        return steps

    def __repr__(self) -> str:
        return f"<UnionView: {len(self.layers)} layers, {len(self)} visible paths>"
