"""Leaving nothing behind: temp dirs, Ctrl-C during cleanup, and a hook to stop midway.

A lab that creates a mount, a cgroup or a namespace process must release it on every
way out: success, an error, a timeout, or the learner pressing the stop button. The
pieces here make that easy to get right:

- `temp_dir()` makes a private working directory and always removes it, even when a
  kernel-made file inside it (an overlayfs `work/work` dir of mode 000) resists.
- `shield_interrupts()` holds back Ctrl-C while cleanup runs, then delivers it: a
  second stop-button press must not leave a cgroup half removed.
- `stop_group(leader)` stops a lab's child and everything it started, and reaps them all,
  so not even a zombie is left for init to collect;
- `checkpoint(stage)` marks named steps inside the demos. Tests install a hook that
  raises `KeyboardInterrupt` at a chosen step, to prove the cleanup really happens.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

from . import syscalls

TEMP_PREFIX = "layerlab-live-"  # tests look for leftovers by this prefix

_hook: Callable[[str], None] | None = None


def set_checkpoint_hook(hook: Callable[[str], None] | None) -> None:
    """Install (or remove with None) a function called with each stage name."""
    global _hook
    _hook = hook


def checkpoint(stage: str) -> None:
    """Mark a step of a demo; a no-op unless a hook is installed (tests use one)."""
    if _hook is not None:
        _hook(stage)


@contextlib.contextmanager
def shield_interrupts() -> Iterator[None]:
    """Defer SIGINT until the block ends, then raise KeyboardInterrupt once.

    Only the main thread may change signal handlers; elsewhere the block runs unshielded
    (Python delivers KeyboardInterrupt to the main thread only, so that is still safe).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending and callable(previous):
        previous(signal.SIGINT, None)


def remove_tree(path: str) -> None:
    """rm -rf that also handles unreadable dirs the kernel made (overlayfs workdirs).

    It makes each directory it meets searchable again, so an unprivileged user can delete
    what an overlay mount created in its own temp dir. It never follows symlinks and never
    descends into another filesystem: if a mount were somehow still attached inside, it
    refuses rather than delete files through it.
    """
    try:
        top = os.lstat(path)
    except FileNotFoundError:
        return
    _remove(path, top.st_dev)


def _remove(path: str, device: int) -> None:
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        return
    if info.st_dev != device:
        raise OSError(errno.EBUSY, f"refusing to delete through a mount point: {path}")
    if info.st_mode & 0o700 != 0o700:
        os.chmod(path, 0o700)
    for name in os.listdir(path):
        _remove(os.path.join(path, name), device)
    os.rmdir(path)


@contextlib.contextmanager
def temp_dir(label: str = "lab") -> Iterator[str]:
    """A fresh directory under the system temp dir, removed however the block ends."""
    path = ""
    try:
        with shield_interrupts():  # a Ctrl-C right after mkdtemp must not leak the dir
            path = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{label}-")
        yield path
    finally:
        with shield_interrupts():
            if path:
                remove_tree(path)


def become_reaper() -> None:
    """In a lab's child: adopt orphaned descendants, and reap them all when told to stop.

    As a "child subreaper" (prctl PR_SET_CHILD_SUBREAPER), processes whose parent dies are
    re-parented to this child instead of to init. On SIGTERM it waits for every child and
    exits: that is the second half of `stop_group`.
    """
    signal.signal(signal.SIGTERM, _reap_all_and_exit)
    syscalls.become_subreaper()


def _reap_all_and_exit(signum: int, _frame: object) -> None:
    with contextlib.suppress(ChildProcessError):
        while True:
            os.waitpid(-1, 0)
    os._exit(128 + signum)


def stop_group(leader: int, grace: float = 1.0) -> int:
    """Stop a lab child (a group leader that called become_reaper) and all it started.

    1. SIGSTOP the whole process group, so nothing in it keeps running;
    2. SIGKILL every other member; being dead, they wait as zombies of their parent or,
       orphaned, of the leader (never of init);
    3. SIGTERM and SIGCONT the leader, which reaps them all and exits; we reap the leader.
    A fork that was under way when the group stopped may still complete, so members are
    killed again until the leader is gone. A leader that does not exit within `grace`
    seconds is SIGKILLed. Returns the leader's wait status.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader, signal.SIGSTOP)
    _kill_members(leader)
    for sig in (signal.SIGTERM, signal.SIGCONT):
        with contextlib.suppress(ProcessLookupError):
            os.kill(leader, sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        done, status = os.waitpid(leader, os.WNOHANG)
        if done:
            return status
        _kill_members(leader)
        time.sleep(0.002)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader, signal.SIGKILL)
    return os.waitpid(leader, 0)[1]


def _kill_members(leader: int) -> None:
    for pid in group_members(leader) - {leader}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def group_members(pgid: int) -> set[int]:
    """Processes in process group `pgid` that are still alive (zombies are already dead)."""
    members = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rpartition(b")")[2].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":  # after "(comm)": state, ppid, pgrp
            members.add(int(name))
    return members
