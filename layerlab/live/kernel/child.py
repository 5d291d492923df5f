"""Run a Python function in a forked child inside new namespaces, and always clean up.

Every live lab needs the same few steps, in the order the kernel requires:

1. fork, so the notebook's own process is never moved anywhere;
2. `setup` (for example: join a cgroup) while still outside any user namespace, because
   inside one our "root" is an ordinary user to the host's cgroup files;
3. unshare(2) into the requested namespaces; with a user namespace, write the uid and gid
   maps "0 <your uid> 1" (what `unshare -r` does), so uid 0 inside is you outside;
4. in a new mount namespace, make every mount private first, so nothing the lab mounts
   can propagate back to the host;
5. for a PID namespace, fork once more: unshare(CLONE_NEWPID) only affects the children
   of the caller, so the grandchild is PID 1 there; mount a fresh /proc for it;
6. run the function and send its return value back through a pipe (pickled).

The parent waits with a deadline. On timeout or KeyboardInterrupt it stops the child's whole
process group and reaps every process in it (`cleanup.stop_group`). The child's mounts live
in its private mount namespace and vanish with it, and the kernel SIGKILLs the child if the
parent dies.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import subprocess
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ... import host
from . import syscalls
from .cleanup import become_reaper, checkpoint, shield_interrupts, stop_group
from .result import LiveError

NAMESPACE_FLAGS = {
    "mnt": syscalls.CLONE_NEWNS,
    "uts": syscalls.CLONE_NEWUTS,
    "ipc": syscalls.CLONE_NEWIPC,
    "net": syscalls.CLONE_NEWNET,
    "pid": syscalls.CLONE_NEWPID,
    "cgroup": syscalls.CLONE_NEWCGROUP,
    "user": syscalls.CLONE_NEWUSER,
}
ALL_NAMESPACES = ("uts", "pid", "mnt", "net", "ipc", "cgroup")


class LiveTimeout(TimeoutError):
    """A lab's child did not finish in time; it was killed and cleaned up."""


@dataclass(frozen=True)
class Outcome:
    """How a child ended: its return value, or the error it raised, or the signal that killed it."""

    value: Any = None
    error: str | None = None
    errno: int | None = None
    exit_code: int | None = None
    signal: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.signal is None and self.exit_code == 0

    def unwrap(self) -> Any:
        """The value, or a LiveError saying how the child failed."""
        if self.ok:
            return self.value
        if self.signal is not None:
            name = signal.Signals(self.signal).name
            raise LiveError(f"the lab's child process was killed by {name}")
        raise LiveError(self.error or f"the lab's child exited with {self.exit_code}", self.errno)


def use_user_namespace(user: bool | None) -> bool:
    """None means: only when we are not root (a rootless lab needs one for everything)."""
    return host.euid() != 0 if user is None else user


def spawn(
    fn: Callable[..., Any],
    *args: Any,
    namespaces: Iterable[str] = (),
    user: bool | None = None,
    setup: Callable[[], None] | None = None,
    timeout: float = 10.0,
) -> Outcome:
    """Run fn(*args) in a child in new `namespaces` (names from NAMESPACE_FLAGS); see module doc."""
    names = set(namespaces) - {"user"}
    unknown = names - set(NAMESPACE_FLAGS)
    if unknown:
        raise ValueError(f"unknown namespace(s) {sorted(unknown)}; use {sorted(NAMESPACE_FLAGS)}")
    with_user = use_user_namespace(user)
    parent = os.getpid()
    read_end, write_end = os.pipe()
    pid = 0
    reaped: tuple[int, int] | None = None
    try:
        with shield_interrupts():  # a Ctrl-C during fork must not lose track of the child
            pid = os.fork()
            if pid == 0:  # the child: never returns into the caller's code
                try:
                    os.close(read_end)
                    _child_main(parent, write_end, fn, args, names, with_user, setup)
                finally:
                    os._exit(1)
            os.close(write_end)
            with contextlib.suppress(OSError):
                os.setpgid(pid, pid)  # the child does it too; whoever runs first wins
        checkpoint("child-started")
        payload = _read_all(read_end, time.monotonic() + timeout)
        reaped = _wait(pid, time.monotonic() + 2.0)
    except TimeoutError:
        raise LiveTimeout(f"the lab did not finish within {timeout:g} s; it was stopped") from None
    finally:
        with shield_interrupts():
            os.close(read_end)
            if pid and reaped is None:
                reaped = (pid, stop_group(pid))
            elif not pid:
                os.close(write_end)
    return _outcome(payload, reaped[1])


