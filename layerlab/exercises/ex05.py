"""Exercises of notebook 05: whiteouts, their spelling in a tar, copy-up, and moving a directory."""

from __future__ import annotations

import errno
import posixpath
import random

from ..commit import build_image
from ..container import Container
from ..entries import Dir, File, Meta, OpaqueDir, Symlink, Whiteout
from ..i18n import N_, _
from ..image import Image
from ..layer import Layer
from ..samples import app_image, ubuntu_image, ubuntu_layers
from .framework import Exercise, NotSolved, Wrong, attempt, register
from .judging import (
    as_items,
    layer_names,
    require_image_untouched,
    require_no_collateral,
    snapshot,
    visible_state,
)

__all__ = ["COPY_UP_CANDIDATES", "tar_layer", "does_copy_up"]


# -- 05.1 delete a file as overlayfs does --------------------------------------------------
def _with_sticky_tmp() -> Image:
    """ubuntu plus a layer with a file in a world-writable, sticky directory."""
    extra = Layer(
        {"/var/tmp": Dir(Meta(mode=0o1777)), "/var/tmp/session.db": File.of("old\n")},
        name="sticky",
    )
    return build_image([*ubuntu_layers(), extra])


#: (what the container did first, the path to delete, how to describe it)
DELETE_CASES: tuple[tuple[str, str, str], ...] = (
    ("", "/etc/motd", N_("a file only the image has")),
    ("write /srv/notes.txt", "/srv/notes.txt", N_("a file the container made itself")),
    ("write /etc/passwd", "/etc/passwd", N_("an image file the container changed before")),
    ("", "/var/lib/dpkg/diversions", N_("an image file three directories deep")),
    ("sticky", "/var/tmp/session.db", N_("an image file in a sticky 1777 directory")),
)


def _delete_case(setup: str) -> Container:
    if setup == "sticky":
        return Container(_with_sticky_tmp(), name="delete")
    container = Container(ubuntu_image(), name="delete")
    if setup:
        container.write(setup.split()[1], "changed in the container\n")
    return container


def _upper(layer: Layer) -> dict[str, tuple[object, ...]]:
    """The upper dir as `ls -l` shows it (mtimes aside): a whiteout is a whiteout."""
    out: dict[str, tuple[object, ...]] = {}
    for path, entry in layer.items():
        if isinstance(entry, Whiteout):
            out[path] = ("whiteout",)
            continue
        what: object = entry.kind
        if isinstance(entry, File):
            what = entry.content.digest
        out[path] = (what, entry.meta.mode, entry.meta.uid, entry.meta.gid)
    return out


def _diagnose_delete(container: Container, model: Container, path: str, how: str) -> None:
    rw, want = container.rw, model.rw
    how = _(how)
    fake = [p for p in rw if posixpath.basename(p).startswith(".wh.")]
    if fake:
        raise Wrong(
            "literal-wh",
            _(
                "the upper layer holds a real file {file}. '.wh.' is only how a tar spells "
                "a deletion; in an upper dir (and in the model) a deletion is a Whiteout entry: "
                "container.rw[path] = Whiteout()."
            ).format(file=fake[0]),
        )
    entry = rw.get(path)
    if container.exists(path):
        if isinstance(entry, File) and entry.size == 0:
            raise Wrong(
                "empty-file",
                _(
                    "you emptied {path}, but an empty file is still a file: `ls` shows it and "
                    "the commit ships it. Deleting needs a whiteout."
                ).format(path=path),
            )
        if isinstance(want.get(path), Whiteout) and path not in rw:
            raise Wrong(
                "lower-shows-through",
                _(
                    "for {how}, the image's {path} still shows: only a whiteout in the upper "
                    "layer hides it (removing an upper copy just uncovers the lower one)."
                ).format(how=how, path=path),
            )
        raise Wrong(
            "still-there", _("{path} is still visible for {how}.").format(path=path, how=how)
        )
    if isinstance(entry, Whiteout) and path not in want:
        raise Wrong(
            "needless-whiteout",
            _(
                "{path} ({how}) exists in no image layer, so overlayfs simply removes it from "
                "the upper dir: a whiteout would make the commit record a deletion of a file "
                "no layer below has."
            ).format(path=path, how=how),
        )
    opaque = [p for p in rw.opaque_dirs if p not in want.opaque_dirs]
    if opaque:
        raise Wrong(
            "opaque",
            _(
                "you made {dir} opaque, which hides every file the image has in it, not "
                "only the one to delete. A single whiteout hides a single name."
            ).format(dir=opaque[0]),
        )
    for parent in sorted(set(want) - {path}):
        if parent not in rw:
            raise Wrong(
                "no-parent",
                _(
                    "the whiteout for {path} needs its directory {parent} in the upper layer: "
                    "overlayfs copies each parent up (with its mode and owner) before it can "
                    "put anything inside."
                ).format(path=path, parent=parent),
            )
        if _upper(rw).get(parent) != _upper(want)[parent]:
            raise Wrong(
                "parent-mode",
                _(
                    "{parent} in the upper layer has mode {mode} and "
                    "owner {owner}, but the image's is "
                    "{image_mode}, owner {image_owner}: a copy-up "
                    "keeps the directory's metadata (a re-made /var/tmp without 1777 breaks "
                    "every program that writes there)."
                ).format(
                    parent=parent,
                    mode=oct(rw[parent].meta.mode)[2:],
                    owner=rw[parent].meta.uid,
                    image_mode=oct(want[parent].meta.mode)[2:],
                    image_owner=want[parent].meta.uid,
                ),
            )


