"""Exercises of notebook 06, the init layer: what commit keeps of it, per-container hostnames."""

from __future__ import annotations

from collections.abc import Callable

from ..container import Container
from ..entries import Whiteout
from ..i18n import N_, _
from ..image import Image
from ..initlayer import BIND_MOUNTED, INIT_PATHS
from ..samples import ubuntu_image
from ..union import UnionView
from .framework import Exercise, NotSolved, Wrong, attempt, register
from .judging import as_items, as_text, tar_paths

__all__ = ["busy_container", "serves", "PLACES"]


# -- 06.1 which init-layer files end up in the commit ------------------------------------
def busy_container(image: Image | None = None) -> Container:
    """A container that touched Docker's own files, deleted one, and wrote one of its own."""
    container = Container(image or ubuntu_image(), name="busy", hostname="busy")
    container.write("/etc/hostname", "web-1\n")
    container.append("/etc/hosts", "10.0.0.5\tdb\n")
    container.write("/etc/resolv.conf", "nameserver 10.0.0.53\n")
    container.unlink("/.dockerenv")
    container.write("/etc/motd", "maintenance at noon\n")
    return container


def check_init_in_commit(answer: object) -> str:
    if answer is Ellipsis or answer is None:
        raise NotSolved()
    items = as_items(answer, what=_("a set of paths"), example="{'/etc/hosts'}")
    chosen = {str(p) for p in items}
    truth = {p for p in INIT_PATHS if p in tar_paths(busy_container().commit().tar)}
    if chosen == truth:
        return _(
            "only /.dockerenv: its deletion is a whiteout in the rw layer. The writes to "
            "hostname, hosts and resolv.conf went to bind-mounted files, and the init "
            "layer itself is never committed."
        )
    if chosen == set(INIT_PATHS):
        raise Wrong(
            "whole-init",
            _(
                "commit never takes the init layer: it captures the rw layer "
                "only. Which init paths did the container change *in its rw layer*?"
            ),
        )
    strangers = sorted(chosen - set(INIT_PATHS))
    if strangers:
        raise Wrong(
            "not-init",
            _(
                "{path} is not one of the init layer's paths "
                "(INIT_PATHS); the question is only about those."
            ).format(path=strangers[0]),
        )
    bound = sorted(chosen & set(BIND_MOUNTED))
    if bound:
        raise Wrong(
            "bind-mounted",
            _(
                "{path} is bind-mounted from the container's own "
                "directory on the host: the write went there and never reached the rw "
                "layer, so commit cannot see it."
            ).format(path=bound[0]),
        )
    if truth - chosen:
        raise Wrong(
            "dockerenv",
            _(
                "one path is missing: a step in busy's log changed an init "
                "path in the rw layer itself. Deleting is a change too: it leaves a "
                "whiteout, and commit captures the whole rw layer."
            ),
        )
    extra = sorted(chosen - truth)
    raise Wrong(
        "untouched",
        _(
            "the container never touched {path}; it stays in the init "
            "layer, which is never committed."
        ).format(path=extra[0]),
    )


INIT_STUB = """
from layerlab import INIT_PATHS

in_commit = ...  # YOUR CODE HERE: the set of INIT_PATHS that the commit of busy records

check("06.1", in_commit)
"""

INIT_SOLUTION = """
from layerlab import INIT_PATHS

in_commit = {"/.dockerenv"}   # deleted in the rw layer: a whiteout; the rest never got there

check("06.1", in_commit)
"""


# -- 06.2 where a read is served from -----------------------------------------------------
PLACES = ("bind mount", "rw", "init", "image")


def serves(container: Container, path: str) -> str | None:
    """Where `cat path` in the container reads from: a bind mount over the union, else the
    first union layer from the top that has the path (rw, init or an image layer), else
    None (no such path, or a whiteout hides it)."""
    if path in container.mounts:
        return "bind mount"
    node = container.view().lookup(path)
    if node is None:
        return None
    if node.layer == len(container.layers) - 1:
        return "rw"
    return "init" if node.layer == len(container.image_layers) else "image"


#: The paths the checker asks about, in each container.
SERVE_PATHS = (
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/.dockerenv",
    "/etc/motd",
    "/bin/sh",
    "/dev/console",
    "/etc/mtab",
    "/srv/report.txt",
    "/nope",
)


def serve_containers() -> list[Container]:
    """A fresh container, busy (it wrote, appended and deleted), and one that made a file."""
    image = ubuntu_image()
    fresh = Container(image, name="web", hostname="web")
    maker = Container(image, name="db", hostname="db")
    maker.write("/srv/report.txt", "42\n")
    maker.write("/etc/hosts", "127.0.0.1\tlocalhost db\n")
    return [fresh, busy_container(image), maker]


def _static(container: Container, path: str) -> str | None:
    if path in BIND_MOUNTED:
        return "bind mount"
    if path in INIT_PATHS:
        return "init"
    return "image" if UnionView(container.image_layers).exists(path) else None


