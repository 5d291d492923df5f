"""Answers to notebook 08's runtime level 4, 08.6 an overlay root and pivot_root, wrong and
right.

Each mutant is a `run(k, argv, hostname, layers, box)` a learner could plausibly write,
with one line saying which misconception it holds; the key is the reason of its hint.
"""

from __future__ import annotations


def _rootfs(k, argv, layers, box, *, order="top-first", pivot_first=False, umount="detach",
            rmdir_first=False, proc="new-root", chroot=False):  # fmt: skip
    """PID 1's steps of level 4 with one changed; `proc`: mounted on the new root's /proc,
    or on the host's, before the pivot; `chroot`: into the overlay instead of pivoting."""
    root = f"{box}/merged"
    lower = ":".join(reversed(layers) if order == "top-first" else layers)
    if pivot_first:
        k.mkdir(f"{root}/.old")
        k.pivot_root(root, f"{root}/.old")
    k.mount("overlay", root, "overlay", 0,
            f"lowerdir={lower},upperdir={box}/upper,workdir={box}/work")  # fmt: skip
    k.mount("proc", f"{root}/proc" if proc == "new-root" else "/proc", "proc", 0)
    if chroot:
        k.chroot(root)
        k.chdir("/")
        k.execvp(argv[0], argv)
    k.mkdir(f"{root}/.old")
    k.pivot_root(root, f"{root}/.old")
    k.chdir("/")
    if rmdir_first:
        k.rmdir("/.old")
    if umount:
        k.umount2("/.old", k.MNT_DETACH if umount == "detach" else 0)
        k.rmdir("/.old")
    k.execvp(argv[0], argv)


def _runtime(k, argv, hostname, layers, box, *, newns=True, private=True, **pid_one):
    """Level 4's runtime with one step changed (see _rootfs for PID 1's)."""
    shim = k.fork()
    if shim == 0:
        try:
            k.unshare(k.CLONE_NEWUTS | k.CLONE_NEWPID | (k.CLONE_NEWNS if newns else 0))
            k.sethostname(hostname)
            if private:
                k.mount(None, "/", None, k.MS_REC | k.MS_PRIVATE)
            pid = k.fork()
            if pid == 0:
                try:
                    _rootfs(k, argv, layers, box, **pid_one)
                finally:
                    k._exit(127)
            _, status = k.waitpid(pid, 0)
            k._exit(k.waitstatus_to_exitcode(status))
        finally:
            k._exit(125)
    _, status = k.waitpid(shim, 0)
    return k.waitstatus_to_exitcode(status)


def not_private(k, argv, hostname, layers, box):
    """Thinks a new mount namespace is private by itself: its mounts still propagate."""
    return _runtime(k, argv, hostname, layers, box, private=False)


def pivot_before_mount(k, argv, hostname, layers, box):
    """Thinks pivot_root mounts the directory it is given."""
    return _runtime(k, argv, hostname, layers, box, pivot_first=True)


def keeps_the_old_root(k, argv, hostname, layers, box):
    """Thinks pivot_root alone hides the host: the old root stays mounted under put_old."""
    return _runtime(k, argv, hostname, layers, box, umount=None)


def umount_without_detach(k, argv, hostname, layers, box):
    """Unmounts the old root as one mount, though /proc and more are mounted under it."""
    return _runtime(k, argv, hostname, layers, box, umount="plain")


def rmdir_before_umount(k, argv, hostname, layers, box):
    """Removes put_old while the old root is still mounted on it."""
    return _runtime(k, argv, hostname, layers, box, rmdir_first=True)


def proc_on_the_hosts_proc(k, argv, hostname, layers, box):
    """Mounts /proc on the host's /proc before pivot_root: it goes away with the old root."""
    return _runtime(k, argv, hostname, layers, box, proc="host")


def lowerdirs_base_first(k, argv, hostname, layers, box):
    """Lists the lowerdirs base first, as the layers come: overlay reads the first on top."""
    return _runtime(k, argv, hostname, layers, box, order="base-first")


def chroot_not_pivot_root(k, argv, hostname, layers, box):
    """Thinks chroot into the overlay is as good as pivot_root: inside, the view is the same."""
    return _runtime(k, argv, hostname, layers, box, chroot=True)


