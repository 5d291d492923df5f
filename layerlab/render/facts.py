"""The facts a stack picture shows: each path's version in each layer, and what became of it.

The stack diagram, the copy-on-write timeline, the terminal tree and the layer explorer all
draw the same facts, so they are gathered once, here, from the core model's own answers
(`UnionView.history` and `lookup`). Nothing is re-derived, so a picture cannot disagree
with the model it shows. Renderers only read: no layer, view or container is ever changed.

Big images have thousands of paths; a stack picture shows at most `max_paths` of them,
preferring the ones that teach something (whiteouts, opaque dirs, copy-ups, the init layer,
paths several layers touch). `summary.py` is the picture for the whole image.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..container import Container
from ..entries import Dir, Entry, OpaqueDir, Whiteout, is_under, normpath, parent_of
from ..i18n import _, ngettext
from ..image import Image
from ..layer import Layer
from ..union import UnionView
from .style import short_id

__all__ = [
    "LayerRow",
    "Cell",
    "Column",
    "StackFacts",
    "Stackable",
    "stack_facts",
    "step_facts",
    "build_facts",
    "layer_rows",
    "copied_up",
]

#: Anything with layers a learner may want to draw.
Stackable = Container | Image | UnionView | Sequence[Layer]

DEFAULT_MAX_PATHS = 40


@dataclass(frozen=True)
class LayerRow:
    """One layer of the stack as the pictures label it."""

    index: int
    role: str  # "image", "init", "rw", or "layer" for bare layer lists
    name: str
    created_by: str = ""
    diff_id: str | None = None
    #: Switched off in the explorer: drawn, but empty.
    off: bool = False

    @property
    def short(self) -> str:
        """The name used in "shadowed by ..." notes: L0, L1, ..., init, rw."""
        return self.role if self.role in ("init", "rw") else f"L{self.index}"

    @property
    def title(self) -> str:
        if self.role == "init":
            return f"init  {self.name}"
        if self.role == "rw":
            return _("rw  (container layer)")
        return f"L{self.index}  {short_id(self.diff_id) if self.diff_id else self.name}"

    @property
    def note(self) -> str:
        if self.off:
            return _("switched off")
        if self.role == "init":
            return _("Docker's -init layer: never committed")
        if self.role == "rw":
            return _("read-write: what {command} captures").format(
                command=self.created_by or "docker commit"
            )
        return self.created_by


@dataclass(frozen=True)
class Cell:
    """One layer's version of a path: the entry, its fate, who decided it, and marks."""

    layer: int
    entry: Entry
    fate: str
    by: int | None
    marks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Column:
    """Everything about one path: its versions bottom first, and what the container sees."""

    path: str
    cells: tuple[Cell, ...]
    visible: Entry | None
    provider: int | None
    #: "bind mount" when the engine mounts the container's own file over this path.
    mount: str | None = None

    def cell(self, layer: int) -> Cell | None:
        return next((c for c in self.cells if c.layer == layer), None)


@dataclass(frozen=True)
class StackFacts:
    """The rows (layers, bottom first) and columns (paths) of one stack picture."""

    rows: tuple[LayerRow, ...]
    columns: tuple[Column, ...]
    omitted: int = 0
    step: str = ""
    counts: Counter[str] = field(default_factory=Counter)

    def describe_rows(self) -> str:
        """ "2 image layers + init + rw": how the stack is made, in one phrase."""
        images = sum(1 for r in self.rows if r.role in ("image", "layer"))
        if any(r.role == "image" for r in self.rows):
            layers = ngettext("{count} image layer", "{count} image layers", images)
        else:
            layers = ngettext("{count} layer", "{count} layers", images)
        parts = [layers.format(count=images)]
        parts += [r.role for r in self.rows if r.role in ("init", "rw")]
        return " + ".join(parts)

    def summary(self) -> str:
        """One stable sentence: the text/plain that notebooks commit."""
        c = self.counts
        counted = {
            "whiteout": ngettext("{count} whiteout", "{count} whiteouts", c["whiteout"]),
            "opaque dir": ngettext("{count} opaque dir", "{count} opaque dirs", c["opaque dir"]),
            "copy-up": ngettext("{count} copy-up", "{count} copy-ups", c["copy-up"]),
        }
        marks = ", ".join(counted[k].format(count=c[k]) for k in counted if c[k])
        more = _(" (+{count} more not shown)").format(count=self.omitted) if self.omitted else ""
        n = len(self.columns)
        paths = ngettext("{count} path", "{count} paths", n).format(count=n) + more
        return f"{self.describe_rows()}, {paths}" + (f"; {marks}" if marks else "")


