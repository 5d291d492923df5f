"""Run file operations on a real overlayfs mount and on the model, and describe both the same way.

This module is shared by the in-process (root) tests and by `overlay_worker.py`, which runs
rootless inside `unshare -Urm` under Debian's own python3. So it imports only the standard
library and the pure parts of layerlab.

Both sides are reduced to a `Snapshot`: plain data (path -> tuple, plus the groups of names
that share an inode), which pickles across the worker pipe and compares with `==`.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from layerlab.copy_on_write import Overlay
from layerlab.entries import Dir, Entry, File, Hardlink, OpaqueDir, Symlink, Whiteout, normpath
from layerlab.formats.ondisk import OnDiskFormat, read_layer_dir, write_layer_dir
from layerlab.layer import Layer
from layerlab.mv import move
from layerlab.union import UnionView

#: Docker 20.10's overlay2 mounts with index=off and never asks for redirect_dir, so the
#: kernel default applies; on this machine /sys/module/overlay/parameters/redirect_dir is N.
#: We spell it out so that a kernel built with another default still behaves like Docker.
#: metacopy=off pins "copy-up copies the whole file" (docs/semantics.md 12) likewise.
#: With userxattr the kernel refuses redirect_dir=off (it means "off but follow"), so the
#: rootless mount asks for nofollow, which creates no redirects either.
ROOT_OPTIONS = "index=off,redirect_dir=off,metacopy=off"
ROOTLESS_OPTIONS = "index=off,redirect_dir=nofollow,metacopy=off,userxattr"


@dataclass(frozen=True)
class Op:
    """One file operation, named after the Overlay method that models it."""

    name: str
    args: tuple

    def __str__(self) -> str:
        return f"{self.name}({', '.join(repr(a) for a in self.args)})"


@dataclass(frozen=True)
class Snapshot:
    """A tree as plain data: entries by path, and the groups of names sharing an inode."""

    entries: dict[str, tuple]
    links: frozenset[frozenset[str]] = field(default_factory=frozenset)
    #: A layer's xattrs by path (empty ones left out). The kernel's private
    #: trusted./user.overlay.* xattrs (origin, impure) must never show up here.
    xattrs: dict[str, tuple] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What one run did: the errno of each operation (None = success) and the two trees."""

    errors: list[int | None]
    merged: Snapshot
    upper: Snapshot


# -- describing entries the same way on both sides -------------------------------------------
def describe(entry: Entry, *, merged: bool = False) -> tuple:
    """Kind, mode, owner and data. Opacity only exists in a layer, never in a merged view."""
    meta = entry.meta
    if isinstance(entry, Whiteout):
        return ("whiteout",)
    if isinstance(entry, OpaqueDir) and not merged:
        return ("opaque dir", meta.mode, meta.uid, meta.gid)
    if isinstance(entry, Dir):
        return ("dir", meta.mode, meta.uid, meta.gid)
    if isinstance(entry, File):
        return ("file", meta.mode, meta.uid, meta.gid, entry.content.read())
    if isinstance(entry, Symlink):
        return ("symlink", entry.target, meta.uid, meta.gid)
    return (entry.kind,)


def _groups(by_inode: dict[object, list[str]]) -> frozenset[frozenset[str]]:
    return frozenset(frozenset(names) for names in by_inode.values() if len(names) > 1)


def view_snapshot(view: UnionView) -> Snapshot:
    """The merged tree the model shows, hardlinks grouped by the view's inode numbers."""
    entries: dict[str, tuple] = {}
    by_inode: dict[object, list[str]] = {}
    for node in view.walk():
        if node.path == "/":
            continue
        entries[node.path] = describe(node.entry, merged=True)
        if not isinstance(node.entry, Dir):
            by_inode.setdefault(node.inode, []).append(node.path)
    return Snapshot(entries, _groups(by_inode))


def layer_snapshot(layer: Layer) -> Snapshot:
    """A layer's own entries, hardlinks resolved to the entry whose data they share."""
    entries: dict[str, tuple] = {}
    xattrs: dict[str, tuple] = {}
    by_inode: dict[object, list[str]] = {}
    for path, entry in layer.items():
        if path == "/":
            continue
        data_path = path
        seen = {path}
        while isinstance(entry, Hardlink):
            target = normpath(entry.target)
            if target not in layer or target in seen:
                break
            seen.add(target)
            data_path, entry = target, layer[target]
        if isinstance(entry, Hardlink):  # to a lower layer's file (or a broken chain)
            entries[path] = ("hardlink", normpath(entry.target))
            continue
        entries[path] = describe(entry)
        if entry.meta.xattrs:
            xattrs[path] = entry.meta.xattrs
        if not isinstance(entry, (Dir, Whiteout)):
            by_inode.setdefault(data_path, []).append(path)
    return Snapshot(entries, _groups(by_inode), xattrs)


