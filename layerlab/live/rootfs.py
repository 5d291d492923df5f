"""A container's root filesystem, and the two ways to make it "/": chroot and pivot_root.

chroot(2) changes where *one process's* "/" starts. The host's whole mount tree is still
there, in the same mount namespace, and a process that may call chroot can climb out:
chroot into a subdirectory (its working directory is now *above* its root), then `cd ..`
until it reaches the real top, then `chroot(".")`. That is the classic chroot escape.

pivot_root(2) instead swaps the root *mount* of a private mount namespace: the new rootfs
becomes the mount at "/", the old root moves aside and is then unmounted. With nothing
above "/" left in the namespace, `cd ..` stops at the rootfs, and the same escape fails.

That is why Docker (runc) enters a container with pivot_root. It falls back to chroot only
where pivot_root cannot work: when the host's root is the initramfs ("rootfs", which can
never be unmounted), as on boot2docker. There `DOCKER_RAMDISK=1` makes runc move the new
root over "/" with MS_MOVE and chroot, and the isolation relies on dropping privileges.

Everything here runs in forked children inside new namespaces (see `kernel/child.py`): the
notebook's own root and mounts never change.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..samples import find_static_busybox
from .kernel import syscalls
from .kernel.child import ALL_NAMESPACES, CommandResult, run, run_program
from .kernel.cleanup import checkpoint, temp_dir
from .kernel.probe import run_live
from .kernel.result import LiveError, LiveResult, fact, live_world

MARKER = "LAYERLAB_ROOTFS"  # a file only the tiny rootfs has, to tell it from the host's root
# busybox applets linked into /bin: enough for a shell session inside the container
APPLETS = ("sh", "ls", "cat", "echo", "hostname", "ps", "id", "mount", "mkdir", "rm", "touch")
APPLETS += ("pwd", "uname", "sleep", "true", "false", "env", "head", "wc", "ln", "chroot")
_ENV = {"PATH": "/bin:/sbin:/usr/bin:/usr/sbin", "HOME": "/root", "TERM": "dumb"}


@dataclass(frozen=True)
class Rootfs:
    """A root filesystem on disk: where it is and whether it holds programs (busybox)."""

    path: str
    kind: str  # "busybox": /bin/busybox plus applet links; "files": demo files only

    def entries(self) -> list[str]:
        return sorted(os.listdir(self.path))


def build_rootfs(dest: str, busybox: str | None = "auto") -> Rootfs:
    """Fill the empty directory `dest` with a tiny root filesystem and return it.

    With a static busybox (auto-detected unless busybox=None) the rootfs can run a shell;
    without one it holds only the directories and files the chroot/pivot_root demos look at.
    """
    if os.listdir(dest):
        raise ValueError(f"{dest} is not empty; give an empty directory for the rootfs")
    for name in ("bin", "dev", "etc", "proc", "root", "sys", "tmp"):
        os.mkdir(os.path.join(dest, name))
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    files = {
        MARKER: "This directory is the container's root filesystem.\n",
        "etc/hostname": "container\n",
        "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        "etc/group": "root:x:0:\nnogroup:x:65534:\n",
        "etc/os-release": 'NAME="layerlab tiny rootfs"\nID=layerlab\n',
    }
    for name, text in files.items():
        with open(os.path.join(dest, name), "w") as handle:
            handle.write(text)
    source = find_static_busybox() if busybox == "auto" else busybox
    if source is None:
        return Rootfs(dest, "files")
    shutil.copy(source, os.path.join(dest, "bin", "busybox"))
    for applet in APPLETS:
        os.symlink("busybox", os.path.join(dest, "bin", applet))
    return Rootfs(dest, "busybox")


def chroot_into(new_root: str) -> None:
    """chroot + chdir: the process's "/" is now `new_root`, the mounts around it unchanged."""
    os.chroot(new_root)
    os.chdir("/")


def pivot_into(new_root: str) -> None:
    """Make `new_root` the root mount of this (private) mount namespace and drop the old root.

    runc's trick `pivot_root(".", ".")` stacks the old root on top of the new one, so no
    directory has to be created inside the container's rootfs; `umount -l .` then removes
    it. Call only in a child, after unshare(CLONE_NEWNS) and making mounts private.
    """
    syscalls.mount(new_root, new_root, None, syscalls.MS_BIND | syscalls.MS_REC)  # must be a mount
    os.chdir(new_root)
    syscalls.pivot_root(".", ".")
    syscalls.umount(".", syscalls.MNT_DETACH)
    os.chdir("/")


def populate_dev(new_root: str) -> None:
    """A minimal /dev, as runtimes make one: a tmpfs with the host's harmless devices bound in.

    Bind mounts rather than mknod, because a user namespace may not create device nodes.
    Call in a child's private mount namespace, before pivot_into().
    """
    dev = os.path.join(new_root, "dev")
    syscalls.mount("tmpfs", dev, "tmpfs", syscalls.MS_NOSUID, "mode=755,size=64k")
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        if os.path.exists(f"/dev/{name}"):
            open(os.path.join(dev, name), "w").close()
            syscalls.mount(f"/dev/{name}", os.path.join(dev, name), None, syscalls.MS_BIND)


def climb_out(hatch: str = "/.escape-hatch", depth: int = 64) -> None:
    """The classic chroot escape: needs CAP_SYS_CHROOT, which root in a chroot still has."""
    os.makedirs(hatch, exist_ok=True)
    os.chroot(hatch)  # our working directory is now outside our root...
    for _ in range(depth):
        os.chdir("..")  # ...so ".." is never stopped at the root: up to the real top
    os.chroot(".")
    os.chdir("/")