def check_delete(solve: object) -> str:
    failures = []
    for setup, path, how in DELETE_CASES:
        container, model = _delete_case(setup), _delete_case(setup)
        before = snapshot(container.image_layers)
        state = visible_state(container)
        steps = len(container.log)
        attempt(solve, container, path, name="solve")
        require_image_untouched(before, container)
        used = [step for step in container.log[steps:] if step.op in _DELETING_OPS]
        if used:
            raise Wrong(
                "used-unlink",
                _(
                    "you called container.{op}(), which does the work for you. Do what "
                    "overlayfs does, by hand, on the upper layer container.rw."
                ).format(op=used[0].op),
            )
        model.unlink(path)
        if _upper(container.rw) != _upper(model.rw):
            untouched = _upper(container.rw) == _upper(_delete_case(setup).rw)
            failures.append((untouched, container, model, path, how, state))
    if not failures:
        return _(
            "a whiteout for a name a lower layer has, its parents copied up with their "
            "metadata, and nothing at all for a file only the upper layer had: what "
            "overlayfs's unlink does, and why a commit records a deletion as .wh. + name."
        )
    if len(failures) == len(DELETE_CASES) and all(f[0] for f in failures):
        raise NotSolved()
    # the most telling case: one where the answer did something
    _untouched, container, model, path, how, state = sorted(failures, key=lambda f: f[0])[0]
    _diagnose_delete(container, model, path, how)
    require_no_collateral(state, container, {path})
    raise Wrong(
        "mismatch",
        _("for {how} ({path}) the upper layer should hold exactly {entries}.").format(
            how=_(how),
            path=path,
            entries=", ".join(f"{p} ({v[0]})" for p, v in _upper(model.rw).items()) or _("nothing"),
        ),
    )


_DELETING_OPS = {"unlink", "remove", "rmdir", "rename", "move"}

DELETE_STUB = '''
def solve(container, path):
    """Delete `path` in `container` as overlayfs does, by editing the upper layer
    container.rw yourself (rw[p] = entry, del rw[p]), not with container.unlink.
    The lower layers are container.layers[:-1]; UnionView(layers) merges them."""
    ...  # YOUR CODE HERE

check("05.1", solve)
'''

DELETE_SOLUTION = '''
import posixpath
from layerlab import UnionView, Whiteout

def solve(container, path):
    """Delete `path` in `container` as overlayfs does, by editing the upper layer
    container.rw yourself (rw[p] = entry, del rw[p]), not with container.unlink.
    The lower layers are container.layers[:-1]; UnionView(layers) merges them."""
    rw, lower = container.rw, UnionView(container.layers[:-1])
    parent = posixpath.dirname(path)
    while parent != "/" and parent not in rw:   # copy the parents up, metadata and all
        rw[parent] = lower.lookup(parent).entry
        parent = posixpath.dirname(parent)
    if path in rw:
        del rw[path]                            # the upper copy goes ...
    if lower.exists(path):
        rw[path] = Whiteout()                   # ... and a whiteout hides the lower one

check("05.1", solve)
'''


# -- 05.2 spell a layer as a tar ----------------------------------------------------------
def tar_layer() -> Layer:
    """A rw layer with a new file, a deleted file and a directory that was replaced."""
    return Layer(
        {
            "/etc": Dir(),
            "/etc/motd": Whiteout(),
            "/etc/hosts.allow": File.of("ALL: 10.0.0.0/8\n"),
            "/var": Dir(),
            "/var/cache": OpaqueDir(),
            "/var/cache/fresh.db": File.of("new\n"),
        },
        name="rw",
    )


