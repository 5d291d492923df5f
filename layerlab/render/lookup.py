"""The lookup trace: how the kernel finds one path, asking the layers from the top down.

overlayfs never merges whole trees up front. For each lookup it asks the top layer, then
the next one down, and stops at the first layer that answers: with an entry (found), a
whiteout (deleted: lower layers are never asked), an opaque parent (lower children hidden)
or a parent that is not a directory. The picture shows every layer it asked, where it
stopped, and greys out the layers it never had to ask, which is why a whiteout costs
nothing at lookup time. For a container, Docker's bind mounts sit above the union: a
lookup of /etc/hosts is answered by the mount table before any layer is asked.
"""

from __future__ import annotations

from ..container import Container
from ..entries import normpath
from ..i18n import N_, _
from ..union import TraceStep, UnionView
from .facts import LayerRow, Stackable, layer_rows
from .figure import Figure, new_graph
from .style import COLOURS, box, dot_label, dot_table, esc, html_table, text_table

__all__ = ["lookup", "OUTCOME_COLOURS", "OUTCOME_MEANING"]

OUTCOME_COLOURS = {
    "found": COLOURS["visible"],
    "whiteout": COLOURS["whiteout"],
    "opaque": COLOURS["opaque"],
    "blocked": COLOURS["copy-up"],
    "miss": COLOURS["absent"],
    "not asked": COLOURS["hidden"],
}
#: What each outcome means, shown beside it (translated with `_` where shown).
OUTCOME_MEANING = {
    "found": N_("answers: stop here"),
    "whiteout": N_("deleted here: stop, lower layers are never asked"),
    "opaque": N_("a parent is opaque here: stop, lower layers are never asked"),
    "blocked": N_("a parent is not a directory here: stop"),
    "miss": N_("no entry: ask the layer below"),
    "not asked": N_("never asked"),
}
#: The outcomes' own names as a learner reads them.
OUTCOME_NAMES = (
    N_("found"),
    N_("whiteout"),
    N_("opaque"),
    N_("blocked"),
    N_("miss"),
    N_("not asked"),
)


def _outcomes(
    rows: list[LayerRow], steps: list[TraceStep], mounted: bool
) -> list[tuple[LayerRow, str, str]]:
    """(row, outcome, detail) for every layer, top first, including the ones not asked."""
    asked = {} if mounted else {s.layer: s for s in steps}
    return [
        (row, asked[row.index].outcome, asked[row.index].detail)
        if row.index in asked
        else (row, "not asked", "")
        for row in reversed(rows)
    ]


def _result(path: str, view: UnionView, rows: list[LayerRow], mounted: bool) -> tuple[bool, str]:
    """Whether the path was found, and the answer in words."""
    if mounted:
        return True, _("found: the container's own {path} (a bind mount)").format(path=path)
    node = view.lookup(path)
    if node is None:
        return False, _("ENOENT: {path}: no such file or directory").format(path=path)
    where = rows[node.layer].short if node.layer >= 0 else _("the root")
    return True, _("found: {kind} from {layer}").format(kind=_(node.kind), layer=where)


def _layer_box(row: LayerRow, outcome: str, detail: str) -> str:
    lines = [row.title, _(outcome).upper(), _(OUTCOME_MEANING[outcome])]
    if detail and outcome != "miss":
        lines.append(detail)
    return dot_table(
        [
            [
                box(
                    *lines,
                    fill=OUTCOME_COLOURS[outcome],
                    bold=outcome not in ("miss", "not asked"),
                    faint=outcome == "not asked",
                )
            ]
        ]
    )


def lookup(source: Stackable, path: str) -> Figure:
    """Trace the lookup of `path` through a Container, Image, UnionView or layer list."""
    path = normpath(path)
    layers, rows = layer_rows(source)
    view = UnionView(layers)
    is_container = isinstance(source, Container)
    mounted = is_container and path in source.mounts
    outcomes = _outcomes(rows, view.trace(path), mounted)
    found, result = _result(path, view, rows, mounted)
    stop = next(((row, o) for row, o, _d in outcomes if o not in ("miss", "not asked")), None)

    title = _("lookup of {path}, top layer first").format(path=path)
    graph = new_graph("lookup", label=dot_label(title), labelloc="t")
    graph.node(
        "ask",
        label=dot_label(f"open({path})"),
        shape="oval",
        style="filled",
        fillcolor=COLOURS["header"],
    )
    previous, last_asked = "ask", "ask"
    if is_container:
        answer = (
            _("bind mount: answers, the union is never asked")
            if mounted
            else _("no bind mount here: ask the union")
        )
        fill = COLOURS["init"] if mounted else COLOURS["absent"]
        graph.node(
            "mounts",
            label=dot_table([[box(_("mount table"), answer, fill=fill)]]),
            shape="plaintext",
        )
        graph.edge("ask", "mounts")
        previous = last_asked = "mounts"
    for row, outcome, detail in outcomes:
        node_id = f"layer{row.index}"
        graph.node(node_id, label=_layer_box(row, outcome, detail), shape="plaintext")
        if outcome == "not asked":
            graph.edge(previous, node_id, style="dotted", color="#9e9e9e", arrowhead="none")
        else:
            graph.edge(
                previous,
                node_id,
                label=_("ask") if previous in ("ask", "mounts") else _("miss: ask lower"),
            )
            last_asked = node_id
        previous = node_id
    graph.node(
        "result",
        label=dot_label(result),
        shape="note",
        style="filled",
        fillcolor=COLOURS["merged"] if found else COLOURS["whiteout"],
    )
    graph.edge(last_asked, "result", style="bold")

    table = [[_("layer"), _("answer"), _("meaning")]]
    table += [
        [row.title, _(outcome), detail or _(OUTCOME_MEANING[outcome])]
        for row, outcome, detail in outcomes
    ]
    fills = [COLOURS["header"]] + [OUTCOME_COLOURS[outcome] for _row, outcome, _d in outcomes]
    grid = [
        [box(cell, fill=fill, align="left") for cell in line]
        for line, fill in zip(table, fills, strict=True)
    ]
    mount_line = [
        _("mount table: a bind mount answers") if mounted else _("mount table: no bind mount")
    ]
    text = "\n".join(
        [
            _("lookup {path} (top layer first)").format(path=path),
            *(mount_line if is_container else []),
            text_table(table),
            f"=> {result}",
        ]
    )
    asked = ", ".join(row.short for row, o, _d in outcomes if o != "not asked") or _("no layer")
    stopped = (
        _("; stopped at {layer} ({outcome})").format(layer=stop[0].short, outcome=_(stop[1]))
        if stop
        else ""
    )
    summary = _("lookup {path}: asked {layers}{stopped}; {result}").format(
        path=path, layers=asked, stopped=stopped, result=result
    )
    html = html_table(
        grid, title=_("lookup of {path}").format(path=path), css="layerlab-lookup-table"
    )
    return Figure(
        "lookup trace", graph, summary=summary, text=text, html=f"{html}<p><b>{esc(result)}</b></p>"
    )
