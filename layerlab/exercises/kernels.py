"""The two kernels the build-your-own-runtime levels of notebook 08 run on.

A level's answer is a function `run(k, argv, ...)` that starts a command the way a runtime
does, calling the kernel only through `k`, whose names are the `os` module's (`k.fork()`,
`k.execvp(...)`, `k.waitpid(pid, 0)`, `k.unshare(k.CLONE_NEWUTS)`...). That one indirection
lets the same answer run on the live kernel (`LiveKernel`, in a throwaway sandbox process)
or on `SimKernel`, a small model of processes and namespaces for machines where the probe
says no, for LAYERLAB_LIVE=0, and in the browser, where there is no fork at all.

Either way the checker gets an `Observed`: what the runtime returned, each command the
answer exec'd (its PID, hostname and namespaces, as the command itself saw them) and what
became of the runtime process. The hints are computed from that alone, so they are the
same in every world.

How SimKernel forks without fork(): the answer is plain Python that depends only on what
`k` returns, so a child is the answer run again from the top, with every call before the
fork replayed from the parent's log (no effect twice), the fork returning 0, and the
child's own state copied from the parent's at the fork. The child runs to its end before
the parent's fork() returns: one of the schedules the real kernel may pick.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import itertools
import numbers
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .framework import NotSolved, Wrong, attempt
from .mounts import MS, Disk, MountNs, Overlay, Proc, Where, host_namespace

__all__ = [
    "CLONE",
    "MS",
    "Observed",
    "Ran",
    "RootView",
    "SimKernel",
    "judged_call",
    "root_by",
    "simulate",
]

#: unshare(2) flags, the same numbers on every Linux architecture.
CLONE = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
HOST_NAME = "host"  # the sandbox's hostname: what "the host" is called while a level runs
#: Where a probe command lives: it reports what it sees, then exits with the code it is given.
PROBE = "layerlab-probe"


@dataclass(frozen=True)
class Ran:
    """A command the answer exec'd, as the command saw itself."""

    pid: int  # its PID in its own PID namespace
    hostname: str
    new_uts: bool  # not the host's UTS namespace
    new_pid: bool  # not the host's PID namespace
    new_pid_for_children: bool  # its children would land in a new PID namespace
    cgroup: str = "/"  # its cgroup in the pids hierarchy, as /proc/self/cgroup says
    pids_max: str = "max"  # that cgroup's pids.max
    refused: bool = False  # a fork of its own was refused (EAGAIN) before 64 succeeded


@dataclass(frozen=True)
class RootView:
    """What a command exec'd in a container's root filesystem saw there."""

    pid: int
    hostname: str
    names: tuple[str, ...]  # the entries of its /, sorted
    release: str  # the text of its /etc/release ("" if there is none)
    own_proc: bool | None  # /proc shows its own PID namespace; None: no /proc there
    mounts: tuple[tuple[str, str], ...]  # (mount point, fstype) from /proc/self/mountinfo


@dataclass
class Observed:
    """What one run of the answer did, the same shape in every world."""

    runtime: str = "returned"  # returned, replaced (by exec), exited, hung
    value: Any = None  # what run() returned (`plain`), or the verdict attempt() gave it
    ran: list[Ran] = field(default_factory=list)
    escaped: str = ""  # "returned"/"raised: ..." when a forked child came back out of run()
    unreaped: bool = False  # the runtime left a child it never waited for
    host_hostname: str = HOST_NAME
    runtime_uts_moved: bool = False
    runtime_pid_moved: bool = False  # the runtime's own next children would be in a new ns
    runtime_cgroup: str = "/"  # the runtime's own pids cgroup after run()
    cgroup_left: bool = False  # the container's cgroup directory still exists after run()
    views: list[RootView] = field(default_factory=list)  # level 4: what each command saw
    refused: list[str] = field(default_factory=list)  # mount calls the kernel refused, in order
    host_mounts_changed: bool = False  # the host's mount table differs after run()
    #: (PID, how its root was set: "pivot_root", "chroot" or "") of each process that called
    #: exec, as strace would show the calls; a root comes with fork, so this is per lineage
    roots: list[tuple[int, str]] = field(default_factory=list)