def tar_layers(count: int = 8, seed: str = "05.2") -> list[Layer]:
    """The notebook's layer, an empty one, then generated layers (seeded) with files,
    whiteouts (of files and of whole directories) and opaque directories."""
    rng = random.Random(seed)
    layers = [tar_layer(), Layer(name="empty")]
    for _n in range(count):
        layer = Layer(name="generated")
        for _n in range(rng.randint(1, 6)):
            top = "/" + rng.choice(["etc", "var", "opt", "srv"])
            layer[top] = layer.get(top) or Dir()
            name = f"{top}/{rng.choice(['a', 'b', 'c', 'd'])}"
            kind = rng.choice(["file", "whiteout", "opaque", "dir"])
            if kind == "file":
                layer[name] = File.of("x\n")
            elif kind == "whiteout":
                layer[name] = Whiteout()
            else:
                layer[name] = OpaqueDir() if kind == "opaque" else Dir()
                if rng.random() < 0.5:
                    layer[name + "/inner"] = File.of("y\n")
        layers.append(layer)
    return layers


def _member_names(answer: object) -> list[str]:
    items = as_items(answer, what=_("a list of member names"), example="['etc', 'etc/hosts']")
    if not all(isinstance(n, str) for n in items):
        raise Wrong("not-names", _("return a list of member names (strings) like 'etc/hosts'"))
    # "etc/" and "etc" are one member; "./etc" is how some tools spell "etc"
    return sorted(n.removeprefix("./").rstrip("/") for n in items)


def check_tar_names(solve: object) -> str:
    for layer in tar_layers():
        answer = attempt(solve, layer.copy(), returns=True)
        if answer is None or answer is Ellipsis:
            raise NotSolved()
        names = _member_names(answer)
        truth = list(layer_names(layer))
        if names != truth:
            _diagnose_names(names, truth)
    return _(
        "etc/.wh.motd deletes the lower motd; var/cache/.wh..wh..opq, inside the "
        "directory, hides everything var/cache had below. The same names moby writes."
    )


def _diagnose_names(names: list[str], truth: list[str]) -> None:
    if any(n.startswith("/") for n in names):
        raise Wrong(
            "absolute",
            _("member names are relative: 'etc/hosts.allow', not '/etc/hosts.allow'."),
        )
    whiteouts = [n for n in truth if posixpath.basename(n).startswith(".wh.")]
    kept = [n.replace(".wh.", "", 1) for n in whiteouts if not n.endswith(".wh..opq")]
    if any(k in names for k in kept) and any(w in names for w in whiteouts):
        raise Wrong(
            "both",
            _(
                "the layer has .wh.motd but you also left motd in the same layer. "
                "A reader keeps the real file when a layer holds both (OCI), so nothing "
                "would be deleted: a whiteout replaces the name."
            ),
        )
    if any(k in names for k in kept):
        raise Wrong(
            "whiteout-as-file",
            _(
                "etc/motd in a tar is a file called motd; the whiteout "
                "is spelled etc/.wh.motd (an empty file with the prefix)."
            ),
        )
    opaque = [posixpath.dirname(n) for n in truth if n.endswith("/.wh..wh..opq")]
    as_whiteout = [
        posixpath.join(posixpath.dirname(o), ".wh." + posixpath.basename(o)) for o in opaque
    ]
    if any(w in names for w in as_whiteout):
        raise Wrong(
            "opaque-as-whiteout",
            _(
                "var/.wh.cache would delete the lower cache dir and "
                "everything under it. An opaque dir keeps its own entry and gets the marker "
                "inside it: var/cache/.wh..wh..opq."
            ),
        )
    if any(o + "/.wh..wh..opq" not in names for o in opaque):
        raise Wrong(
            "opaque-missing",
            _(
                "var/cache is opaque: without var/cache/.wh..wh..opq a "
                "reader merges it with the lower var/cache, and old files show through."
            ),
        )
    missing = sorted(set(truth) - set(names))
    extra = sorted(set(names) - set(truth))
    raise Wrong(
        "mismatch",
        _(
            "missing {missing}, unexpected {extra}. "
            "Every entry, directories included, is one member."
        ).format(missing=missing or _("nothing"), extra=extra or _("nothing")),
    )