def tree_snapshot(root: str) -> Snapshot:
    """Walk a mounted tree with lstat, as a process in the container would see it."""
    entries: dict[str, tuple] = {}
    by_inode: dict[object, list[str]] = {}

    def walk(directory: str, prefix: str) -> None:
        for name in sorted(os.listdir(directory)):
            full = os.path.join(directory, name)
            path = f"{prefix}/{name}"
            st = os.lstat(full)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                entries[path] = ("dir", mode, st.st_uid, st.st_gid)
                walk(full, path)
                continue
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    entries[path] = ("file", mode, st.st_uid, st.st_gid, f.read())
            elif stat.S_ISLNK(st.st_mode):
                entries[path] = ("symlink", os.readlink(full), st.st_uid, st.st_gid)
            else:
                entries[path] = ("special", st.st_mode, st.st_rdev)
            by_inode.setdefault((st.st_dev, st.st_ino), []).append(path)

    walk(root, "")
    return Snapshot(entries, _groups(by_inode))


# -- the operations, twice ----------------------------------------------------------------------
def run_on_model(overlay: Overlay, ops: Iterable[Op]) -> list[int | None]:
    """Apply `ops` to the model; an OSError's errno is the result, like a failing syscall."""
    actions: dict[str, Callable[..., object]] = {
        "write": overlay.write,
        "append": lambda path, data: overlay.write(path, data, append=True),
        "chmod": overlay.chmod,
        "chown": overlay.chown,
        "unlink": overlay.unlink,
        "rmdir": overlay.rmdir,
        "remove": overlay.remove,
        "mkdir": overlay.mkdir,
        "rename": overlay.rename,
        "move": lambda old, new: move(overlay, old, new),
        "symlink": overlay.symlink,
        "link": overlay.link,
    }
    errors: list[int | None] = []
    for op in ops:
        try:
            actions[op.name](*op.args)
        except OSError as exc:
            errors.append(exc.errno)
        else:
            errors.append(None)
    return errors


class KernelOps:
    """The same operations through a mounted overlayfs, with plain os.* calls.

    `remove` spells out `rm -r` in the model's order (sorted children first); `move` is
    busybox's `mv` (busybox is what the Docker tests run), step by step.
    """

    def __init__(self, root: str) -> None:
        self.root = root

    def _p(self, path: str) -> str:
        return os.path.join(self.root, normpath(path).lstrip("/"))

    def write(self, path: str, data: bytes, append: bool = False, mode: int = 0o644) -> None:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        fd = os.open(self._p(path), flags, mode)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def append(self, path: str, data: bytes) -> None:
        self.write(path, data, append=True)

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(self._p(path), mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(self._p(path), uid, gid)

    def unlink(self, path: str) -> None:
        os.unlink(self._p(path))

    def rmdir(self, path: str) -> None:
        os.rmdir(self._p(path))

    def remove(self, path: str) -> None:
        if stat.S_ISDIR(os.lstat(self._p(path)).st_mode):
            for name in sorted(os.listdir(self._p(path))):
                self.remove(f"{normpath(path).rstrip('/')}/{name}")
            self.rmdir(path)
        else:
            self.unlink(path)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        os.mkdir(self._p(path), mode)

    def rename(self, old: str, new: str) -> None:
        os.rename(self._p(old), self._p(new))

    def move(self, old: str, new: str) -> None:
        """busybox `mv OLD NEW`: it stat(2)s NEW, following symlinks (only ENOENT may come
        back), and moves OLD *into* NEW when that is a directory, stat(2)ing the name inside
        the same way. Then rename(2); on EXDEV, unlink(2) an existing target (so a directory
        there stops the move with EISDIR), copy OLD like `cp -a`, `rm -rf` OLD."""
        if stat.S_ISDIR(self._stat_mode(new)):
            new = f"{normpath(new).rstrip('/')}/{normpath(old).rsplit('/', 1)[-1]}"
            self._stat_mode(new)
        try:
            self.rename(old, new)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            if os.path.lexists(self._p(new)):
                self.unlink(new)
            self._copy_tree(normpath(old), normpath(new), {})
            self.remove(old)

    def _stat_mode(self, path: str) -> int:
        """st_mode of what `path` names, following symlinks; 0 if it does not exist."""
        try:
            return os.stat(self._p(path)).st_mode
        except FileNotFoundError:
            return 0

    def _copy_tree(self, old: str, new: str, links: dict[tuple[int, int], str]) -> None:
        """busybox copy_file(RECUR | PRESERVE_STATUS): owner, mode and mtime are kept (a
        symlink gets only its owner back), a directory's after its children, and names
        that share an inode in the source share one in the copy."""
        st = os.lstat(self._p(old))
        if stat.S_ISDIR(st.st_mode):
            self.mkdir(new, stat.S_IMODE(st.st_mode))
            for name in sorted(os.listdir(self._p(old))):
                self._copy_tree(f"{old}/{name}", f"{new}/{name}", links)
            self._keep_status(new, st)
        elif stat.S_ISLNK(st.st_mode):
            self.symlink(os.readlink(self._p(old)), new)
            os.chown(self._p(new), st.st_uid, st.st_gid, follow_symlinks=False)
        elif (st.st_dev, st.st_ino) in links:
            os.link(self._p(links[st.st_dev, st.st_ino]), self._p(new))
        else:
            with open(self._p(old), "rb") as f:
                data = f.read()
            self.write(new, data, mode=stat.S_IMODE(st.st_mode))
            self._keep_status(new, st)
            if st.st_nlink > 1:
                links[st.st_dev, st.st_ino] = new

    def _keep_status(self, path: str, st: os.stat_result) -> None:
        os.utime(self._p(path), ns=(st.st_atime_ns, st.st_mtime_ns))
        os.chown(self._p(path), st.st_uid, st.st_gid)
        os.chmod(self._p(path), stat.S_IMODE(st.st_mode))  # after chown, which drops S_ISUID

    def symlink(self, target: str, path: str) -> None:
        os.symlink(target, self._p(path))

    def link(self, existing: str, path: str) -> None:
        os.link(self._p(existing), self._p(path), follow_symlinks=False)

    def run(self, ops: Iterable[Op]) -> list[int | None]:
        errors: list[int | None] = []
        for op in ops:
            try:
                getattr(self, op.name)(*op.args)
            except OSError as exc:
                errors.append(exc.errno)
            else:
                errors.append(None)
        return errors


# -- a real mount ---------------------------------------------------------------------------
def mount_overlay(lowers: list[str], upper: str, work: str, target: str, *, rootless: bool) -> None:
    """mount -t overlay; `lowers` bottom first (overlayfs wants the top lower first)."""
    options = f"lowerdir={':'.join(reversed(lowers))},upperdir={upper},workdir={work}," + (
        ROOTLESS_OPTIONS if rootless else ROOT_OPTIONS
    )
    subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, target],
        check=True,
        capture_output=True,
        text=True,
    )


