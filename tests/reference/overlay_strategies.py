"""Hypothesis strategies: small lower stacks and operation sequences that collide a lot.

Names come from a three-letter alphabet and paths are at most three deep, so random
operations keep hitting the same paths: a file written, removed, turned into a directory,
renamed over, hardlinked. That is where union filesystems get interesting.
"""

from __future__ import annotations

from itertools import product

from hypothesis import strategies as st
from overlay_kernel import Op

from layerlab.entries import (
    Content,
    Dir,
    Entry,
    File,
    Hardlink,
    Meta,
    OpaqueDir,
    Symlink,
    Whiteout,
    ancestors,
)
from layerlab.layer import Layer
from layerlab.union import UnionView

NAMES = ("a", "b", "c")
PATHS = tuple(sorted("/" + "/".join(p) for n in (1, 2, 3) for p in product(NAMES, repeat=n)))
FILE_MODES = (0o644, 0o600, 0o755, 0o4755)
DIR_MODES = (0o755, 0o700, 0o1777)
DATA = (b"", b"x", b"yy")
#: Relative targets only, and none with "..": an absolute or escaping target would be
#: resolved against the host's root by the kernel, but against the container's by the model.
LINK_TARGETS = ("a", "b", "c", "a/b", "b/c", "c/a")
KINDS = ("file", "file", "dir", "opaque dir", "symlink", "hardlink", "whiteout")


@st.composite
def layers(draw: st.DrawFn, *, owners: tuple[int, ...] = (0,), max_paths: int = 12) -> Layer:
    """One lower layer with explicit parent directories (as Docker's layer tars have)."""
    chosen = draw(st.lists(st.sampled_from(PATHS), max_size=max_paths, unique=True))
    entries: dict[str, Entry] = {}

    def meta(modes: tuple[int, ...]) -> Meta:
        return Meta(
            mode=draw(st.sampled_from(modes)),
            uid=draw(st.sampled_from(owners)),
            gid=draw(st.sampled_from(owners)),
        )

    for path in sorted(chosen):
        parents = ancestors(path)
        if any(p in entries and not isinstance(entries[p], Dir) for p in parents):
            continue  # a file or whiteout above: this layer cannot hold the path
        for parent in parents:
            entries.setdefault(parent, Dir(meta(DIR_MODES)))
        if path in entries:
            continue
        kind = draw(st.sampled_from(KINDS))
        files = [p for p, e in entries.items() if isinstance(e, File)]
        if kind == "hardlink" and files:
            entries[path] = Hardlink(target=draw(st.sampled_from(files)))
        elif kind == "dir":
            entries[path] = Dir(meta(DIR_MODES))
        elif kind == "opaque dir":
            entries[path] = OpaqueDir(meta(DIR_MODES))
        elif kind == "symlink":
            entries[path] = Symlink(target=draw(st.sampled_from(LINK_TARGETS)))
        elif kind == "whiteout":
            entries[path] = Whiteout()
        else:
            entries[path] = File(meta(FILE_MODES), Content(draw(st.sampled_from(DATA))))
    return Layer(entries)


def _hides_something(layer: Layer, path: str, below: UnionView) -> bool:
    """Does this whiteout hide a path a lower layer shows through this layer's own dirs?"""
    return below.exists(path) and not any(
        isinstance(layer.get(a), OpaqueDir) for a in ancestors(path)
    )


def _drop_idle_whiteouts(stack: list[Layer]) -> list[Layer]:
    """Keep only whiteouts that hide something.

    overlayfs lists a directory that only one layer has straight from disk, so a whiteout
    that hides nothing shows up in readdir as a name that cannot be stat'ed. No layer that
    Docker's overlay2 produces has one (the kernel only writes whiteouts over lower names).
    """
    kept: list[Layer] = []
    for layer in stack:
        below = UnionView(kept)
        kept.append(
            Layer(
                (p, e)
                for p, e in layer.items()
                if not isinstance(e, Whiteout) or _hides_something(layer, p, below)
            )
        )
    return kept


def stacks(*, owners: tuple[int, ...] = (0,)) -> st.SearchStrategy[list[Layer]]:
    return st.lists(layers(owners=owners), min_size=1, max_size=3).map(_drop_idle_whiteouts)


_path = st.sampled_from(PATHS)


def operations(owners: tuple[int, ...] = (0,)) -> st.SearchStrategy[Op]:
    """One operation on a random path; chown picks from `owners` (rootless maps only 0)."""
    data, owner = st.sampled_from(DATA), st.sampled_from(owners)
    return st.one_of(
        st.builds(lambda p, d: Op("write", (p, d)), _path, data),
        st.builds(lambda p, d: Op("append", (p, d)), _path, data),
        st.builds(lambda p, m: Op("chmod", (p, m)), _path, st.sampled_from(FILE_MODES + DIR_MODES)),
        st.builds(lambda p, u, g: Op("chown", (p, u, g)), _path, owner, owner),
        st.builds(lambda p: Op("unlink", (p,)), _path),
        st.builds(lambda p: Op("rmdir", (p,)), _path),
        st.builds(lambda p: Op("remove", (p,)), _path),
        st.builds(lambda p, m: Op("mkdir", (p, m)), _path, st.sampled_from(DIR_MODES)),
        st.builds(lambda a, b: Op("rename", (a, b)), _path, _path),
        st.builds(lambda a, b: Op("move", (a, b)), _path, _path),
        st.builds(lambda t, p: Op("symlink", (t, p)), st.sampled_from(LINK_TARGETS), _path),
        st.builds(lambda a, b: Op("link", (a, b)), _path, _path),
    )


def moves() -> st.SearchStrategy[Op]:
    """mv of one random path to another."""
    return st.builds(lambda a, b: Op("move", (a, b)), _path, _path)


def op_lists(max_size: int = 8, *, owners: tuple[int, ...] = (0,)) -> st.SearchStrategy[list[Op]]:
    return st.lists(operations(owners), min_size=1, max_size=max_size)