TAR_STUB = '''
def solve(layer):
    """Return the member names of `layer` as an OCI/AuFS tar (like 'etc/hosts')."""
    ...  # YOUR CODE HERE

check("05.2", solve)
'''

TAR_SOLUTION = '''
import posixpath
from layerlab import OpaqueDir, Whiteout

def solve(layer):
    """Return the member names of `layer` as an OCI/AuFS tar (like 'etc/hosts')."""
    names = []
    for path, entry in layer.items():
        name = path.lstrip("/")
        if isinstance(entry, Whiteout):
            parent, base = posixpath.split(name)
            names.append(posixpath.join(parent, ".wh." + base))   # a deletion
        else:
            names.append(name)
            if isinstance(entry, OpaqueDir):
                names.append(name + "/.wh..wh..opq")              # hide lower children
    return names

check("05.2", solve)
'''


# -- 05.3 which operations copy a file up -------------------------------------------------
BIG = "/srv/app/data.bin"

#: What a process might do to a big file an image layer holds, as shell-ish commands.
COPY_UP_CANDIDATES: dict[str, str] = {
    "cat": f"cat {BIG}",
    "stat": f"stat {BIG}",
    "open for writing, write nothing": f": >> {BIG}",
    "append a byte": f"echo >> {BIG}",
    "chmod": f"chmod 600 {BIG}",
    "chown": f"chown 1000:1000 {BIG}",
    "symlink to it": f"ln -s {BIG} /srv/latest",
    "hardlink to it": f"ln {BIG} /srv/app/data.hard",
    "rename it": f"mv {BIG} /srv/app/data.old",
    "delete it": f"rm {BIG}",
}


def does_copy_up(operation: str, big_size: int = 4096) -> bool:
    """Run one candidate on a fresh container and report whether the big file was copied up."""
    container = Container(app_image(big_size))
    actions = {
        "cat": lambda: container.read(BIG),
        "stat": lambda: container.exists(BIG),
        "open for writing, write nothing": lambda: container.append(BIG, b""),
        "append a byte": lambda: container.append(BIG, b"\n"),
        "chmod": lambda: container.chmod(BIG, 0o600),
        "chown": lambda: container.chown(BIG, 1000, 1000),
        "symlink to it": lambda: container.symlink(BIG, "/srv/latest"),
        "hardlink to it": lambda: container.link(BIG, "/srv/app/data.hard"),
        "rename it": lambda: container.rename(BIG, "/srv/app/data.old"),
        "delete it": lambda: container.unlink(BIG),
    }
    actions[operation]()
    return any(BIG in step.copied_up for step in container.log)


_COPY_UP_HINTS = {
    "cat": ("read", N_("the kernel serves the bytes straight from the lower layer.")),
    "stat": ("read", N_("it only reads the lower file's metadata.")),
    "open for writing, write nothing": (
        "open",
        N_(
            "the copy-up happens when the file is opened for writing, before a single byte "
            "is written."
        ),
    ),
    "append a byte": (
        "append",
        N_(
            "a write must go to the rw layer, so the file is copied up "
            "first, all of it, even to add one byte."
        ),
    ),
    "chmod": (
        "metadata",
        N_(
            "chmod changes no data, yet the whole file is copied up: the new "
            "mode has to live in the rw layer, on a file of its own."
        ),
    ),
    "chown": (
        "metadata",
        N_(
            "chown changes no data, yet the whole file is copied up: the new "
            "owner has to live in the rw layer, on a file of its own."
        ),
    ),
    "symlink to it": (
        "symlink",
        N_("a symlink only stores the target's name; the target itself is never touched."),
    ),
    "hardlink to it": (
        "hardlink",
        N_(
            "a hardlink must share the inode, so overlayfs copies the "
            "target up first and links to the copy."
        ),
    ),
    "rename it": (
        "rename",
        N_(
            "renaming a lower file copies it up (then renames it in the rw "
            "layer and whites out the old name)."
        ),
    ),
    "delete it": ("delete", N_("the rw layer only gets a whiteout, no data.")),
}


