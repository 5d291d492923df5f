"""Run a learner's runtime on the live kernel, in a sandbox that it cannot harm.

The sandbox is a forked child in new UTS, IPC and network namespaces (and, without root, a
user namespace where it is uid 0), named HOST_NAME: to the learner's code it is "the
host". A `run()` that renames the host, or forgets to wait, does so in there, and
everything is gone when the sandbox ends: `child.spawn` stops its whole process group on a
timeout, on Ctrl-C or when the answer hangs, and the temp dir holding the probes' reports
is removed. The answer is given `LiveKernel()`, the real calls under the same names as
SimKernel's. Each probe the answer exec's writes one line about itself (PID, hostname,
namespaces) to an inherited descriptor, then exits with the code it was given.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .kernels import CLONE, HOST_NAME, Observed, Ran, judged_call

__all__ = ["LiveKernel", "live_observe", "probe_argv"]

# A new PID namespace that has no process yet has no pid_for_children link (ENOENT): "none".
_PROBE_CODE = (
    "import os,sys\n"
    "def n(x):\n"
    " try:return os.readlink('/proc/self/ns/'+x)\n"
    " except OSError:return 'none'\n"
    "r=(os.getpid(),os.uname().nodename,n('uts'),n('pid'),n('pid_for_children'))\n"
    "if len(sys.argv)>3:\n"  # the pids hierarchy's mount: report the cgroup, try 64 forks
    " c=[l.split(':',2) for l in open('/proc/self/cgroup').read().splitlines()]\n"
    " g=next((x[2] for x in c if 'pids' in x[1].split(',')),None)\n"
    " g=g or next(x[2] for x in c if x[0]=='0')\n"
    " try:m=open(sys.argv[3]+g+'/pids.max').read().strip()\n"
    " except OSError:m='max'\n"
    " k,f=[],False\n"
    " for _ in range(64):\n"
    "  try:p=os.fork()\n"
    "  except BlockingIOError:f=True;break\n"
    "  if p==0:os._exit(0)\n"
    "  k.append(p)\n"
    " for p in k:os.waitpid(p,0)\n"
    " r+=(g,m,f)\n"
    "os.write(int(sys.argv[2]),('probe %r\\n'%(r,)).encode())\n"
    "sys.exit(int(sys.argv[1]))\n"
)


def probe_argv(code: int, fd: int, pids_mount: str = "") -> list[str]:
    """A command that reports what it sees on `fd`, then exits with `code`; with the pids
    hierarchy's mount point, its cgroup too, and whether pids.max refused it a fork."""
    argv = [sys.executable, "-I", "-S", "-c", _PROBE_CODE, str(code), str(fd)]
    return argv + [pids_mount] if pids_mount else argv


# The cgroup calls raise without the file name (cgroup paths differ between machines), from
# functions named as SimKernel's, so a hint that names where an error came from reads the same.
def _mkdir(path: str) -> None:
    try:
        os.mkdir(path)
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror) from None


def _rmdir(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror) from None


def _write_file(path: str, text: str | bytes) -> None:
    data = text if isinstance(text, bytes) else str(text).encode()
    try:
        with open(path, "wb", buffering=0) as handle:  # one write(2), as cgroupfs expects
            handle.write(data)
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror) from None


def _pids_cgroup() -> str:
    """Our cgroup in the pids hierarchy: its v1 line if there is one, else the v2 line."""
    with open("/proc/self/cgroup") as handle:
        lines = [line.split(":", 2) for line in handle.read().splitlines()]
    v1 = [path for _, controllers, path in lines if "pids" in controllers.split(",")]
    return (v1 or [path for number, _, path in lines if number == "0"] or ["/"])[0]


class LiveKernel:
    """The kernel calls a runtime level may use, as the os module spells them."""

    fork = staticmethod(os.fork)
    execvp = staticmethod(os.execvp)
    execv = staticmethod(os.execv)
    waitpid = staticmethod(os.waitpid)
    waitstatus_to_exitcode = staticmethod(os.waitstatus_to_exitcode)
    _exit = staticmethod(os._exit)
    getpid = staticmethod(os.getpid)
    sethostname = staticmethod(socket.sethostname)
    gethostname = staticmethod(socket.gethostname)
    mkdir = staticmethod(_mkdir)
    rmdir = staticmethod(_rmdir)
    write_file = staticmethod(_write_file)

    def __init__(self) -> None:
        for name, value in CLONE.items():
            setattr(self, name, value)

    @staticmethod
    def unshare(flags: int) -> None:
        from ..live.kernel import syscalls

        syscalls.unshare(flags)