def plain(value: Any) -> Any:
    """The returned value in a form that survives a pipe and compares simply: integral
    types as int, a tuple of them as a tuple of ints, anything else by its repr."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, tuple) and all(isinstance(v, numbers.Integral) for v in value):
        return tuple(int(v) for v in value)
    if value is None or value is Ellipsis:
        return value
    return f"a {type(value).__name__}"  # never its repr: that may hold a memory address


def judged_call(answer: Callable[..., Any], k: Any, args: Sequence[Any]) -> Any:
    """Call the answer as checkers do; a verdict it earns by itself comes back as a tuple."""
    try:
        return plain(attempt(answer, k, *args, name="run", returns=True))
    except NotSolved:
        return ("unsolved",)
    except Wrong as wrong:
        return ("wrong", wrong.reason, wrong.hint)


# -- the simulated kernel ---------------------------------------------------------------------


class _Exec(BaseException):
    """The process image was replaced: the answer's code stops running in this process."""


class _Exit(BaseException):
    def __init__(self, code: int) -> None:
        self.code = code


@dataclass
class _Namespace:
    kind: str
    id: int
    hostname: str = HOST_NAME
    next_pid: int = 1


@dataclass
class _Proc:
    pid: int
    pid_ns: _Namespace
    pid_for_children: _Namespace
    uts: _Namespace
    others: dict[str, int] = field(default_factory=dict)  # mnt, ipc, net...: namespace ids
    children: dict[int, int | None] = field(default_factory=dict)  # pid -> status once ended
    kids: dict[int, _Proc] = field(default_factory=dict)  # pid -> the child, until reaped
    cgroup: str = "/"  # its cgroup in the pids hierarchy (a path below CGROUP_ROOT)
    ended: BaseException | None = None  # the _Exec or _Exit that ended it
    mnt: MountNs | None = None  # with the mount model (level 4): its namespace, root, cwd
    root: Where | None = None
    cwd: Where | None = None
    root_by: str = ""  # "pivot_root" or "chroot": the last call that gave it its root


class _World:
    def __init__(self, programs: dict[str, int], disk: dict[str, str | None] | None) -> None:
        self.ids = itertools.count(1)
        self.host_uts = _Namespace("uts", next(self.ids))
        self.host_pid = _Namespace("pid", next(self.ids), next_pid=100)
        self.programs = programs  # probe path -> the exit code it ends with
        self.orphans = 0  # processes reparented to the runtime (a subreaper), never reaped
        # cgroup path -> its pids.max and the processes in it (a process stays until reaped)
        self.cgroups: dict[str, dict[str, Any]] = {"/": {"pids.max": "max", "members": []}}
        self.observed = Observed()
        self.procs: list[_Proc] = []
        self.host_mnt: MountNs | None = None
        self.host_root: Where | None = None
        if disk is not None:  # a file is a program's name: exec runs programs[that name]
            self.host_mnt, root = host_namespace(Disk(disk), self.host_pid)
            self.host_root = Where(root, "/")
            self.host_table = _table(self.host_mnt)

    def mount_namespaces(self) -> list[MountNs]:
        held = [self.host_mnt, *(p.mnt for p in self.procs)]
        return list({id(ns): ns for ns in held if ns is not None}.values())


def _table(ns: MountNs) -> list[tuple[int, int, str, str]]:
    """A mount namespace's table, comparable before and after."""
    return [(id(m.fs), id(m.parent), m.point, m.root) for m in ns.mounts]


