"""Exercises of notebook 05: whiteouts, their spelling in a tar, copy-up, and moving a directory."""

from __future__ import annotations

import errno
import posixpath

from ..container import Container
from ..entries import Dir, File, OpaqueDir, Whiteout
from ..layer import Layer
from .framework import Exercise, NotSolved, Wrong, attempt, register
from .images import app_image, ubuntu_image
from .judging import layer_names, require_image_untouched, snapshot, visible_paths

__all__ = ["COPY_UP_CANDIDATES", "tar_layer", "does_copy_up"]


# -- 05.1 delete a file of the image ------------------------------------------------------
def check_delete(solve: object) -> str:
    container = Container(ubuntu_image())
    before = snapshot(container.image_layers)
    visible_before = visible_paths(container)
    attempt(solve, container, name="solve")
    require_image_untouched(before, container)
    rw = container.rw
    fake = [p for p in rw if posixpath.basename(p).startswith(".wh.")]
    if fake:
        also = " and /etc/motd is still there" if container.exists("/etc/motd") else ""
        raise Wrong(
            "literal-wh",
            f"the rw layer holds a real file {fake[0]}{also}. '.wh.' is "
            "only how a tar spells a deletion; in the model (and in overlayfs) a "
            "deletion is a Whiteout entry, and unlink/rm makes one for you.",
        )
    if container.exists("/etc/motd"):
        entry = rw.get("/etc/motd")
        if isinstance(entry, File) and entry.size == 0:
            raise Wrong(
                "empty-file",
                "you emptied /etc/motd, but an empty file is still a file: "
                "`ls /etc` shows it and the commit ships it. Deleting needs a whiteout.",
            )
        if len(rw) == 0:
            raise NotSolved()
        raise Wrong(
            "still-there",
            "/etc/motd is still visible in the container. Delete it "
            "through the container, so its rw layer records the deletion.",
        )
    if not isinstance(rw.get("/etc/motd"), Whiteout):
        raise Wrong(
            "no-whiteout",
            "/etc/motd is hidden, but not by a whiteout for it in the rw "
            "layer, so a commit would not record its deletion. Unlink just that file.",
        )
    collateral = sorted(visible_before - visible_paths(container) - {"/etc/motd"})
    if collateral:
        raise Wrong("collateral", f"you also deleted {collateral[0]}; delete only /etc/motd.")
    names = layer_names(container.commit().layer)
    return (
        "/etc/motd is gone from the merged view, the image is untouched, and the commit "
        f"records the deletion: {', '.join(n for n in names if '.wh.' in n)}."
    )


DELETE_STUB = '''
def solve(container):
    """Delete /etc/motd inside `container` (a fresh ubuntu container)."""
    ...  # YOUR CODE HERE

check("05.1", solve)
'''