def layer_rows(source: Stackable) -> tuple[list[Layer], list[LayerRow]]:
    """The layers of any stackable thing, bottom first, with their labels."""
    if isinstance(source, Container):
        refs = source.image.layers if source.image is not None else []
        rows = [
            LayerRow(
                i,
                "image" if refs else "layer",
                layer.name,
                layer.created_by,
                refs[i].diff_id if refs else None,
            )
            for i, layer in enumerate(source.image_layers)
        ]
        n = len(rows)
        if source.init is not None:
            rows.append(LayerRow(n, "init", source.init.name))
        rows.append(LayerRow(len(rows), "rw", "rw", f"{source.engine} commit"))
        return source.layers, rows
    if isinstance(source, Image):
        rows = [
            LayerRow(i, "image", ref.layer.name, ref.layer.created_by, ref.diff_id)
            for i, ref in enumerate(source.layers)
        ]
        return source.model_layers(), rows
    layers = list(source.layers if isinstance(source, UnionView) else source)
    return layers, [
        LayerRow(i, "layer", layer.name or f"layer {i}", layer.created_by)
        for i, layer in enumerate(layers)
    ]


def copied_up(container: Container) -> set[str]:
    """Paths whose rw entry is (still) a copy of a lower version.

    A later write or chmod keeps it a copy-up; deleting the path, or creating something of
    another kind there (rm, then mkdir), makes the rw entry new, no longer a copy.
    """
    copies: set[str] = set()
    before = Layer()
    for step in container.log:
        for path in set(before.paths()) | set(step.rw.paths()):
            old, new = before.get(path), step.rw.get(path)
            if (
                path not in step.copied_up
                and old is not None
                and (new is None or type(new) is not type(old))
            ):
                copies.discard(path)
        copies |= set(step.copied_up)
        before = step.rw
    rw = container.rw
    return {p for p in copies if p in rw and not isinstance(rw[p], Whiteout)}


def _choose(
    layers: Sequence[Layer], marked: set[str], special: set[str], under: str, max_paths: int
) -> tuple[list[str], int]:
    """The paths worth a column: skip plain parent dirs, prefer special and busy paths.

    A directory that only merges (never opaque, whited out or copied up) and has children
    among the columns says nothing its children do not, so it gets no column of its own.
    """
    counts = Counter(p for layer in layers for p in layer if p != "/" and is_under(p, under))
    parents = {parent_of(p) for p in counts}

    def plain_parent(path: str) -> bool:
        if path not in parents or path in marked:
            return False  # cheap tests first: most paths are files, not parents
        entries = (layer.get(path) for layer in layers)
        return all(e is None or (isinstance(e, Dir) and not e.opaque) for e in entries)

    keep = [p for p in sorted(counts) if not plain_parent(p)]
    if len(keep) <= max_paths:
        return keep, 0
    ranked = sorted(keep, key=lambda p: (-(10 * (p in special) + counts[p]), p))
    return sorted(ranked[:max_paths]), len(keep) - max_paths


