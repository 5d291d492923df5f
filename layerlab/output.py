"""All or nothing: how every writer in layerlab creates its output.

A flatten or a save that fails half way must not leave a half-written tree that looks
finished, and must never touch what the user already had. So writers build their output
in a staging directory beside the destination and rename it into place at the end; if
anything goes wrong, including Ctrl-C, the staging directory is removed. The destination
itself must be absent or empty (`safety.check_destination`).

Only SIGKILL (or a power cut) can stop that cleanup. So staging names are recognisable,
`.DEST.layerlab-staging-XXXXXXXX`, and the writer holds an flock on its staging directory
(or file) while it works: the kernel drops the lock when the process dies, however it
dies. The next run for the same DEST removes every such name it can lock, that we own,
that is a real directory (or file) and that has not changed for a while. A staging
directory of a run still going is locked, and is left alone.

The output is the user's alone: a new DEST is a directory of mode 0700 (what `mkdtemp`
makes, as umoci makes its bundle directory), and nothing from the image ever changes its
mode or owner. An image may hold setuid files and device nodes; other users cannot reach
them until the owner looks and opens DEST up (`chmod 755 DEST`).

Removal is iterative and works on directory descriptors, so neither a tree 10,000 levels
deep nor a read-only (0555) directory can stop it, and it never follows a symlink.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from . import host
from .safety import LayerlabError, check_destination

__all__ = ["new_directory", "new_file", "remove_tree", "STAGING_TAG"]

#: What every staging name contains, after `.` and (a prefix of) the destination's name.
STAGING_TAG = ".layerlab-staging-"
#: Enough of the destination's name to recognise it; keeps staging names below NAME_MAX.
_NAME_PART = 64
#: A staging name nobody holds a lock on and that has not changed for this long is stale.
_STALE_AFTER = 10.0
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NAME_MAX = 255


def _staging_prefix(dest: Path) -> str:
    return f".{dest.name[:_NAME_PART]}{STAGING_TAG}"


def _identity(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _unlink(name: str, dir_fd: int) -> None:
    """Unlink `name` in the directory `dir_fd`, making the directory writable if needed."""
    try:
        os.unlink(name, dir_fd=dir_fd)
    except PermissionError:  # a 0555 directory from the image, when we are not root
        os.fchmod(dir_fd, stat.S_IRWXU)
        os.unlink(name, dir_fd=dir_fd)


def _open_dir(name: str, dir_fd: int) -> int:
    try:
        return os.open(name, _DIR, dir_fd=dir_fd)
    except PermissionError:  # a 0000 or 0111 directory: ours, so we may open it up
        os.chmod(name, stat.S_IRWXU, dir_fd=dir_fd, follow_symlinks=True)
        return os.open(name, _DIR, dir_fd=dir_fd)


def _clear(top: int) -> None:
    """Remove everything below the directory `top`, depth first, without recursion.

    Only one descriptor is open at a time besides `top`, so any depth works. Going back
    up uses "..", checked against the identity recorded on the way down: if anybody moved
    a directory meanwhile, we stop rather than remove something outside the tree.
    """
    fd = os.dup(top)
    levels: list[tuple[tuple[int, int], list[str] | None]] = [(_identity(fd), None)]
    try:
        while True:
            ident, pending = levels[-1]
            if pending is None:
                pending = []
                with os.scandir(fd) as entries:
                    for entry in entries:
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(entry.name)
                        else:
                            _unlink(entry.name, fd)
                levels[-1] = (ident, pending)
            if pending:
                child = _open_dir(pending[-1], fd)
                os.close(fd)
                fd = child
                levels.append((_identity(fd), None))
                continue
            if len(levels) == 1:
                return
            parent = os.open("..", _DIR, dir_fd=fd)
            os.close(fd)
            fd = parent
            levels.pop()
            if _identity(fd) != levels[-1][0]:
                raise OSError(errno.ESTALE, "a directory was moved while it was being removed")
            name = levels[-1][1].pop()  # type: ignore[union-attr]
            try:
                os.rmdir(name, dir_fd=fd)
            except PermissionError:
                os.fchmod(fd, stat.S_IRWXU)
                os.rmdir(name, dir_fd=fd)
    finally:
        os.close(fd)


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Remove a tree we wrote, at any depth, also when its directories are read-only.

    Symlinks inside the tree are removed, never followed; `path` itself may be a file.
    """
    path = Path(path)
    try:
        fd = os.open(path, _DIR)
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        path.unlink()  # a file or a symlink: just the name
        return
    try:
        _clear(fd)
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except PermissionError:
        os.chmod(path.parent, stat.S_IRWXU)
        os.rmdir(path)