def check_copy_up(answer: object) -> str:
    if answer is Ellipsis or answer is None:
        raise NotSolved()
    chosen = set(
        as_items(answer, what=_("a set of names from COPY_UP_CANDIDATES"), example="{'chmod'}")
    )
    unknown = sorted(str(n) for n in chosen - set(COPY_UP_CANDIDATES))
    if unknown:
        raise Wrong(
            "unknown",
            _("{name!r} is not one of COPY_UP_CANDIDATES; copy the names exactly.").format(
                name=unknown[0]
            ),
        )
    truth = {op for op in COPY_UP_CANDIDATES if does_copy_up(op)}
    if chosen == truth:
        return _(
            "{count} of {total} operations copy the whole file up: "
            "every open for writing and every metadata change, plus hardlink and rename."
        ).format(count=len(truth), total=len(COPY_UP_CANDIDATES))
    if not chosen:
        raise Wrong("none", _("at least writing to the file must put it into the rw layer."))
    # Report the most telling mistake first: a wrong inclusion, then a missing one.
    for op in COPY_UP_CANDIDATES:
        if op in chosen and op not in truth:
            reason, hint = _COPY_UP_HINTS[op]
            raise Wrong(reason, _("{op!r} does not copy up: {hint}").format(op=op, hint=_(hint)))
    for op in COPY_UP_CANDIDATES:
        if op in truth and op not in chosen:
            reason, hint = _COPY_UP_HINTS[op]
            raise Wrong(reason, _("you left out {op!r}: {hint}").format(op=op, hint=_(hint)))
    raise AssertionError("unreachable")


COPY_UP_STUB = """
from layerlab.exercises.ex05 import COPY_UP_CANDIDATES   # the names to choose from

copies_up = ...  # YOUR CODE HERE: the set of names that copy the big file up

check("05.3", copies_up)
"""

COPY_UP_SOLUTION = """
from layerlab.exercises.ex05 import COPY_UP_CANDIDATES   # the names to choose from

copies_up = {"open for writing, write nothing", "append a byte", "chmod", "chown",
             "hardlink to it", "rename it"}

check("05.3", copies_up)
"""


# -- 05.4 mv after EXDEV ------------------------------------------------------------------
def _site_image() -> Image:
    """ubuntu plus /srv/app with what a copy tends to lose: an executable, a private
    directory and file, a symlink, a file owned by another user."""
    app = Layer(
        {
            "/srv/app": Dir(),
            "/srv/app/run.sh": File.of("#!/bin/sh\nexec ./server\n", 0o755),
            "/srv/app/conf": Dir(Meta(mode=0o700, uid=33, gid=33)),
            "/srv/app/conf/key.pem": File.of("secret\n", 0o600, uid=33, gid=33),
            "/srv/app/current": Symlink(target="run.sh"),
            "/srv/app/README": File.of("hello\n"),
        },
        name="app",
    )
    return build_image([*ubuntu_layers(), app])


#: (the image, what to move, where to) the checker tries.
MOVE_CASES: tuple[tuple[str, str, str], ...] = (
    ("site", "/srv/app", "/srv/app2"),
    ("site", "/srv/app", "/opt/app"),
    ("app", "/srv/app", "/srv/www"),
)


def _move_case(image: str) -> Container:
    return Container(_site_image() if image == "site" else app_image(1024), name="mover")


def _tree(container: Container, top: str) -> dict[str, tuple[object, ...]]:
    return {
        path[len(top) :]: shown
        for path, shown in visible_state(container).items()
        if path == top or path.startswith(top + "/")
    }


