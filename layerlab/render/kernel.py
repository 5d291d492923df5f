"""Kernel objects as pictures: processes in namespaces, and the cgroup tree with its limits.

These pictures take small data classes of their own (`Process`, `CgroupNode`) instead of
the live labs' results, for two reasons: a notebook can draw a hand-made example with no
kernel at all, and a live result carries volatile facts (PIDs, namespace inode numbers,
random cgroup names) that must never reach a committed notebook output. The adapters
`processes_from_links` and `cgroup_from_snapshot` turn `layerlab.live` results into them,
keeping only stable facts. They read attributes by name and import nothing from `live`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .figure import Figure, new_graph
from .style import (
    COLOURS,
    Box,
    box,
    dot_label,
    dot_table,
    html_table,
    human_bytes,
    plural,
    text_table,
)

__all__ = [
    "Process",
    "CgroupNode",
    "namespaces",
    "cgroups",
    "processes_from_links",
    "cgroup_from_snapshot",
]

#: Fills for namespaces other than the host's, assigned in sorted label order.
NAMESPACE_FILLS = ("#c8e6c9", "#bbdefb", "#ffe0b2", "#e1bee7", "#fff9c4", "#b2dfdb")
HOST = "host"


@dataclass(frozen=True)
class Process:
    """A process, its parent, and which namespace of each kind it is in.

    `namespaces` maps a kind ("pid", "net", "mnt", "uts", "ipc", "user", "cgroup") to a
    label the lesson chooses, such as "host" or "container": never an inode number.
    """

    name: str
    parent: str | None = None
    namespaces: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CgroupNode:
    """One cgroup's limits and usage; None means "no limit" or "not reported".

    `path` is the cgroup's place in the tree ("/", "/layerlab", "/layerlab/demo"); parents
    missing from a list are drawn as empty nodes, so a single cgroup still shows its place.
    """

    path: str
    processes: int = 0
    memory_current: int | None = None
    memory_max: int | None = None
    pids_current: int | None = None
    pids_max: int | None = None
    cpu_quota_us: int | None = None
    cpu_period_us: int | None = None
    nr_periods: int | None = None
    nr_throttled: int | None = None
    oom_kills: int | None = None
    pids_refused: int | None = None


def processes_from_links(
    result: Any, *, outside: str = "notebook (host)", inside: str = "child in new namespaces"
) -> list[Process]:
    """Two processes from a `live.namespaces.NamespaceLinks` result (its `differs` dict)."""
    differs: Mapping[str, bool] = result.differs
    return [
        Process(outside, None, dict.fromkeys(sorted(differs), HOST)),
        Process(inside, outside, {k: "new" if differs[k] else HOST for k in sorted(differs)}),
    ]


def cgroup_from_snapshot(snapshot: Any, path: str = "/layerlab/demo") -> CgroupNode:
    """A `CgroupNode` from a `live.kernel.cgroupfs.CgroupSnapshot`; `path` replaces its
    random name."""
    names = [f for f in CgroupNode.__dataclass_fields__ if f != "path"]
    return CgroupNode(path, **{n: getattr(snapshot, n) for n in names if hasattr(snapshot, n)})


# -- namespaces ------------------------------------------------------------------------------
def _fills(processes: Sequence[Process]) -> dict[str, str]:
    labels = sorted({label for p in processes for label in p.namespaces.values()} - {HOST})
    fills = {HOST: COLOURS["hidden"]}
    fills.update(
        {label: NAMESPACE_FILLS[i % len(NAMESPACE_FILLS)] for i, label in enumerate(labels)}
    )
    return fills


def namespaces(processes: Sequence[Process], *, group_by: str = "pid") -> Figure:
    """A process tree; each process shows its namespace of every kind, one colour per
    namespace, and processes are boxed by their namespace of kind `group_by`."""
    kinds = sorted({k for p in processes for k in p.namespaces})
    fills = _fills(processes)
    ids = {p.name: f"proc{i}" for i, p in enumerate(processes)}

    def badges(p: Process) -> list[Box]:
        return [
            box(
                f"{k}: {p.namespaces.get(k, '?')}",
                fill=fills.get(p.namespaces.get(k, ""), COLOURS["absent"]),
            )
            for k in kinds
        ]

    graph = new_graph(
        "namespaces", label=dot_label(f"processes, boxed by {group_by} namespace"), labelloc="t"
    )
    groups = sorted({p.namespaces.get(group_by, "?") for p in processes})
    for n, group in enumerate(groups):
        with graph.subgraph(name=f"cluster_{n}") as cluster:
            cluster.attr(
                label=dot_label(f"{group_by} namespace: {group}"),
                style="rounded,filled",
                fillcolor=fills.get(group, COLOURS["absent"]),
            )
            for p in processes:
                if p.namespaces.get(group_by, "?") == group:
                    rows = [[box(p.name, bold=True, colspan=max(len(kinds), 1))], badges(p)]
                    cluster.node(ids[p.name], label=dot_table(rows), shape="plaintext")
    for p in processes:
        if p.parent in ids:
            graph.edge(ids[p.parent], ids[p.name], label="fork")

    table = [["process", "parent", *kinds]]
    table += [
        [p.name, p.parent or "-", *(p.namespaces.get(k, "?") for k in kinds)] for p in processes
    ]
    grid = [
        [box(c, fill=fills.get(c, COLOURS["header"] if r == 0 else COLOURS["absent"])) for c in row]
        for r, row in enumerate(table)
    ]
    own = sorted({k for p in processes for k, v in p.namespaces.items() if v != HOST})
    summary = (
        f"{plural(len(processes), 'process', 'processes')} in {len(groups)} {group_by} namespace"
        f"{'s' if len(groups) != 1 else ''}; not the host's: {', '.join(own) or 'none'}"
    )
    return Figure(
        "namespaces",
        graph,
        summary=summary,
        text="\n".join([summary, "", text_table(table)]),
        html=html_table(
            grid, title="processes and their namespaces", css="layerlab-namespaces-table"
        ),
    )


# -- cgroups ---------------------------------------------------------------------------------
def _bar(current: int | None, limit: int | None, width: int = 10) -> str:
    if current is None or not limit:
        return ""
    filled = min(width, round(width * current / limit))
    return "█" * filled + "░" * (width - filled) + f" {100 * current / limit:.0f}%"


def _resources(node: CgroupNode) -> list[tuple[str, str, str]]:
    """(resource, "usage / limit", bar) rows; only what the kernel reported."""

    def show(value: int | None, unit: str) -> str:
        if value is None:
            return "max"
        return human_bytes(value) if unit == "bytes" else str(value)

    rows = []
    if node.memory_current is not None or node.memory_max is not None:
        used = show(node.memory_current, "bytes") if node.memory_current is not None else "?"
        rows.append(
            (
                "memory",
                f"{used} / {show(node.memory_max, 'bytes')}",
                _bar(node.memory_current, node.memory_max),
            )
        )
    if node.pids_current is not None or node.pids_max is not None:
        used = str(node.pids_current) if node.pids_current is not None else "?"
        rows.append(
            (
                "pids",
                f"{used} / {show(node.pids_max, 'count')}",
                _bar(node.pids_current, node.pids_max),
            )
        )
    if node.cpu_quota_us is not None or node.nr_periods is not None:
        share = (
            f"{node.cpu_quota_us / node.cpu_period_us:.2f} CPU"
            if node.cpu_quota_us is not None and node.cpu_period_us
            else "max"
        )
        throttled = (
            f"throttled in {node.nr_throttled} of {node.nr_periods} periods"
            if node.nr_periods is not None
            else ""
        )
        rows.append(("cpu", f"limit {share}", throttled))
    events = [
        (label, value)
        for label, value in (("OOM kills", node.oom_kills), ("forks refused", node.pids_refused))
        if value
    ]
    rows += [(label, str(value), "!") for label, value in events]
    return rows


def _tree(nodes: Sequence[CgroupNode]) -> list[CgroupNode]:
    """Every node plus empty parents, sorted by path so parents come first."""
    known = {posixpath.normpath(n.path): n for n in nodes}
    for path in list(known):
        while path != "/":
            path = posixpath.dirname(path)
            known.setdefault(path, CgroupNode(path))
    return [known[p] for p in sorted(known)]


def cgroups(nodes: Sequence[CgroupNode]) -> Figure:
    """A cgroup tree; each cgroup shows its limits, its usage as a bar, and its events."""
    tree = _tree(nodes)
    ids = {n.path: f"cg{i}" for i, n in enumerate(tree)}
    graph = new_graph("cgroups", label="cgroup tree: limits and usage", labelloc="t")
    table = [["cgroup", "resource", "usage / limit", ""]]
    for node in tree:
        resources = _resources(node)
        count = f"{node.processes} process{'es' if node.processes != 1 else ''}"
        rows = [[box(node.path, count, bold=True, colspan=3)]]
        for name, numbers, extra in resources:
            hot = extra == "!" or extra.endswith("100%")
            fill = COLOURS["whiteout"] if hot else COLOURS["absent"]
            rows.append(
                [
                    box(name, fill=fill, align="left"),
                    box(numbers, fill=fill),
                    box(extra if extra != "!" else "event", fill=fill, align="left"),
                ]
            )
            table.append([node.path, name, numbers, extra])
        if not resources:
            table.append([node.path, "-", "no limits", ""])
        graph.node(ids[node.path], label=dot_table(rows), shape="plaintext")
        if node.path != "/":
            graph.edge(ids[posixpath.dirname(node.path)], ids[node.path])
    limited = [n.path for n in tree if n.memory_max or n.pids_max or n.cpu_quota_us]
    summary = f"{plural(len(tree), 'cgroup')}; limited: {', '.join(limited) or 'none'}"
    grid = [
        [box(c, fill=COLOURS["header"] if r == 0 else COLOURS["absent"], align="left") for c in row]
        for r, row in enumerate(table)
    ]
    return Figure(
        "cgroups",
        graph,
        summary=summary,
        text="\n".join([summary, "", text_table(table)]),
        html=html_table(grid, title="cgroup tree", css="layerlab-cgroups-table"),
    )
