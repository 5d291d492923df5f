"""One list of file operations, done twice: through a real mount, and through the model.

An operation is a tuple: a `Container` method name and its arguments, such as
("unlink", "/etc/motd") or ("write", "/srv/new.txt", "hi\n"), or ("sh", SCRIPT) for the
image's own shell. `kernel_ops` performs them with plain os.* calls inside a chroot of the
overlay mount, `model_ops` with the Container's methods, so the two upper dirs can be
compared. `rm -r` and `mv` are spelled out in the model's own order (sorted children
first; rename, and on EXDEV copy then delete), so that even a failure half way through
leaves the same state on both sides.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Sequence

from ..container import Container
from ..samples import PATH
from .simshell import simulate

__all__ = ["Op", "OPERATIONS", "show_op", "kernel_ops", "model_ops", "ENV"]

Op = tuple  # ("unlink", "/etc/motd"): a Container method name and its arguments, or ("sh", script)
#: The environment a container's processes start with (Docker's, less HOSTNAME).
ENV = {"PATH": PATH, "HOME": "/root"}


def _remove(path: str) -> None:
    """rm -r, in the model's order: sorted children first, then the directory itself."""
    if os.path.isdir(path) and not os.path.islink(path):
        for name in sorted(os.listdir(path)):
            _remove(os.path.join(path, name))
        os.rmdir(path)
    else:
        os.unlink(path)


def _write(path: str, data: bytes | str, append: bool = False) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data.encode() if isinstance(data, str) else data)
    finally:
        os.close(fd)


def _copy_tree(old: str, new: str) -> None:
    """What mv does after EXDEV, in the model's order (`Overlay._copy_tree`)."""
    st = os.lstat(old)
    if os.path.isdir(old) and not os.path.islink(old):
        if not os.path.lexists(new):
            os.mkdir(new, st.st_mode & 0o7777)
        for name in sorted(os.listdir(old)):
            _copy_tree(os.path.join(old, name), os.path.join(new, name))
    elif os.path.islink(old):
        os.symlink(os.readlink(old), new)
    else:
        with open(old, "rb") as source:
            data = source.read()
        if os.path.lexists(new):
            os.unlink(new)
        fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, st.st_mode & 0o7777)
        os.write(fd, data)
        os.close(fd)


def _move(old: str, new: str) -> None:
    try:
        os.rename(old, new)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy_tree(old, new)
        _remove(old)


OPERATIONS = {
    "write": _write,
    "append": lambda path, data: _write(path, data, append=True),
    "chmod": os.chmod,
    "chown": os.chown,
    "unlink": os.unlink,
    "rmdir": os.rmdir,
    "remove": _remove,
    "mkdir": lambda path, mode=0o755: os.mkdir(path, mode),
    "symlink": os.symlink,
    "link": lambda existing, path: os.link(existing, path, follow_symlinks=False),
    "rename": os.rename,
    "move": _move,
}


def show_op(op: Op) -> str:
    """`chmod /etc/passwd 0o600`: paths as they are, other values as Python would type them."""
    name, *args = op
    shown = [a if isinstance(a, str) and a.startswith("/") else repr(a) for a in args]
    if name in ("chmod", "mkdir"):
        shown = [oct(a) if isinstance(a, int) else s for a, s in zip(args, shown, strict=True)]
    return " ".join([name, *shown])


def _status(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, str(exc.errno))


def kernel_ops(merged: str, ops: Sequence[Op]) -> list[tuple[str, str]]:
    """In a child: chroot into the mount, then each op; (status, printed output) per op."""
    os.chroot(merged)
    os.chdir("/")
    os.umask(0)  # modes exactly as asked, like the model
    done = []
    for name, *args in ops:
        try:
            if name == "sh":
                done.append(_shell(args[0]))
            else:
                OPERATIONS[name](*args)
                done.append(("ok", ""))
        except OSError as exc:
            done.append((_status(exc), ""))
    return done


def _shell(script: str) -> tuple[str, str]:
    """The image's own /bin/sh; stdin is an empty pipe, since the image has no /dev/null."""
    out = subprocess.run(
        ["/bin/sh", "-c", script],
        input=b"",
        capture_output=True,
        env=ENV,
        umask=0o022,  # what a container's processes usually run with
        timeout=10,
        check=False,
    )
    return f"exit {out.returncode}", out.stdout.decode(errors="replace")


def model_ops(container: Container, ops: Sequence[Op]) -> list[tuple[str, str]]:
    """The same ops through the Container's methods (each one recorded in its log)."""
    done = []
    for name, *args in ops:
        if name == "sh":
            out = simulate(container, ["sh", "-c", args[0]], container.hostname)
            done.append((f"exit {out.returncode}", out.stdout))
            continue
        if name not in OPERATIONS:
            raise ValueError(f"unknown operation {name!r}; use one of {sorted(OPERATIONS)} or 'sh'")
        try:
            getattr(container, name)(*args)
            done.append(("ok", ""))
        except OSError as exc:
            done.append((_status(exc), ""))
    return done
