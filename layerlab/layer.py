"""A layer: one changeset, an incremental rootfs that only makes sense on top of the ones below.

A `Layer` maps model paths to entries. It says nothing of tar files or overlay directories:
`layerlab.formats` reads and writes those. What it does own are the rules that make a
changeset self-consistent, for example that a path and a whiteout for the same path cannot
both live in one layer (the OCI spec keeps the real entry, so we do too).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType

from .entries import Dir, Entry, File, OpaqueDir, Whiteout, describe, is_under, normpath

__all__ = ["Layer"]


class Layer:
    """Entries by path, with a display name (a short diff ID, "init", "rw")."""

    def __init__(
        self,
        entries: Mapping[str, Entry] | Iterable[tuple[str, Entry]] = (),
        *,
        name: str = "",
        created_by: str = "",
    ) -> None:
        self.name = name
        self.created_by = created_by
        self._entries: dict[str, Entry] = {}
        items = entries.items() if isinstance(entries, Mapping) else entries
        for path, entry in items:
            self[path] = entry

    @classmethod
    def of_canonical(
        cls, entries: dict[str, Entry], *, name: str = "", created_by: str = ""
    ) -> Layer:
        """A layer that takes over `entries`, whose paths are already canonical (`normpath`)
        and whose root, if present, is a directory: a tar reader that cleaned every name
        need not have 20,000 of them checked again."""
        layer = cls(name=name, created_by=created_by)
        layer._entries = entries
        return layer

    # -- mapping protocol -------------------------------------------------------------
    def __setitem__(self, path: str, entry: Entry) -> None:
        if not isinstance(entry, Entry):
            raise TypeError(f"{path}: expected an Entry, got {type(entry).__name__}")
        path = normpath(path)
        if path == "/" and not isinstance(entry, Dir):
            raise ValueError("the root of a layer can only be a directory")
        self._entries[path] = entry

    def __getitem__(self, path: str) -> Entry:
        return self._entries[normpath(path)]

    def __delitem__(self, path: str) -> None:
        del self._entries[normpath(path)]

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and normpath(path) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Layer):
            return NotImplemented
        return self._entries == other._entries

    @property
    def by_path(self) -> Mapping[str, Entry]:
        """The entries under their canonical paths, read-only and unsorted: for hot loops
        that already hold canonical paths and need not pay for `normpath` per question."""
        return MappingProxyType(self._entries)

    def get(self, path: str, default: Entry | None = None) -> Entry | None:
        return self._entries.get(normpath(path), default)

    def items(self) -> list[tuple[str, Entry]]:
        """Entries sorted by path, so parents always come before their children."""
        return sorted(self._entries.items())

    def paths(self) -> list[str]:
        return sorted(self._entries)

    def copy(self, *, name: str | None = None) -> Layer:
        """A snapshot; entries are immutable, so a shallow copy is a full copy."""
        new = Layer(name=self.name if name is None else name, created_by=self.created_by)
        new._entries = dict(self._entries)
        return new

    def remove_tree(self, path: str) -> list[str]:
        """Drop `path` and everything under it from this layer; returns what went."""
        path = normpath(path)
        gone = [p for p in self._entries if is_under(p, path)]
        for p in gone:
            del self._entries[p]
        return sorted(gone)

    # -- what a changeset says --------------------------------------------------------
    @property
    def whiteouts(self) -> list[str]:
        """Paths this layer deletes from the layers below."""
        return sorted(p for p, e in self._entries.items() if isinstance(e, Whiteout))

    @property
    def opaque_dirs(self) -> list[str]:
        """Directories whose lower-layer children this layer hides."""
        return sorted(p for p, e in self._entries.items() if isinstance(e, OpaqueDir))

    @property
    def size(self) -> int:
        """Bytes of file data this layer ships."""
        return sum(e.size for e in self._entries.values() if isinstance(e, File))

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<Layer{label}: {len(self)} entries, {len(self.whiteouts)} whiteouts>"

    def __str__(self) -> str:
        lines = [f"Layer {self.name or '(unnamed)'}"]
        lines += [f"  {p:<40} {describe(e)}" for p, e in self.items()]
        return "\n".join(lines)