def _locked(fd: int) -> bool:
    """Take the lock that marks a staging name as in use; False if somebody holds it."""
    if not host.can_lock():  # one Python in a web page: nobody else to keep out
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def remove_stale(dest: str | os.PathLike[str]) -> list[str]:
    """Remove staging leftovers of earlier runs for `dest` that were killed; their names.

    Safe by construction: only names that match the staging pattern exactly, that we own,
    that are a real directory or file (never a symlink), that nobody holds the lock of and
    that have not changed for `_STALE_AFTER` seconds.
    """
    dest = Path(os.path.abspath(dest))
    pattern = re.compile(re.escape(_staging_prefix(dest)) + r"[A-Za-z0-9_]{8}")
    removed: list[str] = []
    try:
        names = [n for n in os.listdir(dest.parent) if pattern.fullmatch(n)]
    except OSError:
        return removed
    for name in names:
        path = dest.parent / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if (
                st.st_uid != host.euid()
                or not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode))
                or time.time() - st.st_ctime < _STALE_AFTER
                or not _locked(fd)
            ):
                continue
            if stat.S_ISDIR(st.st_mode):
                _clear(fd)
                os.rmdir(path)
            else:
                os.unlink(path)
            removed.append(name)
        except OSError:
            continue  # somebody else is cleaning it up, or it is not ours to remove
        finally:
            os.close(fd)
    return removed


def _warn_left(path: Path, exc: BaseException) -> None:
    """Cleanup failed after another error: say so, but let the first error be reported."""
    print(
        f"layerlab: warning: could not remove {path} ({exc}); the next run for the same "
        "destination removes it",
        file=sys.stderr,
    )


def _check_name(dest: Path) -> None:
    if len(os.fsencode(dest.name)) > _NAME_MAX:
        raise LayerlabError(
            f"the name {dest.name[:40]}... is {len(os.fsencode(dest.name))} bytes long; "
            f"file names can have at most {_NAME_MAX}, choose a shorter one"
        )


def _in_place(dest: Path, existed: bool) -> bool:
    """Write into `dest` itself when renaming onto it would not work or would surprise:
    a mount point cannot be replaced, and the current directory must stay where it is."""
    if not existed:
        return False
    st = os.stat(dest)
    return st.st_dev != os.stat(dest.parent).st_dev or os.path.samefile(dest, os.getcwd())


@contextlib.contextmanager
def new_directory(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty directory to write into; on success it becomes `dest`, mode 0700.

    `dest` must be absent or empty. The work happens in a sibling staging directory that is
    renamed onto `dest`, so `dest` appears complete or not at all. When `dest` is a mount
    point, the current directory, or an empty directory in a parent we may not write, we
    write into it directly (mode 0700 while we do, and after) and, on failure, remove what
    we put there (it was empty, so all of it is ours) and give it back its mode.
    """
    dest = Path(os.path.abspath(dest))
    _check_name(dest)
    existed = check_destination(dest)
    remove_stale(dest)
    if _in_place(dest, existed):
        yield from _write_in_place(dest)
        return
    try:
        stage = Path(tempfile.mkdtemp(prefix=_staging_prefix(dest), dir=dest.parent))
    except OSError as exc:
        if existed and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            yield from _write_in_place(dest)  # an empty DEST of ours in a parent that is not
            return
        raise LayerlabError(
            f"cannot create a directory beside {dest}: {exc.strerror}; check the permissions "
            "of its parent"
        ) from None
    lock = os.open(stage, _DIR)
    try:
        _locked(lock)
        yield stage
        os.rename(stage, dest)
    except BaseException:
        try:
            remove_tree(stage)
        except OSError as cleanup:
            _warn_left(stage, cleanup)
        raise
    finally:
        os.close(lock)


def _write_in_place(dest: Path) -> Iterator[Path]:
    mode = stat.S_IMODE(os.stat(dest).st_mode)
    with contextlib.suppress(PermissionError):  # not ours (a shared mount): we are not root
        os.chmod(dest, stat.S_IRWXU)
    try:
        yield dest
    except BaseException:
        try:
            fd = os.open(dest, _DIR)
            try:
                _clear(fd)
            finally:
                os.close(fd)
            with contextlib.suppress(PermissionError):
                os.chmod(dest, mode)
        except OSError as cleanup:
            _warn_left(dest, cleanup)
        raise


@contextlib.contextmanager
def new_file(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `dest`; on success it is linked to `dest`.

    An existing `dest` is refused: layerlab never overwrites a user's file, also not one
    that appears while we write (the final step is link(2), which never replaces).
    """
    dest = Path(dest)
    _check_name(dest)
    if os.path.lexists(dest):
        raise LayerlabError(f"{dest} already exists; remove it or choose another name")
    if not dest.parent.is_dir():
        raise LayerlabError(f"the directory of {dest} does not exist; create it first")
    remove_stale(dest)
    try:
        fd, name = tempfile.mkstemp(prefix=_staging_prefix(dest), dir=dest.parent)
    except OSError as exc:
        raise LayerlabError(f"cannot create a file beside {dest}: {exc.strerror}") from None
    try:
        _locked(fd)
        yield Path(name)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(name, 0o666 & ~umask)  # mkstemp's 0600 is for the staging file only
        _publish(Path(name), dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    finally:
        os.close(fd)


def _publish(staged: Path, dest: Path) -> None:
    """Give the finished file its name without ever replacing a file of that name."""
    try:
        os.link(staged, dest)
    except FileExistsError:
        raise LayerlabError(
            f"{dest} appeared while layerlab was writing it; remove it or choose another name"
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        os.rename(staged, dest)  # a file system without hardlinks (vfat)
        return
    os.unlink(staged)