def _layer_walk(
    container: Container, path: str, order: list[str], *, whiteouts: bool
) -> str | None:
    layers = {"rw": [container.rw], "init": [container.init], "image": container.image_layers[::-1]}
    for place in order:
        for layer in layers[place]:
            entry = layer.get(path)
            if entry is None:
                continue
            if isinstance(entry, Whiteout) and whiteouts:
                return None
            return place
    return None


_SERVE_MISTAKES: tuple[tuple[Callable[[Container, str], str | None], str, str], ...] = (
    (
        lambda c, p: _layer_walk(c, p, ["rw", "init", "image"], whiteouts=True),
        "bind-ignored",
        N_(
            "/etc/hostname, /etc/hosts and /etc/resolv.conf are bind-mounted over the union "
            "(from the container's own directory on the host): a read of them never reaches "
            "any layer."
        ),
    ),
    (
        lambda c, p: (
            c.mounts
            and p in c.mounts
            and "bind mount"
            or _layer_walk(c, p, ["image", "init", "rw"], whiteouts=False)
        ),
        "bottom-up",
        N_(
            "the lookup goes from the top down: the container's rw layer first, then init, "
            "then the image, and the first layer that has the path wins."
        ),
    ),
    (
        lambda c, p: (
            c.mounts
            and p in c.mounts
            and "bind mount"
            or _layer_walk(c, p, ["init", "rw", "image"], whiteouts=True)
        ),
        "init-above-rw",
        N_(
            "the init layer sits *below* the rw layer (between it and the image): a deletion "
            "or a write in the rw layer wins over the init layer's file."
        ),
    ),
    (
        lambda c, p: (
            c.mounts
            and p in c.mounts
            and "bind mount"
            or _layer_walk(c, p, ["rw", "init", "image"], whiteouts=False)
        ),
        "whiteout-as-file",
        N_(
            "a whiteout in the rw layer is not a file that is served: it hides the path, so "
            "`cat` finds nothing (return None)."
        ),
    ),
    (
        _static,
        "static",
        N_(
            "that is where the files start out, but the containers changed things: a write "
            "copies a file up into rw, a deletion leaves a whiteout. Look at the container's "
            "layers."
        ),
    ),
)


def check_serves(solve: object) -> str:
    got: list[object] = []
    truth: list[object] = []
    models: list[list[object]] = [[] for _mistake in _SERVE_MISTAKES]
    for container in serve_containers():
        for path in SERVE_PATHS:
            answer = as_text(attempt(solve, container, path))
            if answer is Ellipsis:
                raise NotSolved()
            if answer is not None and answer not in PLACES:
                raise Wrong(
                    "not-a-place",
                    _(
                        "for {path} you returned {answer!r}; return one of {places}, "
                        "or None when cat would find nothing."
                    ).format(path=path, answer=answer, places=", ".join(PLACES)),
                )
            got.append(answer)
            truth.append(serves(container, path))
            for model, (mistake, _reason, _hint) in zip(models, _SERVE_MISTAKES, strict=True):
                model.append(mistake(container, path))
    if all(g is None for g in got):
        raise NotSolved()
    if got == truth:
        return _(
            "bind mounts first, then the union top-down: rw, init, image. The hostname "
            "files come from the container's own directory, Docker's other own files from "
            "the init layer, and a whiteout in rw hides whatever is below."
        )
    for model, (_model, reason, hint) in zip(models, _SERVE_MISTAKES, strict=True):
        if got == model:
            raise Wrong(reason, _(hint))
    index = next(i for i, (g, t) in enumerate(zip(got, truth, strict=True)) if g != t)
    which, path = divmod(index, len(SERVE_PATHS))
    name = serve_containers()[which].name
    raise Wrong(
        "mismatch",
        _("in container {name}, {path} is served by {truth!r}, not {got!r}.").format(
            name=name, path=SERVE_PATHS[path], truth=truth[index], got=got[index]
        ),
    )


SERVES_STUB = '''
def solve(container, path):
    """Where does `cat path` in `container` read from? Return "bind mount", "rw",
    "init" or "image", or None when it finds nothing."""
    ...  # YOUR CODE HERE

check("06.2", solve)
'''

SERVES_SOLUTION = '''
from layerlab import Whiteout

def solve(container, path):
    """Where does `cat path` in `container` read from? Return "bind mount", "rw",
    "init" or "image", or None when it finds nothing."""
    if path in container.mounts:                     # over the union, from the host
        return "bind mount"
    stack = [("rw", container.rw), ("init", container.init)]
    stack += [("image", layer) for layer in reversed(container.image_layers)]
    for place, layer in stack:                       # top-down
        entry = layer.get(path)
        if isinstance(entry, Whiteout):
            return None                              # hidden from here down
        if entry is not None:
            return place
    return None

check("06.2", solve)
'''

register(
    Exercise(
        "06.1",
        N_("which init files end up in the commit"),
        INIT_STUB,
        INIT_SOLUTION,
        check_init_in_commit,
    ),
    Exercise("06.2", N_("where a read is served from"), SERVES_STUB, SERVES_SOLUTION, check_serves),
)

# 06.3, which paths Podman's commit adds, lives in its own module; importing it registers it.
from . import ex06_podman  # noqa: E402, F401
