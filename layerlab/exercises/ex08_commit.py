"""Notebook 08's last runtime level: commit, the container's overlay upper dir turned into a
layer, as `docker commit` does.

The upper dir spells deletions the way overlayfs does (a whiteout is a char device 0/0, an
opaque dir carries the xattr `trusted.overlay.opaque=y`, or `user.overlay.opaque` when the
overlay was mounted rootless with userxattr); a layer spells them the OCI way (`.wh.name`,
`dir/.wh..wh..opq`). The learner writes `commit(k, upper)`, reading the upper dir only
through `k` (the `os` module's `listdir`, `lstat`, `listxattr`, `getxattr`, and
`read_bytes`), and returns the layer's members. The model's own `write_changeset` of the
same rw layer is the expected answer.

Live, `k` reads a real directory written by `write_layer_dir` (real char devices, real
xattrs: root only, as `trusted.*` needs it), shown to the answer under the fixed path
UPPER, so nothing volatile reaches a hint. Elsewhere (rootless, LAYERLAB_LIVE=0, the
browser) `k` answers the same calls from the same layer in memory. The answer sees the same
names, modes, device numbers, xattrs and bytes either way, so the verdict cannot differ.
"""

from __future__ import annotations

import errno
import io
import os
import posixpath
import random
import stat
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ..container import Container
from ..entries import Dir, OpaqueDir, Whiteout
from ..i18n import N_, _
from ..layer import Layer
from ..safety import OPAQUE_MARKER, WHITEOUT_PREFIX
from ..samples import busybox_image
from ..tar.write import write_changeset
from .framework import Exercise, NotSolved, Wrong, attempt, register, require_function

__all__ = ["UPPER", "commit_cases", "expected_members", "observe_commit"]

#: Where the answer sees the upper dir, live or simulated: a path of no host.
UPPER = "/var/lib/box/upper"

Members = dict[str, "bytes | None"]


@dataclass(frozen=True)
class Case:
    """A container's rw layer after some changes, and how its overlay was mounted."""

    name: str
    changes: tuple[
        tuple[str, ...], ...
    ]  # ("unlink", path), ("rmdir-mkdir", dir), ("write", path, text)
    userxattr: bool = False  # mounted rootless: opaque is user.overlay.opaque

    def upper(self) -> Layer:
        box = Container(busybox_image(), name="box", hostname="box")
        for change in self.changes:
            if change[0] == "unlink":
                box.unlink(change[1])
            elif change[0] == "remove":
                box.remove(change[1])
            elif change[0] == "rmdir-mkdir":
                box.remove(change[1])
                box.mkdir(change[1])
            else:
                box.write(change[1], change[2])
        return box.rw


_FILES = ("/etc/motd", "/etc/group", "/etc/passwd", "/srv/index.html", "/srv/data/notes.txt")


def commit_cases(count: int = 2) -> list[Case]:
    """Hand-picked upper dirs, then seeded generated ones: the same list on every run."""
    rng = random.Random("08.8")
    generated = []
    for number in range(count):
        deleted = rng.sample(_FILES[:4], 2)
        changes: list[tuple[str, ...]] = [("unlink", path) for path in deleted]
        if rng.random() < 0.5:
            changes.append(("rmdir-mkdir", "/srv/data"))
        changes.append(("write", f"/tmp/job-{rng.randrange(100)}.out", f"run {number}\n"))
        generated.append(Case(f"generated {number}", tuple(changes), rng.random() < 0.5))
    return [
        Case(
            "a build",
            (
                ("unlink", "/etc/motd"),  # a whiteout
                ("rmdir-mkdir", "/srv/data"),  # an opaque dir
                ("write", "/srv/data/fresh.txt", "new data\n"),
                ("write", "/root/hello.txt", "hello\n"),
                ("write", "/tmp/empty", ""),  # an empty file is not a whiteout
            ),
        ),
        Case(
            "rootless",
            (("remove", "/etc/group"), ("rmdir-mkdir", "/srv/data"), ("remove", "/srv/index.html")),
            userxattr=True,
        ),
        Case("nothing changed", ()),
        *generated,
    ]


def expected_members(upper: Layer) -> Members:
    """The layer tar's members, name -> bytes (None for a directory): the model's commit."""
    tar = io.BytesIO()
    write_changeset(upper, tar)
    tar.seek(0)
    members: Members = {}
    with tarfile.open(fileobj=tar) as archive:
        for member in archive:
            handle = archive.extractfile(member) if member.isfile() else None
            members[member.name] = handle.read() if handle else None
    return members