def unmount(target: str) -> None:
    """Unmount, falling back to a lazy unmount so no test ever leaves a mount behind."""
    done = subprocess.run(["umount", target], capture_output=True, text=True)
    if done.returncode != 0:
        subprocess.run(["umount", "-l", target], check=True, capture_output=True, text=True)


def run_on_kernel(
    lowers: list[Layer],
    ops: list[Op],
    *,
    rootless: bool,
    base: str | None = None,
    runner: type[KernelOps] = KernelOps,
) -> Outcome:
    """Materialize `lowers`, mount them, run `ops` through the mount, describe the result."""
    fmt = OnDiskFormat.OVERLAY
    top = tempfile.mkdtemp(prefix="layerlab-ovl-", dir=base)
    upper, work, merged = (os.path.join(top, n) for n in ("upper", "work", "merged"))
    old_umask = os.umask(0)
    try:
        lower_dirs = [os.path.join(top, f"l{i}") for i in range(len(lowers))]
        for layer, directory in zip(lowers, lower_dirs, strict=True):
            write_layer_dir(layer, directory, fmt, userxattr=rootless)
        for d in (upper, work, merged):
            os.mkdir(d, 0o755)
        mount_overlay(lower_dirs, upper, work, merged, rootless=rootless)
        errors = runner(merged).run(ops)
        merged_snap = tree_snapshot(merged)
        unmount(merged)
        if rootless:
            # With userxattr the kernel cannot store a file handle in the origin xattr, so
            # a file copied up during this mount keeps reporting its lower st_ino while a
            # new hardlink to it reports the upper one. A fresh mount of the same dirs
            # reports one inode for both names again: group hardlinks there.
            mount_overlay(lower_dirs, upper, work, merged, rootless=rootless)
            merged_snap = Snapshot(merged_snap.entries, tree_snapshot(merged).links)
            unmount(merged)
        upper_snap = layer_snapshot(read_layer_dir(upper, fmt, userxattr=rootless))
        return Outcome(errors, merged_snap, upper_snap)
    finally:
        os.umask(old_umask)
        if os.path.ismount(merged):  # asked of the kernel, so even a Ctrl-C mid-mount is seen
            unmount(merged)
        shutil.rmtree(top, ignore_errors=True)


class RootKernel:
    """Mounts as root in this process; the rootless counterpart is rootless.RootlessWorker."""

    rootless = False

    def run(self, lowers: list[Layer], ops: list[Op]) -> Outcome:
        return run_on_kernel(lowers, ops, rootless=False)


def run_on_model_outcome(
    lowers: list[Layer], ops: list[Op], *, rootless: bool
) -> tuple[Outcome, Overlay]:
    """The model's side of the same run, described like `run_on_kernel`'s.

    Root in a user namespace lacks CAP_FSETID in the initial namespace, so the rootless
    model's writer is `fsetid=False`: its writes clear set-user-ID, as the kernel's do.
    """
    overlay = Overlay(list(lowers), fsetid=not rootless)
    errors = run_on_model(overlay, ops)
    merged = view_snapshot(UnionView([*lowers, overlay.upper]))
    return Outcome(errors, merged, layer_snapshot(overlay.upper)), overlay