def _link(name: str) -> str:
    try:
        return os.readlink(f"/proc/self/ns/{name}")
    except OSError:  # pid_for_children of a new PID namespace with no process yet
        return "none"


def _links() -> tuple[str, ...]:
    return tuple(_link(name) for name in ("uts", "pid", "pid_for_children"))


def _sandbox(answer: Callable[..., Any], args: Sequence[Any], report: int) -> dict:
    """Inside the sandbox: be the runtime process, call the answer, look around after."""
    socket.sethostname(HOST_NAME)
    me, (uts, pid_ns, _) = os.getpid(), _links()
    os.write(report, f"runtime {me} {uts} {pid_ns}\n".encode())
    printed = io.StringIO()  # shown in the cell afterwards, as the simulated kernel shows it
    with contextlib.redirect_stdout(printed):
        outcome = judged_call(answer, LiveKernel(), args)
    if os.getpid() != me:  # a forked child came back out of run(): it must go no further
        how = outcome[1] if isinstance(outcome, tuple) and outcome[:1] == ("wrong",) else ""
        os.write(report, f"escaped {'raised' if how == 'raised' else 'returned'}\n".encode())
        os._exit(1)
    try:
        os.waitpid(-1, os.WNOHANG)
        unreaped = True  # a child still runs, or has ended and was never waited for
    except ChildProcessError:
        unreaped = False
    now_uts, _, children = _links()
    runtime_cgroup = _pids_cgroup()
    _stop_the_rest(me)
    return {
        "outcome": outcome,
        "unreaped": unreaped,
        "host_hostname": os.uname().nodename,
        "runtime_uts_moved": now_uts != uts,
        "runtime_pid_moved": children != pid_ns,
        "runtime_cgroup": runtime_cgroup,
        "printed": printed.getvalue(),
    }


def _stop_the_rest(me: int) -> None:
    """Kill what the answer left running and reap it: orphans come to us (a subreaper)."""
    from ..live.kernel.cleanup import group_members

    while True:
        for pid in group_members(me) - {me}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def live_observe(
    answer: Callable[..., Any], make_args: Callable[[int], Sequence[Any]], timeout: float = 10.0
) -> Observed:
    """Run the answer as the runtime in a fresh sandbox; what it did, as an Observed.

    `make_args(fd)` builds the answer's arguments once the report descriptor is known.
    """
    from ..live.kernel import child, cleanup

    with cleanup.temp_dir("runtime-level") as base:
        path = os.path.join(base, "report")
        report = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.set_inheritable(report, True)
            outcome = child.spawn(
                _sandbox, answer, make_args(report), report,
                namespaces=("uts", "ipc", "net"), timeout=timeout,
            )  # fmt: skip
        except child.LiveTimeout:
            return Observed(runtime="hung")
        finally:
            os.close(report)
        with open(path) as handle:
            lines = handle.read().splitlines()
    return _observed(outcome, lines)


def _observed(outcome: Any, lines: list[str]) -> Observed:
    head = next((line.split()[1:] for line in lines if line.startswith("runtime ")), None)
    runtime, uts, pid_ns = (int(head[0]), head[1], head[2]) if head else (0, "", "")
    escaped = next((line.split()[1] for line in lines if line.startswith("escaped ")), "")
    probes = [eval_probe(line) for line in lines if line.startswith("probe ")]
    if outcome.error is None and outcome.signal is None and isinstance(outcome.value, dict):
        facts = outcome.value
        sys.stdout.write(facts["printed"])
        seen = Observed(
            value=facts["outcome"],
            unreaped=facts["unreaped"],
            host_hostname=facts["host_hostname"],
            runtime_uts_moved=facts["runtime_uts_moved"],
            runtime_pid_moved=facts["runtime_pid_moved"],
            runtime_cgroup=facts["runtime_cgroup"],
        )
    else:  # the runtime process never came back: exec'd, or _exit'ed, or killed
        replaced = any(p[0] == runtime for p in probes)
        seen = Observed(runtime="replaced" if replaced else "exited")
    seen.escaped = escaped
    for pid, hostname, p_uts, p_pid, p_children, *cgroup in probes:
        seen.ran.append(
            Ran(
                pid=pid,
                hostname=hostname,
                new_uts=p_uts != uts,
                new_pid=p_pid != pid_ns,
                new_pid_for_children=p_children != pid_ns,
                **dict(zip(("cgroup", "pids_max", "refused"), cgroup, strict=False)),
            )
        )
    return seen


def eval_probe(line: str) -> tuple:
    """A probe's report line, read without eval: (pid, hostname, uts, pid, pid_for_children),
    then (cgroup, pids.max, refused) when it was asked about its cgroup."""
    import ast

    return ast.literal_eval(line.split(" ", 1)[1])