class SimKernel:
    """The `os`-like calls of one simulated process (see the module docstring)."""

    def __init__(
        self, world: _World, proc: _Proc, answer: Callable[..., Any], args: tuple, replay: list
    ) -> None:
        self._world, self._proc, self._answer, self._args = world, proc, answer, args
        self._replay, self._log = list(replay), list(replay)
        for name, value in {**CLONE, **MS}.items():
            setattr(self, name, value)

    # Each call is either replayed (the parent made it before the fork) or done. A process
    # that exec'd or exited runs no more of the answer's code, even if a `finally:` of the
    # answer catches our _Exec or _Exit: each later call ends it again, the same way.
    def _call(self, do: Callable[[], Any]) -> Any:
        if self._proc.ended is not None:
            raise self._proc.ended
        if self._replay:
            kind, value = self._replay.pop(0)
            if kind == "raise":
                raise copy.copy(value)
            return value
        try:
            value = do()
        except OSError as exc:
            self._log.append(("raise", exc))
            raise
        self._log.append(("value", value))
        return value

    def fork(self) -> int:
        if self._replay and len(self._replay) == 1 and self._replay[0] == ("fork", 0):
            self._replay.pop()
            return 0
        return self._call(self._fork)

    def _fork(self) -> int:
        parent, world = self._proc, self._world
        ns = parent.pid_for_children
        number = ns.next_pid
        ns.next_pid += 1
        child = _Proc(number, ns, ns, parent.uts, dict(parent.others), cgroup=parent.cgroup)
        child.mnt, child.root, child.cwd = parent.mnt, parent.root, parent.cwd
        child.root_by = parent.root_by
        world.procs.append(child)
        world.cgroups[child.cgroup]["members"].append(child)  # a child starts in its parent's
        parent.kids[number] = child
        status = run_process(world, self._answer, self._args, child, [*self._log, ("fork", 0)])
        parent.children[number] = status
        return number

    def execvp(self, file: str, args: Sequence[str]) -> None:
        self._call(lambda: self._exec(file, list(args)))

    execv = execvp

    def _exec(self, file: str, args: list[str]) -> None:
        proc, world = self._proc, self._world
        world.observed.roots.append((proc.pid, proc.root_by))
        if proc.mnt is not None:
            self._exec_in_root(file)
            return
        if file not in self._world.programs:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), file)
        pids_max = world.cgroups[proc.cgroup]["pids.max"]
        world.observed.ran.append(
            Ran(
                pid=proc.pid,
                hostname=proc.uts.hostname,
                new_uts=proc.uts is not world.host_uts,
                new_pid=proc.pid_ns is not world.host_pid,
                new_pid_for_children=proc.pid_for_children is not world.host_pid,
                cgroup=proc.cgroup,
                pids_max=pids_max,
                refused=pids_max != "max",  # the probe tries 64 forks, more than any limit
            )
        )
        proc.ended = _Exec(world.programs[file])
        raise proc.ended

    def _exec_in_root(self, file: str) -> None:
        """Exec a program found through the mounts; it reports what it sees in its root."""
        proc, world = self._proc, self._world
        try:
            program = self._at(file).fs.get(self._at(file).path)
        except OSError:
            program = False
        if not isinstance(program, str) or program not in world.programs:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), file)
        world.observed.views.append(self._view())
        proc.ended = _Exec(world.programs[program])
        raise proc.ended

    def _view(self) -> RootView:
        proc = self._proc
        assert proc.mnt is not None and proc.root is not None
        root = proc.root
        names = tuple(sorted(root.fs.names(root.path)))
        try:
            found = self._at("/etc/release")
            text = found.fs.get(found.path)
        except OSError:
            text = False
        try:
            proc_fs = self._at("/proc").fs
        except OSError:
            proc_fs = None
        own, mounts = None, ()
        if isinstance(proc_fs, Proc):
            own = proc_fs.pid_ns is proc.pid_ns
            seen = [
                (proc.mnt.path_of(Where(m, m.root), root), m.fs.fstype) for m in proc.mnt.mounts
            ]
            mounts = tuple(sorted((p, t) for p, t in seen if p is not None))
        release = text if isinstance(text, str) else ""
        return RootView(proc.pid, proc.uts.hostname, names, release, own, mounts)

    def waitpid(self, pid: int, options: int) -> tuple[int, int]:
        return self._call(lambda: self._waitpid(pid))

    def _waitpid(self, pid: int) -> tuple[int, int]:
        children = self._proc.children
        candidates = list(children) if pid == -1 else [pid] if pid in children else []
        if not candidates:
            raise ChildProcessError(errno.ECHILD, os.strerror(errno.ECHILD))
        found = candidates[0]
        status = children.pop(found)
        kid = self._proc.kids.pop(found, None)
        for group in self._world.cgroups.values():  # reaped: its PID is freed
            group["members"] = [p for p in group["members"] if p is not kid]
        return found, status or 0

    @staticmethod
    def waitstatus_to_exitcode(status: int) -> int:
        """As os's, for a process that exited (the model has no signals)."""
        if status & 0x7F:
            raise ValueError(f"invalid wait status: {status}")
        return (status >> 8) & 0xFF

    def _exit(self, code: int) -> None:
        if self._proc.ended is None:
            self._proc.ended = _Exit(int(code) & 0xFF)
        raise self._proc.ended

    def getpid(self) -> int:
        return self._call(lambda: self._proc.pid)

    def unshare(self, flags: int) -> None:
        self._call(lambda: self._unshare(int(flags)))

    def _unshare(self, flags: int) -> None:
        if flags & ~sum(CLONE.values()):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        proc, world = self._proc, self._world
        if flags & CLONE["CLONE_NEWUTS"]:
            # a new UTS namespace starts with a copy of the old one's hostname
            proc.uts = _Namespace("uts", next(world.ids), proc.uts.hostname)
        if flags & CLONE["CLONE_NEWPID"]:
            proc.pid_for_children = _Namespace("pid", next(world.ids))
        if flags & CLONE["CLONE_NEWNS"] and proc.mnt is not None:
            assert proc.root is not None and proc.cwd is not None
            proc.mnt, twins = proc.mnt.copy()
            proc.root = Where(twins[id(proc.root.mount)], proc.root.path)
            proc.cwd = Where(twins[id(proc.cwd.mount)], proc.cwd.path)
        for name, value in CLONE.items():
            if flags & value and name not in ("CLONE_NEWUTS", "CLONE_NEWPID", "CLONE_NEWNS"):
                proc.others[name] = next(world.ids)

    def sethostname(self, name: str | bytes) -> None:
        text = name.decode() if isinstance(name, bytes) else str(name)
        self._call(lambda: setattr(self._proc.uts, "hostname", text))

    def gethostname(self) -> str:
        return self._call(lambda: self._proc.uts.hostname)

    # -- mounts (level 4): each refused call is noted, as LiveKernel notes it ----------------

    def _try(self, name: str, do: Callable[[], Any]) -> OSError | None:
        """Do a call that the kernel may refuse; the refusal, to raise from the caller's
        frame (as LiveKernel does), so a hint names the call, not the model's insides."""

        def noted() -> Any:
            try:
                return do()
            except OSError:
                self._world.observed.refused.append(name)
                raise

        try:
            self._call(noted)
        except OSError as exc:
            return type(exc)(exc.errno, os.strerror(exc.errno or 0))
        return None

    def _at(self, path: Any, mountpoint: bool = False) -> Where:
        proc = self._proc
        if proc.mnt is None or proc.root is None or proc.cwd is None:
            raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))
        return proc.mnt.resolve(proc.root, proc.cwd, os.fspath(path), mountpoint)

    def mount(
        self, source: Any, target: Any, fstype: Any = None, flags: int = 0, data: Any = None
    ) -> None:
        name = "mount-proc" if fstype == "proc" else "mount"
        if error := self._try(name, lambda: self._mount(source, target, fstype, flags, data)):
            raise error

    def _mount(self, source: Any, target: Any, fstype: Any, flags: Any, data: Any) -> None:
        proc, world, flags = self._proc, self._world, int(flags)
        at = self._at(target)
        assert proc.mnt is not None
        if flags & (MS["MS_PRIVATE"] | MS["MS_SHARED"] | MS["MS_SLAVE"]):
            proc.mnt.set_propagation(at, flags)
            return
        if at.fs.get(at.path) is not None:
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        peers = [ns for ns in world.mount_namespaces() if ns is not proc.mnt]
        if flags & MS["MS_BIND"]:
            src = self._at(source)
            proc.mnt.attach(src.fs, src.path, at, peers)
            return
        if fstype == "proc":  # as in a user namespace, where the live check runs too
            visible = any(isinstance(m.fs, Proc) for m in proc.mnt.mounts)
            if proc.pid_ns is world.host_pid or not visible:
                raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))
            proc.mnt.attach(Proc(proc.pid_ns), "/", at, peers)
            return
        if fstype != "overlay":
            raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))
        options = dict(
            item.partition("=")[::2] for item in str(data or "").split(",") if "=" in item
        )
        if not options.get("lowerdir"):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        lowers = [self._at(d) for d in options["lowerdir"].split(":")]
        upper = self._at(options["upperdir"]) if options.get("upperdir") else None
        if upper is not None and not options.get("workdir"):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        if options.get("workdir"):
            self._at(options["workdir"])
        proc.mnt.attach(Overlay(lowers, upper), "/", at, peers)

    def umount2(self, target: Any, flags: int = 0) -> None:
        if error := self._try("umount2", lambda: self._umount(target, int(flags))):
            raise error

    def _umount(self, target: Any, flags: int) -> None:
        proc = self._proc
        assert proc.mnt is not None
        busy = {
            id(w.mount)
            for p in self._world.procs
            if p.mnt is proc.mnt
            for w in (p.root, p.cwd)
            if w
        }
        proc.mnt.umount(self._at(target, mountpoint=True), flags, busy)

    def pivot_root(self, new_root: Any, put_old: Any) -> None:
        if error := self._try("pivot_root", lambda: self._pivot(new_root, put_old)):
            raise error

    def _pivot(self, new_root: Any, put_old: Any) -> None:
        proc = self._proc
        new, old = self._at(new_root), self._at(put_old)
        assert proc.mnt is not None and proc.root is not None
        old_root = Where(proc.root.mount, proc.root.path)
        proc.mnt.pivot(old_root, new, old)
        proc.root_by = "pivot_root"
        for p in self._world.procs:  # as chroot_fs_refs: who was at the old root moves
            if p.mnt is proc.mnt:
                p.root = new if p.root == old_root else p.root
                p.cwd = new if p.cwd == old_root else p.cwd

    def chdir(self, path: Any) -> None:
        if error := self._try("chdir", lambda: setattr(self._proc, "cwd", self._dir(path))):
            raise error

    def chroot(self, path: Any) -> None:
        if error := self._try("chroot", lambda: self._chroot(path)):
            raise error

    def _chroot(self, path: Any) -> None:
        proc = self._proc
        proc.root = self._dir(path)
        proc.root_by = root_by(proc.root_by, "chroot")

    def _dir(self, path: Any) -> Where:
        where = self._at(path)
        if where.fs.get(where.path) is not None:
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        return where

    def _fs_mkdir(self, path: str) -> None:
        parent = self._dir(os.path.dirname(path.rstrip("/")) or ".")
        name = os.path.basename(path.rstrip("/"))
        if name in parent.fs.names(parent.path):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST))
        parent.fs.mkdir(os.path.join(parent.path, name))

    def _fs_rmdir(self, path: str) -> None:
        where = self._dir(path)
        proc = self._proc
        assert proc.mnt is not None
        covered = any(m.parent is where.mount and m.point == where.path for m in proc.mnt.mounts)
        if covered or where.path == where.mount.root:
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        if where.fs.names(where.path):
            raise OSError(errno.ENOTEMPTY, os.strerror(errno.ENOTEMPTY))
        where.fs.rmdir(where.path)

    # cgroupfs, pids controller only: a directory per cgroup, pids.max and cgroup.procs in it
    def mkdir(self, path: str, mode: int = 0o777) -> None:
        fs = self._proc.mnt is not None and not _in_cgroupfs(path)
        do = (
            (lambda: self._fs_mkdir(os.fspath(path)))
            if fs
            else lambda: self._mkdir(_cgroup_of(path))
        )
        if error := self._try("mkdir", do):
            raise error

    def _mkdir(self, group: str) -> None:
        groups = self._world.cgroups
        if group in groups:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST))
        if os.path.dirname(group) not in groups:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        groups[group] = {"pids.max": "max", "members": []}

    def rmdir(self, path: str) -> None:
        fs = self._proc.mnt is not None and not _in_cgroupfs(path)
        do = (
            (lambda: self._fs_rmdir(os.fspath(path)))
            if fs
            else lambda: self._rmdir(_cgroup_of(path))
        )
        if error := self._try("rmdir", do):
            raise error

    def _rmdir(self, group: str) -> None:
        groups = self._world.cgroups
        if group not in groups or group == "/":
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        if groups[group]["members"] or any(g.startswith(group + "/") for g in groups):
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        del groups[group]

    def write_file(self, path: str, text: str | bytes) -> None:
        data = text.decode() if isinstance(text, bytes) else str(text)
        self._call(lambda: self._write_file(str(path), data))

    def _write_file(self, path: str, text: str) -> None:
        group, name = _cgroup_of(os.path.dirname(path)), os.path.basename(path)
        proc, groups = self._proc, self._world.cgroups
        if group not in groups or name not in ("pids.max", "cgroup.procs") or group == "/":
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        value = text.strip()
        if name == "pids.max":  # as pids_max_write: "max", or a number 0 <= n
            if value != "max" and not (value.isdigit() and int(value) < 2**31):
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
            groups[group]["pids.max"] = value
            return
        if value not in ("0", str(proc.pid)):  # other PIDs: only the caller's own is modelled
            raise ProcessLookupError(errno.ESRCH, os.strerror(errno.ESRCH))
        old = groups[proc.cgroup]
        old["members"] = [p for p in old["members"] if p is not proc]
        groups[group]["members"].append(proc)
        proc.cgroup = group


