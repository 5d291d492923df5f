"""The copy-on-write timeline: a container's operation log as a strip of small stack pictures.

Each `Container` operation records the shell command it stands for, what it copied up,
notes (a whiteout made, an opaque dir, a bind mount that swallowed the write) and a
snapshot of the rw layer afterwards. Drawing one small stack per step, all with the same
columns, makes the moment of each copy-up visible: the lower version stays where it was,
and a full copy appears in the rw layer, orange. Only the paths the log touches get a
column, and only the layers that hold one of them get a row, so each frame stays small.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..container import Container
from ..entries import normpath
from ..i18n import _, ngettext
from .facts import StackFacts, step_facts
from .figure import Figure, new_graph
from .stack import cell_box, merged_box
from .style import COLOURS, Box, box, dot_label, dot_table, html_table, one_line
from .text import stack_tree

__all__ = ["timeline", "frame", "touched_paths", "step_grid"]


def touched_paths(container: Container) -> list[str]:
    """Every path the log names, copies up, or leaves in some rw snapshot; sorted."""
    paths = {normpath(a) for step in container.log for a in step.args if a.startswith("/")}
    paths |= {p for step in container.log for p in step.copied_up}
    paths |= {p for step in container.log for p in step.rw if p != "/"}
    return sorted(paths)


def _changed(container: Container, number: int) -> set[str]:
    """Paths whose rw entry this step created, changed or removed."""
    if number == 0:
        return set()
    before = container.log[number - 2].rw if number > 1 else None
    after = container.log[number - 1].rw
    paths = set(after) | (set(before) if before is not None else set())
    return {p for p in paths if (before.get(p) if before is not None else None) != after.get(p)}


def step_grid(facts: StackFacts, rows: Sequence[int], changed: set[str]) -> list[list[Box]]:
    """A compact stack table: header, merged view, then only the given layer rows."""
    header = [box(_("layer"), fill=COLOURS["header"], bold=True)]
    header += [
        box(
            c.path,
            *([_("changed here")] if c.path in changed else []),
            bold=True,
            fill=COLOURS["copy-up"] if c.path in changed else COLOURS["header"],
        )
        for c in facts.columns
    ]
    merged = [box(_("merged view"), fill=COLOURS["merged"], bold=True)]
    merged += [merged_box(c, facts.rows) for c in facts.columns]
    grid = [header, merged]
    for index in sorted(rows, reverse=True):
        row = facts.rows[index]
        label = box(
            row.title,
            fill=COLOURS["init"] if row.role == "init" else COLOURS["header"],
            align="left",
        )
        grid.append([label] + [cell_box(c.cell(index), c.path, facts.rows) for c in facts.columns])
    return grid


def _step_caption(container: Container, number: int) -> list[str]:
    if number == 0:
        return [_("step 0: the fresh container (empty rw layer)")]
    step = container.log[number - 1]
    lines = [_("step {n}: {command}").format(n=number, command=step.command)]
    lines += [_("copy-up {path}").format(path=p) for p in step.copied_up] + list(step.notes)
    return [one_line(line) for line in lines]


def _frames(
    container: Container, numbers: Sequence[int], paths: Iterable[str] | None
) -> list[tuple[int, StackFacts, list[list[Box]], list[str]]]:
    """(step, facts, table, caption) per frame; every frame has the same columns and rows."""
    columns = (
        sorted({normpath(p) for p in paths}) if paths is not None else touched_paths(container)
    )
    facts = [(n, step_facts(container, n, paths=columns)) for n in numbers]
    rows = {len(container.layers) - 1}  # the rw layer, always
    rows |= {c.layer for _, f in facts for col in f.columns for c in col.cells}
    return [
        (n, f, step_grid(f, sorted(rows), _changed(container, n)), _step_caption(container, n))
        for n, f in facts
    ]


def frame(container: Container, number: int, *, paths: Iterable[str] | None = None) -> Figure:
    """One step of the timeline on its own: what the copy-on-write player shows."""
    ((n, facts, grid, caption),) = _frames(container, [number], paths)
    graph = new_graph(f"step{n}", label=dot_label(*caption, left=True), labelloc="t", labeljust="l")
    graph.node(f"step{n}", label=dot_table(grid), shape="plaintext")
    return Figure(
        "copy-on-write step",
        graph,
        summary=caption[0],
        text="\n".join([*caption, stack_tree(facts, title=False)]),
        html=html_table(grid, title=" | ".join(caption), css="layerlab-timeline-step"),
    )


def timeline(
    container: Container, *, steps: Iterable[int] | None = None, paths: Iterable[str] | None = None
) -> Figure:
    """Draw the container's log, one small stack per step (0 = before any operation)."""
    numbers = sorted(set(steps)) if steps is not None else list(range(len(container.log) + 1))
    frames = _frames(container, numbers, paths)
    graph = new_graph(
        "timeline",
        label=dot_label(
            _("copy-on-write timeline of container {name}").format(name=container.name)
        ),
        labelloc="t",
    )
    html, text = [], []
    for n, facts, grid, caption in frames:
        with graph.subgraph(name=f"cluster_step{n}") as cluster:
            cluster.attr(
                label=dot_label(*caption, left=True),
                labeljust="l",
                style="rounded",
                color="#9e9e9e",
            )
            cluster.node(f"step{n}", label=dot_table(grid), shape="plaintext")
        html.append(html_table(grid, title=" | ".join(caption), css="layerlab-timeline-step"))
        text += ["\n".join(caption), stack_tree(facts, title=False), ""]
    for a, b in zip(frames, frames[1:], strict=False):
        graph.edge(f"step{a[0]}", f"step{b[0]}")
    copies = sum(len(container.log[n - 1].copied_up) for n, *_ in frames if n)
    columns = len(frames[0][1].columns) if frames else 0
    span = (
        _("steps {first}..{last}").format(first=numbers[0], last=numbers[-1])
        if numbers
        else _("no steps")
    )
    summary = ngettext(
        "container {name}: {count} frame ({span}), {paths}, {copies}",
        "container {name}: {count} frames ({span}), {paths}, {copies}",
        len(frames),
    ).format(
        name=container.name,
        count=len(frames),
        span=span,
        paths=ngettext("{count} path", "{count} paths", columns).format(count=columns),
        copies=ngettext("{count} copy-up", "{count} copy-ups", copies).format(count=copies),
    )
    return Figure(
        "copy-on-write timeline",
        graph,
        summary=summary,
        text="\n".join([summary, "", *text]).rstrip(),
        html="".join(html),
    )