# -- the two ways the answer may read an upper dir ------------------------------------------


class _Reader:
    """The calls `k` offers; each path must be UPPER or below it."""

    def __init__(self, opaque_xattr: str) -> None:
        self._opaque = opaque_xattr

    @staticmethod
    def _relative(path: str | os.PathLike[str]) -> str:
        text = posixpath.normpath(os.fspath(path))
        if text != UPPER and not text.startswith(UPPER + "/"):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), os.fspath(path))
        return text[len(UPPER) :]


class _LiveReader(_Reader):
    """The real directory at `base`, shown as UPPER; errors name the UPPER path."""

    def __init__(self, base: str, opaque_xattr: str) -> None:
        super().__init__(opaque_xattr)
        self._base = base

    def _do(self, call: Callable[..., Any], path: Any, *args: Any, **kwargs: Any) -> Any:
        real = self._base + self._relative(path)
        try:
            return call(real, *args, **kwargs)
        except OSError as exc:
            raise type(exc)(exc.errno, exc.strerror, os.fspath(path)) from None

    def listdir(self, path: str) -> list[str]:
        return sorted(self._do(os.listdir, path))

    def lstat(self, path: str) -> os.stat_result:
        return self._do(os.lstat, path)

    def listxattr(self, path: str) -> list[str]:
        return sorted(self._do(os.listxattr, path, follow_symlinks=False))

    def getxattr(self, path: str, attribute: str) -> bytes:
        return self._do(os.getxattr, path, attribute, follow_symlinks=False)

    def read_bytes(self, path: str) -> bytes:
        def read(real: str) -> bytes:
            if stat.S_ISCHR(os.lstat(real).st_mode):  # a whiteout: no driver behind 0/0
                raise OSError(errno.ENXIO, os.strerror(errno.ENXIO))
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as handle:
                return handle.read()

        return self._do(read, path)


class _SimReader(_Reader):
    """The same calls, answered from the layer in memory, as the live directory would."""

    def __init__(self, upper: Layer, opaque_xattr: str) -> None:
        super().__init__(opaque_xattr)
        self._entries = {"": Dir(), **dict(upper.items())}

    def _entry(self, path: Any) -> tuple[str, Any]:
        relative = self._relative(path)
        if relative not in self._entries:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), os.fspath(path))
        return relative, self._entries[relative]

    def listdir(self, path: str) -> list[str]:
        relative, entry = self._entry(path)
        if not isinstance(entry, Dir | OpaqueDir):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), os.fspath(path))
        return sorted(
            posixpath.basename(p)
            for p in self._entries
            if p and posixpath.dirname(p) == (relative or "/")
        )

    def lstat(self, path: str) -> os.stat_result:
        _, entry = self._entry(path)
        if isinstance(entry, Whiteout):
            mode, size = stat.S_IFCHR, 0
        elif isinstance(entry, Dir | OpaqueDir):
            mode, size = stat.S_IFDIR | entry.meta.mode, 4096
        else:
            mode, size = stat.S_IFREG | entry.meta.mode, entry.content.size
        fields = (mode, 0, 0, 1, entry.meta.uid, entry.meta.gid, size, 0, 0, 0)
        return os.stat_result(fields, {"st_rdev": 0})

    def listxattr(self, path: str) -> list[str]:
        _, entry = self._entry(path)
        return [self._opaque] if isinstance(entry, OpaqueDir) else []

    def getxattr(self, path: str, attribute: str) -> bytes:
        if attribute not in self.listxattr(path):
            raise OSError(errno.ENODATA, os.strerror(errno.ENODATA), os.fspath(path))
        return b"y"

    def read_bytes(self, path: str) -> bytes:
        _, entry = self._entry(path)
        if isinstance(entry, Dir | OpaqueDir):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if isinstance(entry, Whiteout):
            raise OSError(errno.ENXIO, os.strerror(errno.ENXIO), os.fspath(path))
        return entry.content.read()