def run(fn: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """Like spawn(), but return the value or raise LiveError."""
    return spawn(fn, *args, **options).unwrap()


@dataclass(frozen=True)
class CommandResult:
    """What a command printed and how it ended (stdout/stderr decoded as UTF-8)."""

    returncode: int
    stdout: str
    stderr: str


def run_program(
    argv: Sequence[str], timeout: float, env: dict[str, str] | None = None
) -> CommandResult:
    """Run a program to the end (inside a lab's child) and collect what it printed."""
    done = subprocess.run(
        list(argv),
        capture_output=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=timeout,
        check=False,
    )
    return CommandResult(
        done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    )


class Witness:
    """A process left in the host's namespaces, to look at the host while the lab is inside.

    Fork it before unshare (in a child's `setup`); then, from inside, `ask()` makes it run
    `look` out there and returns the answer. The host view is taken while the lab's mount
    or hostname still exists, not afterwards when it is gone anyway.
    """

    def __init__(self, look: Callable[[], Any]) -> None:
        self.look = look
        self.pid = 0
        self.ask_fd = self.answer_fd = -1

    def start(self) -> None:
        ask_r, ask_w = os.pipe()
        answer_r, answer_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                syscalls.die_with_parent()
                os.close(ask_w)
                os.close(answer_r)
                if os.read(ask_r, 1):  # empty: the lab ended without asking
                    os.write(answer_w, pickle.dumps(self.look()))
            finally:
                os._exit(0)
        os.close(ask_r)
        os.close(answer_w)
        self.ask_fd, self.answer_fd = ask_w, answer_r

    def ask(self) -> Any:
        os.write(self.ask_fd, b"?")
        answer = b"".join(iter(lambda: os.read(self.answer_fd, 65536), b""))
        os.waitpid(self.pid, 0)
        return pickle.loads(answer)


def _read_all(fd: int, deadline: float) -> bytes:
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _wait(pid: int, deadline: float) -> tuple[int, int] | None:
    """Reap `pid` if it exits before the deadline (it closed the pipe, so it is exiting)."""
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return done, status
        time.sleep(0.002)
    return None


def _outcome(payload: bytes, status: int) -> Outcome:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return Outcome(signal=-code)
    if not payload:
        return Outcome(
            error=f"the lab's child exited with status {code} and sent no result", exit_code=code
        )
    kind, value, errno = pickle.loads(payload)
    if kind == "ok":
        return Outcome(value=value, exit_code=code)
    return Outcome(error=value, errno=errno, exit_code=code)


def _child_main(
    parent: int,
    out: int,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    names: set[str],
    with_user: bool,
    setup: Callable[[], None] | None,
) -> None:
    """Steps 2-6 of the module docstring; always ends in os._exit, never returns."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        become_reaper()  # before anything is forked: see cleanup.stop_group
        os.setpgid(0, 0)
        syscalls.die_with_parent()
        if os.getppid() != parent:  # the parent died before we asked
            os._exit(1)
        if setup is not None:
            setup()
        enter_namespaces(names, with_user)
        if "pid" in names:
            _fork_pid_one(out, names)  # returns only in the PID namespace's first process
        result: tuple[str, Any, int | None] = ("ok", fn(*args), None)
    except BaseException as exc:  # report every failure, then exit; never run parent code
        result = ("error", _describe(exc), getattr(exc, "errno", None))
    try:
        _send(out, result)
    finally:
        os._exit(0)


def enter_namespaces(names: set[str], with_user: bool) -> None:
    """unshare(2) into `names` (+ a user namespace), then map uids and privatise mounts."""
    uid, gid = host.euid(), host.egid()
    flags = 0
    for name in names:
        flags |= NAMESPACE_FLAGS[name]
    if with_user:
        flags |= syscalls.CLONE_NEWUSER
    if flags:
        syscalls.unshare(flags)
    if with_user:
        _write("/proc/self/setgroups", "deny")  # required before an unprivileged gid_map
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    if "mnt" in names:
        syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)


def _fork_pid_one(out: int, names: set[str]) -> None:
    """Fork the PID namespace's first process; the middle process waits and mirrors its end."""
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # only the group leader reaps
        syscalls.die_with_parent()
        if "mnt" in names:  # a /proc that shows this namespace's processes, as ps expects
            syscalls.mount(
                "proc", "/proc", "proc", syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC
            )
        return
    os.close(out)  # only PID 1 answers; the parent sees EOF when it is gone
    status = os.waitpid(pid, 0)[1]
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # die the same way, so the parent sees the real signal
        if -code != signal.SIGKILL:  # SIGKILL's disposition cannot (and need not) be reset
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code)


def _send(out: int, result: tuple[str, Any, int | None]) -> None:
    try:
        data = pickle.dumps(result)
    except Exception as exc:
        data = pickle.dumps(("error", f"the lab's result could not be sent back: {exc}", None))
    view = memoryview(data)
    while view:
        view = view[os.write(out, view) :]


def _describe(exc: BaseException) -> str:
    """One line a learner can act on: what failed, the errno name, and on which file."""
    if isinstance(exc, OSError) and exc.errno is not None:
        where = f" ({exc.filename})" if exc.filename else ""
        what = "" if exc.strerror == os.strerror(exc.errno) else f"{exc.strerror}: "
        return f"{what}{syscalls.errno_text(exc)}{where}"
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)