DELETE_SOLUTION = '''
def solve(container):
    """Delete /etc/motd inside `container` (a fresh ubuntu container)."""
    container.unlink("/etc/motd")     # rm /etc/motd: the rw layer gets a whiteout

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


def check_tar_names(solve: object) -> str:
    answer = attempt(solve, tar_layer())
    if answer is None or answer is Ellipsis:
        raise NotSolved()
    if (
        isinstance(answer, str)
        or not hasattr(answer, "__iter__")
        or not all(isinstance(n, str) for n in answer)
    ):
        raise Wrong("not-names", "return a list of member names (strings) like 'etc/hosts'")
    names = sorted(n.rstrip("/") for n in answer)  # "etc/" and "etc" are one member
    truth = list(layer_names(tar_layer()))
    if any(n.startswith("/") for n in names):
        raise Wrong(
            "absolute", "member names are relative: 'etc/hosts.allow', not '/etc/hosts.allow'."
        )
    if names == truth:
        return (
            "etc/.wh.motd deletes the lower motd; var/cache/.wh..wh..opq, inside the "
            "directory, hides everything var/cache had below. The same names moby writes."
        )
    if "etc/motd" in names and "etc/.wh.motd" in names:
        raise Wrong(
            "both",
            "the layer has .wh.motd but you also left motd in the same layer. "
            "A reader keeps the real file when a layer holds both (OCI), so nothing "
            "would be deleted: a whiteout replaces the name.",
        )
    if "etc/motd" in names:
        raise Wrong(
            "whiteout-as-file",
            "etc/motd in a tar is a file called motd; the whiteout "
            "is spelled etc/.wh.motd (an empty file with the prefix).",
        )
    if "var/.wh.cache" in names:
        raise Wrong(
            "opaque-as-whiteout",
            "var/.wh.cache would delete the lower cache dir and "
            "everything under it. An opaque dir keeps its own entry and gets the marker "
            "inside it: var/cache/.wh..wh..opq.",
        )
    if "var/cache/.wh..wh..opq" not in names:
        raise Wrong(
            "opaque-missing",
            "var/cache is opaque: without var/cache/.wh..wh..opq a "
            "reader merges it with the lower var/cache, and old files show through.",
        )
    missing = sorted(set(truth) - set(names))
    extra = sorted(set(names) - set(truth))
    raise Wrong(
        "mismatch",
        f"missing {missing or 'nothing'}, unexpected {extra or 'nothing'}. "
        "Every entry, directories included, is one member.",
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
    "cat": ("read", "the kernel serves the bytes straight from the lower layer."),
    "stat": ("read", "it only reads the lower file's metadata."),
    "open for writing, write nothing": (
        "open",
        "the copy-up happens when the file is opened for writing, before a single byte is written.",
    ),
    "append a byte": (
        "append",
        "a write must go to the rw layer, so the file is copied up "
        "first, all of it, even to add one byte.",
    ),
    "chmod": (
        "metadata",
        "chmod changes no data, yet the whole file is copied up: the new "
        "mode has to live in the rw layer, on a file of its own.",
    ),
    "chown": (
        "metadata",
        "chown changes no data, yet the whole file is copied up: the new "
        "owner has to live in the rw layer, on a file of its own.",
    ),
    "symlink to it": (
        "symlink",
        "a symlink only stores the target's name; the target itself is never touched.",
    ),
    "hardlink to it": (
        "hardlink",
        "a hardlink must share the inode, so overlayfs copies the "
        "target up first and links to the copy.",
    ),
    "rename it": (
        "rename",
        "renaming a lower file copies it up (then renames it in the rw "
        "layer and whites out the old name).",
    ),
    "delete it": ("delete", "the rw layer only gets a whiteout, no data."),
}


def check_copy_up(answer: object) -> str:
    if answer is Ellipsis or answer is None:
        raise NotSolved()
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        raise Wrong(
            "not-a-set", "give a set of names from COPY_UP_CANDIDATES, like {'append a byte'}"
        )
    chosen = set(answer)  # type: ignore[arg-type]
    unknown = sorted(str(n) for n in chosen - set(COPY_UP_CANDIDATES))
    if unknown:
        raise Wrong(
            "unknown", f"{unknown[0]!r} is not one of COPY_UP_CANDIDATES; copy the names exactly."
        )
    truth = {op for op in COPY_UP_CANDIDATES if does_copy_up(op)}
    if chosen == truth:
        return (
            f"{len(truth)} of {len(COPY_UP_CANDIDATES)} operations copy the whole file up: "
            "every open for writing and every metadata change, plus hardlink and rename."
        )
    if not chosen:
        raise Wrong("none", "at least writing to the file must put it into the rw layer.")
    # Report the most telling mistake first: a wrong inclusion, then a missing one.
    for op in COPY_UP_CANDIDATES:
        if op in chosen and op not in truth:
            reason, hint = _COPY_UP_HINTS[op]
            raise Wrong(reason, f"{op!r} does not copy up: {hint}")
    for op in COPY_UP_CANDIDATES:
        if op in truth and op not in chosen:
            reason, hint = _COPY_UP_HINTS[op]
            raise Wrong(reason, f"you left out {op!r}: {hint}")
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


# -- 05.4 move a directory of the image ---------------------------------------------------
def _files_under(container: Container, top: str) -> dict[str, bytes]:
    view = container.view()
    return {
        node.path[len(top) :]: view.read(node.path)
        for node in view.walk(top)
        if isinstance(node.entry, File)
    }


def check_move(solve: object) -> str:
    container = Container(app_image(1024))
    before = snapshot(container.image_layers)
    files = _files_under(container, "/srv/app")

    def explain(exc: BaseException) -> Wrong | None:
        if isinstance(exc, OSError) and exc.errno == errno.EXDEV:
            return Wrong(
                "exdev",
                "rename(2) of a directory an image layer holds fails with "
                "EXDEV: overlayfs (without redirect_dir) cannot move it. mv then copies "
                "the tree and deletes the original; container.move does the same.",
            )
        return None

    attempt(solve, container, explain=explain)
    require_image_untouched(before, container)
    moved = container.exists("/srv/app2")
    still = container.exists("/srv/app")
    if not moved and still:
        if len(container.rw) == 0:
            raise NotSolved()
        raise Wrong("not-moved", "/srv/app2 does not exist: move the directory to /srv/app2.")
    if moved and still:
        raise Wrong(
            "old-still-there",
            "/srv/app2 is there, but so is /srv/app: a move also "
            "removes the old name (in the rw layer that is a whiteout).",
        )
    if not moved:
        raise Wrong(
            "lost-files",
            "/srv/app is gone but /srv/app2 was never made: the files "
            "are lost. Copy first, then delete (or let container.move do both).",
        )
    if _files_under(container, "/srv/app2") != files:
        raise Wrong(
            "different-files",
            "/srv/app2 does not hold the same files with the same contents as /srv/app did.",
        )
    if not isinstance(container.rw.get("/srv/app"), Whiteout):
        raise Wrong(
            "no-whiteout",
            "/srv/app is hidden, but without a whiteout for it in the "
            "rw layer; a commit would bring it back.",
        )
    copied = sum(len(v) for v in files.values())
    return (
        f"the rw layer now holds a whiteout for /srv/app and a full copy of its "
        f"{len(files)} files ({copied} bytes) under /srv/app2: the price of EXDEV."
    )


MOVE_STUB = '''
def solve(container):
    """Move the image's directory /srv/app to /srv/app2 inside `container`."""
    ...  # YOUR CODE HERE

check("05.4", solve)
'''

MOVE_SOLUTION = '''
def solve(container):
    """Move the image's directory /srv/app to /srv/app2 inside `container`."""
    container.move("/srv/app", "/srv/app2")   # mv: rename, and on EXDEV copy + delete

check("05.4", solve)
'''

register(
    Exercise(
        "05.1",
        "delete a file so that commit records a whiteout",
        DELETE_STUB,
        DELETE_SOLUTION,
        check_delete,
    ),
    Exercise("05.2", "spell a layer as a tar", TAR_STUB, TAR_SOLUTION, check_tar_names),
    Exercise("05.3", "which operations copy up", COPY_UP_STUB, COPY_UP_SOLUTION, check_copy_up),
    Exercise("05.4", "move a directory of the image", MOVE_STUB, MOVE_SOLUTION, check_move),
)
