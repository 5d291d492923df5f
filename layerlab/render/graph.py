"""Images and containers sharing layers: one node per storage layer, named by chain ID.

Two images share a stored layer exactly when they share its ChainID (the layer *and*
everything below it), not merely its DiffID: the same tar on top of a different base is a
different filesystem. So the picture has one node per ChainID, drawn once however many
images use it, with images pointing at their top layer. Containers add their `-init` and
rw layers on top of their image. When an image is exactly a container's image plus the
container's rw layer, the picture draws the `docker commit` that made it: the rw layer
becomes the new top layer, and the init layer stays behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..commit import CommitResult
from ..container import Container
from ..i18n import _, ngettext
from ..image import Image
from .figure import Figure, new_graph
from .style import (
    COLOURS,
    box,
    clip,
    dot_label,
    dot_table,
    html_table,
    human_bytes,
    short_id,
    text_table,
)

__all__ = ["graph", "LayerNode"]


@dataclass
class LayerNode:
    """One stored layer (one ChainID) and the images and containers built on it."""

    node_id: str
    chain_id: str | None
    diff_id: str | None
    created_by: str
    entries: int
    size: int
    parent: str | None
    users: list[str]


def _name(item: Image | Container) -> str:
    if isinstance(item, Container):
        return _("container {name}").format(name=item.name)
    return item.repo_tags[0] if item.repo_tags else _("image {id}").format(id=short_id(item.id))


def _image_chain(image: Image, nodes: dict[str, LayerNode], user: str) -> str | None:
    """Add an image's layers (shared ones once); returns its top node id."""
    parent = None
    for ref, chain in zip(image.layers, image.chain_ids, strict=True):
        node_id = "chain_" + short_id(chain, 16)
        node = nodes.get(node_id)
        if node is None:
            node = nodes[node_id] = LayerNode(
                node_id,
                chain,
                ref.diff_id,
                ref.layer.created_by,
                len(ref.layer),
                ref.layer.size,
                parent,
                [],
            )
        if user not in node.users:
            node.users.append(user)
        parent = node_id
    return parent


def _bare_chain(container: Container, n: int, nodes: dict[str, LayerNode]) -> str | None:
    """Layers of a container made from a plain layer list: no IDs, so nothing is shared."""
    parent = None
    for k, layer in enumerate(container.image_layers):
        node_id = f"ctr{n}_L{k}"
        nodes[node_id] = LayerNode(
            node_id,
            None,
            None,
            layer.created_by or layer.name,
            len(layer),
            layer.size,
            parent,
            [_name(container)],
        )
        parent = node_id
    return parent


def _committed(container: Container, image: Image) -> bool:
    """Is `image` what `docker commit` of `container` gives (now)?"""
    base = container.image
    if base is None or image.chain_ids[: len(base.chain_ids)] != base.chain_ids:
        return False
    if len(image.layers) == len(base.layers) + 1:
        return image.layers[-1].layer == container.rw
    return len(image.layers) == len(base.layers) and image.id != base.id and not len(container.rw)


def _layer_label(node: LayerNode) -> str:
    first = (
        _("chain {id}").format(id=short_id(node.chain_id)) if node.chain_id else _("layer (no IDs)")
    )
    lines = [first]
    if node.diff_id:
        lines.append(_("diff {id}").format(id=short_id(node.diff_id)))
    size = _("{count} entries, {size}")
    lines += [
        clip(node.created_by, 36),
        size.format(count=node.entries, size=human_bytes(node.size)),
    ]
    shared = len(node.users) > 1
    fill = COLOURS["visible"] if shared else COLOURS["header"]
    extra = [_("shared by {count}").format(count=len(node.users))] if shared else []
    return dot_table([[box(*lines, *extra, fill=fill, bold=shared)]])