def shim_builds_the_root(k, argv, hostname, layers, box):
    """Builds the root and mounts /proc in the shim, whose PID namespace is the host's."""
    shim = k.fork()
    if shim == 0:
        try:
            k.unshare(k.CLONE_NEWUTS | k.CLONE_NEWPID | k.CLONE_NEWNS)
            k.sethostname(hostname)
            k.mount(None, "/", None, k.MS_REC | k.MS_PRIVATE)
            root = f"{box}/merged"
            lower = ":".join(reversed(layers))
            k.mount("overlay", root, "overlay", 0,
                    f"lowerdir={lower},upperdir={box}/upper,workdir={box}/work")  # fmt: skip
            k.mount("proc", f"{root}/proc", "proc", 0)
            k.mkdir(f"{root}/.old")
            k.pivot_root(root, f"{root}/.old")
            k.chdir("/")
            k.umount2("/.old", k.MNT_DETACH)
            k.rmdir("/.old")
            pid = k.fork()
            if pid == 0:
                try:
                    k.execvp(argv[0], argv)
                finally:
                    k._exit(127)
            _, status = k.waitpid(pid, 0)
            k._exit(k.waitstatus_to_exitcode(status))
        finally:
            k._exit(125)
    _, status = k.waitpid(shim, 0)
    return k.waitstatus_to_exitcode(status)


WRONG = {
    "08.6": {
        "host-mounts": not_private,
        "pivot-refused": pivot_before_mount,
        "old-root-left": keeps_the_old_root,
        "umount-refused": umount_without_detach,
        "rmdir-refused": rmdir_before_umount,
        "no-proc": proc_on_the_hosts_proc,
        "lowerdir-order": lowerdirs_base_first,
        "proc-refused": shim_builds_the_root,
        "chroot-not-pivot": chroot_not_pivot_root,
    }
}


def runc_style(k, argv, hostname, layers, box):
    """runc's way: /proc mounted in the new root before the pivot, pivot_root(".", "."),
    then the old root, stacked on the new one, detached from "."."""
    shim = k.fork()
    if shim == 0:
        try:
            k.unshare(k.CLONE_NEWNS | k.CLONE_NEWPID | k.CLONE_NEWUTS)
            k.mount("none", "/", None, k.MS_PRIVATE | k.MS_REC)
            k.sethostname(hostname)
            child = k.fork()
            if not child:
                try:
                    merged = box + "/merged"
                    options = "lowerdir=" + ":".join(layers[::-1])
                    options += f",upperdir={box}/upper,workdir={box}/work"
                    k.mount("overlay", merged, "overlay", 0, options)
                    k.mount("proc", merged + "/proc", "proc", 0)
                    k.chdir(merged)
                    k.pivot_root(".", ".")
                    k.umount2(".", k.MNT_DETACH)
                    k.chdir("/")
                    k.execv(argv[0], argv)
                finally:
                    k._exit(127)
            k._exit(k.waitstatus_to_exitcode(k.waitpid(child, 0)[1]))
        finally:
            k._exit(125)
    return k.waitstatus_to_exitcode(k.waitpid(shim, 0)[1])


def shim_mounts_pid_one_pivots(k, argv, hostname, layers, box):
    """The shim mounts the overlay (the namespace is shared by PID 1), PID 1 pivots into it,
    with put_old named otherwise and /proc mounted after the pivot, before the old root goes,
    without devices, setuid or exec, and a chroot(".") after the pivot."""
    shim = k.fork()
    if shim == 0:
        try:
            k.unshare(k.CLONE_NEWUTS | k.CLONE_NEWPID)
            k.sethostname(hostname)
            k.unshare(k.CLONE_NEWNS)
            k.mount(None, "/", None, k.MS_REC | k.MS_PRIVATE)
            top_first = list(layers)
            top_first.reverse()
            upper, work, merged = (f"{box}/{name}" for name in ("upper", "work", "merged"))
            data = f"lowerdir={':'.join(top_first)},upperdir={upper},workdir={work}"
            k.mount("overlay", merged, "overlay", 0, data)
            pid = k.fork()
            if pid == 0:
                try:
                    k.mkdir(merged + "/oldroot", 0o700)
                    k.pivot_root(merged, merged + "/oldroot")
                    k.chdir("/")  # the host's /proc is still in sight, under /oldroot
                    k.chroot(".")  # harmless after pivot_root, as some runtimes do it
                    k.mount("proc", "/proc", "proc", k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC)
                    k.umount2("/oldroot", k.MNT_DETACH)
                    k.rmdir("/oldroot")
                    k.execvp(argv[0], argv)
                finally:
                    k._exit(127)
            _, status = k.waitpid(pid, 0)
            k._exit(k.waitstatus_to_exitcode(status))
        finally:
            k._exit(125)
    _, status = k.waitpid(shim, 0)
    return k.waitstatus_to_exitcode(status)


RIGHT = {"08.6": [runc_style, shim_mounts_pid_one_pivots]}