_TYPICAL_LISTING = [MARKER, "bin", "dev", "etc", "proc", "root", "sys", "tmp"]


@dataclass(frozen=True, kw_only=True)
class ChrootEscape(LiveResult):
    """What a root process inside a chroot sees, before and after the classic escape."""

    root_listing: list[str] = fact("ls / inside the chroot", simulated=_TYPICAL_LISTING)
    host_visible_before: bool = fact("host files visible before the escape", simulated=False)
    escaped: bool = fact("escaped to the host's root", simulated=True)
    title: ClassVar[str] = "chroot and the classic chroot escape"
    lesson: ClassVar[str] = (
        "chroot moves one process's '/', not the mount tree: root inside can "
        "chroot into a subdir, cd .. past its root, and reach the host."
    )


@dataclass(frozen=True, kw_only=True)
class PivotRootJail(LiveResult):
    """The same escape attempted after pivot_root in a private mount namespace."""

    root_listing: list[str] = fact("ls / inside", simulated=_TYPICAL_LISTING)
    old_root_visible_before_unmount: bool = fact(
        "host visible before unmounting the old root", simulated=True
    )
    old_root_visible_after_unmount: bool = fact("host visible after unmounting it", simulated=False)
    escaped: bool = fact("the chroot escape reached the host", simulated=False)
    title: ClassVar[str] = "pivot_root closes the escape"
    lesson: ClassVar[str] = (
        "pivot_root makes the rootfs the root mount of a private mount "
        "namespace; with the old root unmounted there is nothing above '/' "
        "to climb to. Docker prefers it, and falls back to chroot only "
        "when the host root is an initramfs (DOCKER_RAMDISK)."
    )


def chroot_escape() -> ChrootEscape:
    """chroot into a tiny rootfs, look around, then break out (in a throwaway child)."""

    def live() -> ChrootEscape:
        with temp_dir("chroot") as base:
            root, host_file = _stage(base)

            def inside() -> tuple[list[str], bool, bool]:
                chroot_into(root)
                listing, before = sorted(os.listdir("/")), os.path.exists(host_file)
                checkpoint("chrooted")
                climb_out()
                return (
                    listing,
                    before,
                    os.path.exists(host_file) and not os.path.exists("/" + MARKER),
                )

            listing, before, escaped = run(inside, namespaces=["mnt"], user=None)
        return ChrootEscape(
            live=True,
            world=live_world(),
            root_listing=listing,
            host_visible_before=before,
            escaped=escaped,
        )

    return run_live(["mount_namespace"], live, ChrootEscape.simulated)


def pivot_root_jail() -> PivotRootJail:
    """pivot_root into a tiny rootfs, unmount the old root, then try the same escape."""

    def live() -> PivotRootJail:
        with temp_dir("pivot") as base:
            root, host_file = _stage(base)

            def inside() -> tuple[list[str], bool, bool, bool]:
                old = os.path.join(root, ".oldroot")
                syscalls.mount(root, root, None, syscalls.MS_BIND)  # pivot_root needs a mount
                os.mkdir(old)
                syscalls.pivot_root(root, old)  # rootfs is "/" now; the host's root is /.oldroot
                os.chdir("/")
                before = os.path.exists("/.oldroot" + host_file)
                checkpoint("pivoted")
                syscalls.umount("/.oldroot", syscalls.MNT_DETACH)
                os.rmdir("/.oldroot")
                listing, after = sorted(os.listdir("/")), os.path.exists("/.oldroot" + host_file)
                climb_out()
                escaped = os.path.exists(host_file) or not os.path.exists("/" + MARKER)
                return listing, before, after, escaped

            listing, before, after, escaped = run(inside, namespaces=["mnt"], user=None)
        return PivotRootJail(
            live=True,
            world=live_world(),
            root_listing=listing,
            old_root_visible_before_unmount=before,
            old_root_visible_after_unmount=after,
            escaped=escaped,
        )

    return run_live(["mount_namespace", "pivot_root"], live, PivotRootJail.simulated)


def run_in_rootfs(
    rootfs: str,
    argv: Sequence[str],
    namespaces: Sequence[str] = ALL_NAMESPACES,
    user: bool | None = None,
    hostname: str = "container",
    timeout: float = 10.0,
) -> CommandResult:
    """Run a program of `rootfs` in new namespaces after pivot_root, as `docker run` would.

    Order matters: /dev and /proc are mounted inside the rootfs *before* pivot_root, because
    in a user namespace the kernel only allows a new proc mount while a full one is visible.
    """
    names = set(namespaces) | {"mnt"}
    if not os.path.exists(os.path.join(rootfs, "bin", "sh")):
        raise LiveError(f"{rootfs} has no /bin/sh; build it with a static busybox (busybox-static)")

    def inside() -> CommandResult:
        if "uts" in names:
            socket.sethostname(hostname)
        populate_dev(rootfs)
        if "pid" in names:
            syscalls.mount(
                "proc",
                os.path.join(rootfs, "proc"),
                "proc",
                syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC,
            )
        pivot_into(rootfs)
        return run_program(argv, timeout, env=_ENV)

    return run(inside, namespaces=sorted(names), user=user, timeout=timeout + 2)


def _stage(base: str) -> tuple[str, str]:
    """A rootfs under `base`, and a file beside it that only the host's root can reach."""
    root = os.path.join(base, "rootfs")
    os.mkdir(root)
    build_rootfs(root, busybox=None)
    host_file = os.path.join(base, "host-side.txt")
    with open(host_file, "w") as handle:
        handle.write("outside the rootfs\n")
    return root, host_file
