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
import time
from collections.abc import Callable, Sequence
from typing import Any

from .kernels import CLONE, HOST_NAME, MS, Observed, Ran, RootView, judged_call, root_by

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
    waitpid = staticmethod(os.waitpid)
    waitstatus_to_exitcode = staticmethod(os.waitstatus_to_exitcode)
    _exit = staticmethod(os._exit)
    getpid = staticmethod(os.getpid)
    sethostname = staticmethod(socket.sethostname)
    gethostname = staticmethod(socket.gethostname)
    write_file = staticmethod(_write_file)

    def __init__(self, report: int = -1) -> None:
        self._report = report
        self._root_by = ""  # how this process got its root; fork copies it, as the root
        for name, value in {**CLONE, **MS}.items():
            setattr(self, name, value)

    @staticmethod
    def unshare(flags: int) -> None:
        from ..live.kernel import syscalls

        syscalls.unshare(flags)

    # The mount calls: a refusal is noted on the report (SimKernel notes it the same way), and
    # raised from the method of the call's name without the paths (temp dirs here, fixed
    # ones there), so that a hint naming where it came from reads the same in both worlds.
    def _try(self, name: str, call: Callable[..., Any], *args: Any) -> OSError | None:
        try:
            call(*args)
        except OSError as exc:
            if self._report >= 0:
                os.write(self._report, f"refused {name}\n".encode())
            return type(exc)(exc.errno, os.strerror(exc.errno or 0))
        return None

    def mount(
        self, source: Any, target: Any, fstype: Any = None, flags: int = 0, data: Any = None
    ) -> None:
        from ..live.kernel import syscalls

        source = None if source is None else os.fspath(source)
        args = (source, os.fspath(target), fstype, int(flags), data)
        name = "mount-proc" if fstype == "proc" else "mount"
        if error := self._try(name, syscalls.mount, *args):
            raise error

    def umount2(self, target: Any, flags: int = 0) -> None:
        from ..live.kernel import syscalls

        if error := self._try("umount2", syscalls.umount, os.fspath(target), int(flags)):
            raise error

    def pivot_root(self, new_root: Any, put_old: Any) -> None:
        from ..live.kernel import syscalls

        paths = (os.fspath(new_root), os.fspath(put_old))
        if error := self._try("pivot_root", syscalls.pivot_root, *paths):
            raise error
        self._root_by = "pivot_root"

    def chdir(self, path: Any) -> None:
        if error := self._try("chdir", os.chdir, path):
            raise error

    def chroot(self, path: Any) -> None:
        if error := self._try("chroot", os.chroot, path):
            raise error
        self._root_by = root_by(self._root_by, "chroot")

    # Each exec is noted on the report first, with how the process got its root: the report
    # is O_APPEND and inherited, so the note survives the chroot, pivot_root and exec.
    def execvp(self, file: Any, args: Sequence[Any]) -> None:
        self._note_exec()
        os.execvp(file, args)

    def execv(self, path: Any, args: Sequence[Any]) -> None:
        self._note_exec()
        os.execv(path, args)

    def _note_exec(self) -> None:
        if self._report >= 0:
            os.write(self._report, f"exec {os.getpid()} {self._root_by or '-'}\n".encode())

    def mkdir(self, path: Any, mode: int = 0o777) -> None:
        if error := self._try("mkdir", os.mkdir, path, mode):
            raise error

    def rmdir(self, path: Any) -> None:
        if error := self._try("rmdir", os.rmdir, path):
            raise error


def _link(name: str) -> str:
    try:
        return os.readlink(f"/proc/self/ns/{name}")
    except OSError:  # pid_for_children of a new PID namespace with no process yet
        return "none"


def _links() -> tuple[str, ...]:
    return tuple(_link(name) for name in ("uts", "pid", "pid_for_children"))


def _mount_table() -> list[str]:
    with open("/proc/self/mountinfo") as handle:
        return [" ".join(line.split()[3:5]) for line in handle]


def _sandbox(
    answer: Callable[..., Any], args: Sequence[Any], report: int, mounts: bool = False
) -> dict:
    """Inside the sandbox: be the runtime process, call the answer, look around after.

    With `mounts`, the sandbox has a mount namespace of its own, cut off from the real
    host's and then made shared as systemd makes a host's: a runtime that forgets MS_PRIVATE
    mounts onto "the host", as it would on most machines, and it all ends with the sandbox.
    It is in a user namespace then, as root too, so the kernel applies the same rules in
    every world (a new /proc, for one, only while a /proc is still in sight).
    """
    if mounts:
        from ..live.kernel import syscalls

        syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
        syscalls.mount(None, "/", None, syscalls.MS_REC | MS["MS_SHARED"])
    table = _mount_table()
    socket.sethostname(HOST_NAME)
    me, (uts, pid_ns, _) = os.getpid(), _links()
    os.write(report, f"runtime {me} {uts} {pid_ns}\n".encode())
    printed = io.StringIO()  # shown in the cell afterwards, as the simulated kernel shows it
    with contextlib.redirect_stdout(printed):
        outcome = judged_call(answer, LiveKernel(report), args)
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
        "host_mounts_changed": _mount_table() != table,
    }