def graph(*items: Image | Container | CommitResult, names: Sequence[str] = ()) -> Figure:
    """Draw images and containers, their shared layers, and the commits between them."""
    things = [i.image if isinstance(i, CommitResult) else i for i in items]
    labels = [names[k] if k < len(names) else _name(t) for k, t in enumerate(things)]
    nodes: dict[str, LayerNode] = {}
    tops: list[str | None] = []
    for n, (thing, label) in enumerate(zip(things, labels, strict=True)):
        if isinstance(thing, Container):
            base = thing.image
            tops.append(_image_chain(base, nodes, label) if base else _bare_chain(thing, n, nodes))
        else:
            tops.append(_image_chain(thing, nodes, label))

    g = new_graph(
        "images", rankdir="BT", label=_("layers by chain ID (bottom = base)"), labelloc="t"
    )
    for node in nodes.values():
        g.node(node.node_id, label=_layer_label(node), shape="plaintext")
        if node.parent:
            g.edge(node.parent, node.node_id, arrowhead="none")
    for n, (thing, label, top) in enumerate(zip(things, labels, tops, strict=True)):
        if isinstance(thing, Container):
            init, rw = f"ctr{n}_init", f"ctr{n}_rw"
            if thing.init is not None:
                g.node(
                    init,
                    label=dot_table(
                        [
                            [
                                box(
                                    f"init {thing.init.name}",
                                    _("never committed"),
                                    fill=COLOURS["init"],
                                )
                            ]
                        ]
                    ),
                    shape="plaintext",
                )
            else:
                init = top  # no init layer: the rw layer sits right on the image
            g.node(
                rw,
                label=dot_table(
                    [
                        [
                            box(
                                _("rw layer"),
                                _("{count} entries").format(count=len(thing.rw)),
                                fill=COLOURS["copy-up"],
                            )
                        ]
                    ]
                ),
                shape="plaintext",
            )
            g.node(
                f"item{n}",
                label=dot_label(label),
                shape="box3d",
                style="filled",
                fillcolor=COLOURS["copy-up"],
            )
            if top and thing.init is not None:
                g.edge(top, init, arrowhead="none")
            if init:
                g.edge(init, rw, arrowhead="none")
            g.edge(f"item{n}", rw, style="dashed", label=_("runs on"))
        else:
            g.node(
                f"item{n}",
                label=dot_label(label, f"Id {short_id(thing.id)}"),
                shape="folder",
                style="filled",
                fillcolor=COLOURS["merged"],
            )
            if top:
                g.edge(f"item{n}", top, style="dashed", label=_("top layer"))
    commits = []
    for c, container in enumerate(things):
        for i, image in enumerate(things):
            if (
                isinstance(container, Container)
                and isinstance(image, Image)
                and _committed(container, image)
            ):
                target = tops[i] if len(image.layers) > len(container.image.layers) else f"item{i}"
                g.edge(
                    f"ctr{c}_rw",
                    target,
                    label=dot_label("docker commit", _("(rw only, no init)")),
                    color="#e65100",
                    fontcolor="#e65100",
                    style="bold",
                    constraint="false",
                )
                commits.append(f"{labels[c]} -> {labels[i]}")

    table = [[_("layer"), _("diff ID"), _("created by"), _("used by")]]
    table += [
        [
            short_id(n.chain_id) if n.chain_id else n.node_id,
            short_id(n.diff_id),
            clip(n.created_by, 36),
            ", ".join(n.users),
        ]
        for n in nodes.values()
    ]
    shared = sum(1 for n in nodes.values() if len(n.users) > 1)
    n_images = sum(1 for t in things if isinstance(t, Image))
    n_containers = len(things) - n_images
    summary = _("{images}, {containers}, {layers} ({shared} shared)").format(
        images=ngettext("{count} image", "{count} images", n_images).format(count=n_images),
        containers=ngettext("{count} container", "{count} containers", n_containers).format(
            count=n_containers
        ),
        layers=ngettext("{count} distinct layer", "{count} distinct layers", len(nodes)).format(
            count=len(nodes)
        ),
        shared=shared,
    ) + (_("; commits: {commits}").format(commits="; ".join(commits)) if commits else "")
    grid = [
        [box(c, fill=COLOURS["header"] if r == 0 else COLOURS["absent"], align="left") for c in row]
        for r, row in enumerate(table)
    ]
    text = "\n".join([summary, "", text_table(table)])
    return Figure(
        "image graph",
        g,
        summary=summary,
        text=text,
        html=html_table(grid, title=_("layers by chain ID"), css="layerlab-graph-table"),
    )