def check_move(solve: object) -> str:
    def explain(exc: BaseException) -> Wrong | None:
        if isinstance(exc, OSError) and exc.errno == errno.EXDEV:
            return Wrong(
                "exdev",
                _(
                    "rename(2) of a directory an image layer holds fails with EXDEV: overlayfs "
                    "(without redirect_dir) cannot move it. That is the error to handle: copy "
                    "the tree, then delete the original, as mv does."
                ),
            )
        return None

    for image, old, new in MOVE_CASES:
        container, model = _move_case(image), _move_case(image)
        before = snapshot(container.image_layers)
        steps = len(container.log)
        attempt(solve, container, old, new, explain=explain)
        require_image_untouched(before, container)
        if any(step.op == "move" for step in container.log[steps:]):
            raise Wrong(
                "used-move",
                _(
                    "container.move is mv itself, the thing to write. Use rename's error, "
                    "mkdir, write, chmod, chown, symlink and remove."
                ),
            )
        model.move(old, new)
        if visible_state(container) == visible_state(model):
            continue
        if not len(container.rw):
            raise NotSolved()
        moved, still = container.exists(new), container.exists(old)
        if moved and still:
            raise Wrong(
                "old-still-there",
                _(
                    "{new} is there, but so is {old}: a move also removes the old name (in the "
                    "rw layer that is a whiteout)."
                ).format(new=new, old=old),
            )
        if not moved and not still:
            raise Wrong(
                "lost-files",
                _(
                    "{old} is gone but {new} was never made: the files are lost. Copy first, "
                    "then delete."
                ).format(old=old, new=new),
            )
        if not moved:
            raise Wrong(
                "not-moved",
                _("{new} does not exist: move the directory to {new}.").format(new=new),
            )
        got, want = _tree(container, new), _tree(model, new)
        for path in sorted(set(got) | set(want)):
            mine, theirs = got.get(path), want.get(path)
            if mine == theirs:
                continue
            if mine is None or theirs is None:
                if mine is None:
                    hint = _(
                        "{path} is missing: the copy must hold exactly what {old} held "
                        "(subdirectories too)."
                    )
                else:
                    hint = _(
                        "{path} is extra: the copy must hold exactly what {old} held "
                        "(subdirectories too)."
                    )
                raise Wrong("different-files", hint.format(path=new + path, old=old))
            if str(theirs[0]).startswith("-> "):
                raise Wrong(
                    "symlink-followed",
                    _(
                        "{path} should be a symlink ({target}), like the original; you "
                        "copied what it points to. Copy the link itself (read its target)."
                    ).format(path=new + path, target=theirs[0]),
                )
            if mine[0] != theirs[0]:
                raise Wrong(
                    "different-files",
                    _("{path} does not hold the original bytes.").format(path=new + path),
                )
            if mine[1] != theirs[1]:
                raise Wrong(
                    "lost-modes",
                    _(
                        "{path} has mode {mode}, the original "
                        "{original}: mv keeps modes (an executable that stops being "
                        "executable, a key that becomes world-readable)."
                    ).format(path=new + path, mode=oct(mine[1])[2:], original=oct(theirs[1])[2:]),
                )
            raise Wrong(
                "lost-owner",
                _(
                    "{path} is owned by {owner}, the original by "
                    "{original}: mv keeps the owner (chown the copy)."
                ).format(
                    path=new + path,
                    owner=f"{mine[2]}:{mine[3]}",
                    original=f"{theirs[2]}:{theirs[3]}",
                ),
            )
        require_no_collateral(visible_state(model), container, set())
        raise Wrong(
            "mismatch",
            _("after moving {old} to {new} the container differs from mv's.").format(
                old=old, new=new
            ),
        )
    return _(
        "rename(2) fails with EXDEV for a lower directory, so mv copies the tree (modes, "
        "owners, symlinks and all) into the rw layer and whites out the old name: the price "
        "of moving a directory in a container."
    )


MOVE_STUB = '''
def solve(container, old, new):
    """mv old new, for a directory an image layer holds: container.rename(old, new) fails
    with EXDEV, so copy the tree as mv then does, and remove the original. Don't use
    container.move: that is what you are writing."""
    ...  # YOUR CODE HERE

check("05.4", solve)
'''

MOVE_SOLUTION = '''
import errno
from layerlab import Dir, File, Symlink

def solve(container, old, new):
    """mv old new, for a directory an image layer holds: container.rename(old, new) fails
    with EXDEV, so copy the tree as mv then does, and remove the original. Don't use
    container.move: that is what you are writing."""
    try:
        container.rename(old, new)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    for node in container.view().walk(old):         # parents before children
        copy, entry = new + node.path[len(old):], node.entry
        if isinstance(entry, Dir):
            container.mkdir(copy, entry.meta.mode)
        elif isinstance(entry, Symlink):
            container.symlink(entry.target, copy)   # the link, not what it points to
            continue
        elif isinstance(entry, File):
            container.write(copy, container.read(node.path))
            container.chmod(copy, entry.meta.mode)
        container.chown(copy, entry.meta.uid, entry.meta.gid)
    container.remove(old)                           # whiteouts for the old tree

check("05.4", solve)
'''

register(
    Exercise(
        "05.1",
        N_("delete a file as overlayfs does"),
        DELETE_STUB,
        DELETE_SOLUTION,
        check_delete,
    ),
    Exercise("05.2", N_("spell a layer as a tar"), TAR_STUB, TAR_SOLUTION, check_tar_names),
    Exercise("05.3", N_("which operations copy up"), COPY_UP_STUB, COPY_UP_SOLUTION, check_copy_up),
    Exercise("05.4", N_("mv after EXDEV"), MOVE_STUB, MOVE_SOLUTION, check_move),
)