def root_by(before: str, call: str) -> str:
    """How a process's root was set after `call` succeeded: a chroot inside a root that
    pivot_root set (the chroot(".") some runtimes make after it) leaves it pivot_root's."""
    return "pivot_root" if "pivot_root" in (before, call) else call


CGROUP_ROOT = "/sys/fs/cgroup"  # where the simulated pids hierarchy is mounted


def _in_cgroupfs(path: Any) -> bool:
    text = os.path.normpath(os.fspath(path))
    return text == CGROUP_ROOT or text.startswith(CGROUP_ROOT + "/")


def _cgroup_of(path: str) -> str:
    """A path below CGROUP_ROOT as the cgroup it names ("/box"); ENOENT elsewhere."""
    text = os.path.normpath(os.fspath(path))
    if text != CGROUP_ROOT and not text.startswith(CGROUP_ROOT + "/"):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    return text[len(CGROUP_ROOT) :] or "/"


def run_process(
    world: _World, answer: Callable[..., Any], args: tuple, proc: _Proc, replay: list
) -> int:
    """Run a forked child of the answer to its end; its wait status."""
    how = "returned"
    try:
        answer(SimKernel(world, proc, answer, args, replay), *args)
    except (_Exec, _Exit, Exception, SystemExit):
        how = "raised"
    world.orphans += len(proc.children)  # never waited for: they go to the subreaper
    if isinstance(proc.ended, _Exec):
        return int(proc.ended.args[0]) << 8
    if isinstance(proc.ended, _Exit):
        return proc.ended.code << 8
    world.observed.escaped = world.observed.escaped or how
    return (1 if how == "raised" else 0) << 8