def _marks(
    row: LayerRow, layer: Layer, path: str, entry: Entry, copied: set[str], bound: Iterable[str]
) -> tuple[str, ...]:
    marks = []
    if path not in layer:
        marks.append("implied parent")
    if row.role == "rw" and path in copied:
        marks.append("copy-up")
    if row.role in ("init", "rw") and path in bound:
        marks.append("bind-mounted")  # Podman's placeholders sit in the rw layer
    if row.role == "init":
        marks.append("never committed")
    return tuple(marks)


def build_facts(
    layers: Sequence[Layer],
    rows: Sequence[LayerRow],
    *,
    copied: set[str] = frozenset(),  # type: ignore[assignment]
    mounts: Iterable[str] = (),
    paths: Iterable[str] | None = None,
    under: str = "/",
    max_paths: int = DEFAULT_MAX_PATHS,
    step: str = "",
) -> StackFacts:
    """Facts for an explicit list of layers and rows (used for timeline steps too)."""
    view = UnionView(layers)
    bound = set(mounts)
    if paths is not None:
        chosen, omitted = sorted({normpath(p) for p in paths}), 0
    else:
        marked = set(copied) | {p for layer in layers for p in layer.whiteouts}
        marked |= {p for layer in layers for p in layer.opaque_dirs}
        special = marked | {
            p
            for row, layer in zip(rows, layers, strict=True)
            if row.role in ("init", "rw")
            for p in layer
        }
        chosen, omitted = _choose(layers, marked, special, normpath(under), max_paths)
    counts: Counter[str] = Counter()
    columns = []
    for path in chosen:
        history = view.history(path)
        cells = tuple(
            Cell(
                v.layer,
                v.entry,
                v.fate,
                v.by,
                _marks(rows[v.layer], layers[v.layer], path, v.entry, copied, bound),
            )
            for v in history.versions
        )
        for c in cells:
            counts.update(["whiteout"] if isinstance(c.entry, Whiteout) else [])
            counts.update(["opaque dir"] if isinstance(c.entry, OpaqueDir) else [])
            counts.update(["copy-up"] if "copy-up" in c.marks else [])
        node = view.lookup(path)
        columns.append(
            Column(
                path,
                cells,
                node.entry if node else None,
                node.layer if node else None,
                "bind mount" if path in bound else None,
            )
        )
    return StackFacts(tuple(rows), tuple(columns), omitted, step, counts)


def stack_facts(
    source: Stackable,
    *,
    paths: Iterable[str] | None = None,
    under: str = "/",
    max_paths: int = DEFAULT_MAX_PATHS,
) -> StackFacts:
    """Facts for a Container, Image, UnionView or list of layers (bottom first)."""
    layers, rows = layer_rows(source)
    if isinstance(source, Container):
        return build_facts(
            layers,
            rows,
            copied=copied_up(source),
            mounts=tuple(source.mounts),
            paths=paths,
            under=under,
            max_paths=max_paths,
        )
    return build_facts(layers, rows, paths=paths, under=under, max_paths=max_paths)


def step_facts(
    container: Container,
    number: int,
    *,
    paths: Iterable[str] | None = None,
    max_paths: int = DEFAULT_MAX_PATHS,
) -> StackFacts:
    """Facts for the container as it was after step `number` of its log (0 = fresh)."""
    if not 0 <= number <= len(container.log):
        raise ValueError(
            f"step {number} does not exist: the log has steps 1 to "
            f"{len(container.log)} (0 is the fresh container)"
        )
    layers, rows = layer_rows(container)
    step = container.log[number - 1] if number else None
    rw = step.rw if step is not None else container.fresh_rw
    title = (
        _("step {n}: {command}").format(n=number, command=step.command)
        if step is not None
        else _("step 0: fresh container")
    )
    return build_facts(
        [*layers[:-1], rw],
        rows,
        copied=set(step.copied_up) if step else set(),
        mounts=tuple(container.mounts),
        paths=paths,
        max_paths=max_paths,
        step=title,
    )