def _stop_the_rest(me: int, grace: float = 0.5) -> None:
    """Kill what the answer left running and reap it: orphans come to us (a subreaper).

    First a short grace: a child that came back out of run() reports it on its way out, and
    killing it before it can would judge the same answer differently from run to run.
    """
    from ..live.kernel.cleanup import group_members

    deadline = time.monotonic() + grace
    while group_members(me) - {me} and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(-1, os.WNOHANG)
        time.sleep(0.01)
    while True:
        for pid in group_members(me) - {me}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def live_observe(
    answer: Callable[..., Any],
    make_args: Callable[[int], Sequence[Any]],
    timeout: float = 10.0,
    mounts: bool = False,
) -> Observed:
    """Run the answer as the runtime in a fresh sandbox; what it did, as an Observed.

    `make_args(fd)` builds the answer's arguments once the report descriptor is known;
    `mounts` gives the sandbox a mount namespace of its own (see `_sandbox`).
    """
    from ..live.kernel import child, cleanup

    with cleanup.temp_dir("runtime-level") as base:
        path = os.path.join(base, "report")
        report = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.set_inheritable(report, True)
            outcome = child.spawn(
                _sandbox, answer, make_args(report), report, mounts,
                namespaces=("uts", "ipc", "net", *(["mnt"] if mounts else [])),
                user=True if mounts else None, timeout=timeout,
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
            host_mounts_changed=facts["host_mounts_changed"],
        )
    else:  # the runtime process never came back: exec'd, or _exit'ed, or killed
        replaced = any(p[0] == runtime for p in probes)
        seen = Observed(runtime="replaced" if replaced else "exited")
    seen.escaped = escaped
    seen.refused = [line.split()[1] for line in lines if line.startswith("refused ")]
    seen.views = [_root_view(line) for line in lines if line.startswith("rootfs\t")]
    execs = (line.split() for line in lines if line.startswith("exec "))
    seen.roots = [(int(pid), "" if how == "-" else how) for _, pid, how in execs]
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


# Level 4's probe is busybox, run from the image's rootfs: a shell script, so it can run
# where there is no Python. One line, tab-separated: "rootfs", its PID, its hostname, the
# entries of /, /etc/release, its PID as /proc counts it, then "mount point=fstype" pairs.
ROOTFS_PROBE = (
    "exec 2>&-\n"  # the image has no /dev/null; what fails just reads as empty
    "c=$1 f=$2 b=/bin/busybox m=\n"
    "if [ -r /proc/self/mountinfo ]; then\n"
    ' while read -r a i d r p e; do set -- ${e#* - }; m="$m $p=$1"; done </proc/self/mountinfo\n'
    "fi\n"
    "s= && read -r s x </proc/self/stat\n"  # the shell's own PID, as that /proc counts
    "n=$($b ls -A / | $b tr '\\n' ' ')\n"
    'echo "rootfs\t$$\t$($b hostname)\t$n\t$($b cat /etc/release)\t$s\t$m" >&$f\n'
    "exit $c\n"
)


def rootfs_probe_argv(code: int, fd: int) -> list[str]:
    """Busybox, from the container's root, reporting what it sees there on `fd`."""
    return ["/bin/busybox", "sh", "-c", ROOTFS_PROBE, "probe", str(code), str(fd)]


def _root_view(line: str) -> RootView:
    _, pid, hostname, names, release, proc_self, mounts = line.rstrip("\n").split("\t")
    pairs = (item.rpartition("=") for item in mounts.split())
    return RootView(
        pid=int(pid),
        hostname=hostname,
        names=tuple(sorted(names.split())),
        release=release,
        own_proc=(proc_self == pid) if proc_self else None,
        mounts=tuple(sorted((point, fstype) for point, _, fstype in pairs)),
    )


def eval_probe(line: str) -> tuple:
    """A probe's report line, read without eval: (pid, hostname, uts, pid, pid_for_children),
    then (cgroup, pids.max, refused) when it was asked about its cgroup."""
    import ast

    return ast.literal_eval(line.split(" ", 1)[1])