def simulate(
    answer: Callable[..., Any],
    args: Sequence[Any],
    programs: dict[str, int],
    disk: dict[str, str | None] | None = None,
) -> Observed:
    """Run `answer(k, *args)` as the runtime process on the simulated kernel; with a `disk`,
    on the mount model too, the host's / and /proc on it (see mounts.py)."""
    world = _World(programs, disk)
    host = world.host_pid
    runtime = _Proc(host.next_pid, host, host, world.host_uts)
    runtime.mnt, runtime.root, runtime.cwd = world.host_mnt, world.host_root, world.host_root
    world.procs.append(runtime)
    host.next_pid += 1
    k = SimKernel(world, runtime, answer, tuple(args), [])
    seen = world.observed
    with contextlib.suppress(_Exec, _Exit):  # how it ended is in runtime.ended
        seen.value = judged_call(answer, k, args)
    if runtime.ended is not None:
        seen.runtime = "replaced" if isinstance(runtime.ended, _Exec) else "exited"
    seen.unreaped = bool(runtime.children or world.orphans)
    seen.host_hostname = world.host_uts.hostname
    seen.runtime_uts_moved = runtime.uts is not world.host_uts
    seen.runtime_pid_moved = runtime.pid_for_children is not world.host_pid
    seen.runtime_cgroup = runtime.cgroup
    seen.cgroup_left = len(world.cgroups) > 1
    if world.host_mnt is not None:
        seen.host_mounts_changed = _table(world.host_mnt) != world.host_table
    return seen
