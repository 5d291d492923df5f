"""The handful of Linux system calls the live labs need, called through ctypes.

Python 3.11 has `os.chroot` and `socket.sethostname`, but not `unshare`, `mount`,
`umount2` or `pivot_root` (`os.unshare` only arrived in 3.12). These are thin wrappers
that raise `OSError` with the kernel's errno, exactly like the `os` module does, so a
learner reading a traceback sees "EPERM" rather than a ctypes return code.

Every call here changes the calling process only. The labs call them in short-lived
child processes (see `child.py`), never in the notebook's own process.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform

# Flags for unshare(2); the same numbers on every Linux architecture.
CLONE_NEWNS = 0x00020000  # mount namespace (its historic name: "new namespace")
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# Flags for mount(2) and umount2(2).
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

# pivot_root has no glibc wrapper on older systems, so it is called by number.
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

_libc: ctypes.CDLL | None = None


def _call(name: str, *args: object) -> int:
    """Call a libc function; turn -1 into OSError(errno) like the os module does."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    func = getattr(_libc, name, None)
    if func is None:  # not Linux, or a libc without it
        raise OSError(errno.ENOSYS, f"{name}() is not available on this system")
    result = func(*args)
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}() failed")
    return result


def _bytes(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (the core of every container)."""
    _call("unshare", ctypes.c_int(flags))


def mount(
    source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    """mount(2): attach a filesystem (or a bind, or a propagation change) at `target`."""
    _call(
        "mount", _bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data)
    )


def umount(target: str, flags: int = 0) -> None:
    """umount2(2); MNT_DETACH unhooks a busy mount lazily, as `umount -l` does."""
    _call("umount2", _bytes(target), ctypes.c_int(flags))


def pivot_root(new_root: str, put_old: str) -> None:
    """Make `new_root` the root mount of this mount namespace; the old root moves to `put_old`."""
    number = _SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, f"pivot_root: unknown syscall number on {platform.machine()}")
    _call("syscall", ctypes.c_long(number), _bytes(new_root), _bytes(put_old))


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (no orphans left behind)."""
    _call(
        "prctl",
        ctypes.c_int(PR_SET_PDEATHSIG),
        ctypes.c_ulong(9),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )


def become_subreaper() -> None:
    """Orphaned descendants of this process are re-parented to it rather than to init."""
    _call(
        "prctl",
        ctypes.c_int(PR_SET_CHILD_SUBREAPER),
        ctypes.c_ulong(1),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )


def errno_text(err: OSError) -> str:
    """'EPERM (Operation not permitted)': the symbolic name learners can search for."""
    if err.errno is None:
        return str(err)
    return f"{errno.errorcode.get(err.errno, err.errno)} ({os.strerror(err.errno)})"