def observe_commit(answer: Callable[..., Any], case: Case) -> Any:
    """What `answer(k, UPPER)` returns for the case's upper dir: live if the probe allows."""
    from ..live import probe

    upper = case.upper()
    xattr = "user.overlay.opaque" if case.userxattr else "trusted.overlay.opaque"

    def live() -> Any:
        from ..formats.ondisk import OnDiskFormat, write_layer_dir
        from ..live.kernel import cleanup
        from ..live.kernel.result import LiveError
        from ..safety import LayerlabError

        with cleanup.temp_dir("commit-level") as base:
            real = os.path.join(base, "upper")
            try:
                write_layer_dir(upper, real, OnDiskFormat.OVERLAY, userxattr=case.userxattr)
            except LayerlabError as exc:
                raise LiveError(str(exc)) from None
            return attempt(answer, _LiveReader(real, xattr), UPPER, name="commit", returns=True)

    def simulated(_reason: str) -> Any:
        return attempt(answer, _SimReader(upper, xattr), UPPER, name="commit", returns=True)

    return probe.run_live(["overlayfs"], live, simulated)


# -- judging: the members returned against the model's -----------------------------------------


def _members(value: Any) -> Members:
    """The answer as name -> bytes/None, in any reasonable form; names as in a tar."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        try:
            pairs = list(value) if not isinstance(value, str | bytes) else [value]
        except TypeError:
            pairs = [value]
        except Exception as exc:  # a generator of the learner's may fail half way
            raise Wrong(
                "raised",
                _("reading your answer raised {error}: {message}").format(
                    error=type(exc).__name__, message=exc
                ),
            ) from None
        if any(not isinstance(p, tuple | list) or len(p) != 2 for p in pairs):
            raise Wrong(
                "not-a-mapping",
                _(
                    "commit() returned a {type}: return a dict, each name in the layer (as in "
                    'its tar, e.g. "etc/.wh.motd") to the file\'s bytes, or None for a directory.'
                ).format(type=type(value).__name__),
            )
    members: Members = {}
    for name, data in pairs:
        text = str(name).strip() if isinstance(name, str | PurePosixPath) else repr(name)
        if text.lstrip("/").startswith(UPPER.lstrip("/")):
            raise Wrong(
                "host-paths",
                _(
                    "your names start with the upper dir's own path: a layer's names are "
                    'relative to the root it will be unpacked on, "etc/.wh.motd", not the '
                    "place the upper dir happens to live on this machine."
                ),
            )
        text = text.lstrip("/")
        while text.startswith("./"):
            text = text[2:]
        text = text.rstrip("/")
        if isinstance(data, str):
            data = data.encode(errors="surrogateescape")
        members[text] = bytes(data) if isinstance(data, bytes | bytearray | memoryview) else data
    return members


def _judge(got: Members, upper: Layer, case: Case) -> None:
    want = expected_members(upper)
    for path, entry in upper.items():
        name = path.lstrip("/")
        parent, base = posixpath.split(name)
        marker = posixpath.join(parent, WHITEOUT_PREFIX + base)
        if isinstance(entry, Whiteout) and marker not in got:
            if name in got:
                raise Wrong(
                    "whiteout-as-device",
                    _(
                        "/{name} is a char device 0/0 in the upper dir, and your layer has it "
                        "as /{name}: that is overlayfs' own spelling of a deletion. Unpacked "
                        "from a layer, it is just a device node, and the image's file is not "
                        "deleted. In a layer, a deletion is an empty file {marker}."
                    ).format(name=name, marker=marker),
                )
            odd = sorted(n for n in got if posixpath.dirname(n) == parent and base in n)
            if odd:
                raise Wrong(
                    "whiteout-name",
                    _(
                        "/{name} was deleted; your layer has {found} for it, but a layer "
                        "spells a deletion .wh. + the name: {marker}."
                    ).format(name=name, found=odd[0], marker=marker),
                )
            raise Wrong(
                "whiteout-dropped",
                _(
                    "/{name} was deleted in the container (a char device 0/0 in the upper "
                    "dir), but your layer says nothing about it: the image's /{name} would "
                    "come back. A deletion is an empty file {marker}."
                ).format(name=name, marker=marker),
            )
        if isinstance(entry, OpaqueDir) and posixpath.join(name, OPAQUE_MARKER) not in got:
            if case.userxattr:
                raise Wrong(
                    "userxattr-opaque",
                    _(
                        "/{name} is opaque, but your layer does not say so: this overlay was "
                        "mounted rootless (userxattr), where the mark is user.overlay.opaque=y, "
                        "not trusted.overlay.opaque. Look for either."
                    ).format(name=name),
                )
            raise Wrong(
                "opaque-missed",
                _(
                    "/{name} was deleted and made again: its xattr trusted.overlay.opaque=y "
                    "hides everything the image had in it. Your layer has no {marker}, so the "
                    "image's old files would show through again."
                ).format(name=name, marker=f"{name}/{OPAQUE_MARKER}"),
            )
    for name in sorted(set(got) - set(want)):
        if name.endswith("/" + OPAQUE_MARKER) or name == OPAQUE_MARKER:
            raise Wrong(
                "opaque-everywhere",
                _(
                    "your layer marks /{name} opaque, but it is not: a directory in the upper "
                    "dir only says something in it changed, and the image's other files in it "
                    "must stay. Only an opaque xattr makes it opaque."
                ).format(name=posixpath.dirname(name)),
            )
    missing_dirs = sorted(n for n, data in want.items() if data is None and n not in got)
    if missing_dirs:
        raise Wrong(
            "no-dirs",
            _(
                "your layer has no entry for the directory {name}: a layer tar holds each "
                "directory of the upper dir too, with its owner and mode (a /tmp without its "
                "1777 would lose it)."
            ).format(name=missing_dirs[0]),
        )
    for name, data in sorted(want.items()):
        if name in got and data is not None and got[name] != data:
            raise Wrong(
                "content",
                _(
                    "{name} should hold the bytes the upper dir has ({size} bytes), but your "
                    "layer gives {given}: k.read_bytes(path) reads them."
                ).format(name=name, size=len(data), given=_what(got[name])),
            )
    if got != want:
        extra = sorted(set(got) - set(want))
        missing = sorted(set(want) - set(got))
        name = (extra or missing or [n for n in sorted(want) if got[n] != want[n]])[0]
        raise Wrong(
            "layer-differs",
            f"{name}: " + (_("your layer has it, but the upper dir does not") if extra
                           else _("it is in the upper dir, but not in your layer") if missing
                           else _("a directory and a file are mixed up")),
        )  # fmt: skip


def _what(data: object) -> str:
    if isinstance(data, bytes):
        return _("{size} bytes").format(size=len(data))
    return _("a {type}").format(type=type(data).__name__)


def check_commit(answer: object) -> str:
    require_function(answer, "commit")
    for case in commit_cases():
        value = observe_commit(answer, case)
        if value is None or value is Ellipsis:
            raise NotSolved()
        _judge(_members(value), case.upper(), case)
    return _(
        "char devices 0/0 became .wh. files, opaque dirs got .wh..wh..opq, and everything "
        "else went in as it was: the layer `docker commit` writes from the same upper dir, "
        "member for member."
    )


COMMIT_STUB = '''
def commit(k, upper):
    """The layer's members from the overlay upper dir `upper`: a dict, each name as in a
    layer tar ("etc/.wh.motd", "srv/data") -> the file's bytes, or None for a directory.
    k reads the upper dir: k.listdir(path), k.lstat(path), k.listxattr(path),
    k.getxattr(path, name), k.read_bytes(path)."""
    ...  # YOUR CODE HERE

check("08.8", commit)
'''

COMMIT_SOLUTION = '''
import stat

OPAQUE = ("trusted.overlay.opaque", "user.overlay.opaque")  # as root; rootless (userxattr)

def commit(k, upper):
    """The layer's members from the overlay upper dir `upper`: a dict, each name as in a
    layer tar ("etc/.wh.motd", "srv/data") -> the file's bytes, or None for a directory.
    k reads the upper dir: k.listdir(path), k.lstat(path), k.listxattr(path),
    k.getxattr(path, name), k.read_bytes(path)."""
    members = {}

    def walk(path, name):                 # name: the path inside the layer, "" at the top
        for child in k.listdir(path):
            full, inside = f"{path}/{child}", f"{name}{child}"
            mode = k.lstat(full).st_mode
            if stat.S_ISCHR(mode) and k.lstat(full).st_rdev == 0:
                members[f"{name}.wh.{child}"] = b""       # overlay's whiteout -> OCI's
            elif stat.S_ISDIR(mode):
                members[inside] = None
                marks = [x for x in k.listxattr(full) if x in OPAQUE]
                if any(k.getxattr(full, x) == b"y" for x in marks):
                    members[f"{inside}/.wh..wh..opq"] = b""
                walk(full, inside + "/")
            else:
                members[inside] = k.read_bytes(full)

    walk(upper, "")
    return members

check("08.8", commit)
'''

register(
    Exercise(
        "08.8", N_("level 6: commit the upper dir"), COMMIT_STUB, COMMIT_SOLUTION, check_commit
    )
)
