"""`layerlab.run`: `docker run` in about 150 lines, every step in the order the kernel needs.

    result = layerlab.run(image, ["sh", "-c", "hostname; echo $$"], hostname="box", memory="64m")
    result.container.rw         # what the command changed: the upper dir, read back
    result.container.commit()   # ... as a new image layer

1. A container is the image's layers + an init layer + an empty rw layer (`Container`).
   The init layer holds what every container needs and no image should carry: mount
   points, /.dockerenv, and placeholders for /etc/hosts, /etc/hostname, /etc/resolv.conf.
2. A cgroup with the limits. Only root, or a user owning a delegated cgroup v2 subtree,
   may make one; a rootless run without such a subtree has none, and its result says so.
3. fork the "shim": it stays outside the container, waits for it and reports how it ended
   (containerd-shim's job). It unshares new uts, pid, mnt, net and ipc namespaces, and,
   rootless, a user namespace in which it is uid 0.
4. fork again: unshare(CLONE_NEWPID) moves only the caller's *children* into the new PID
   namespace, so this second child is PID 1 there.
5. PID 1 builds the root filesystem: the layers as overlay2 dirs, the overlay mount, and
   the container's own hosts, hostname and resolv.conf bind-mounted over the init layer's
   placeholders, so writes to them never reach the rw layer (and `commit` never bakes a
   hostname into an image). Then a fresh /proc and a minimal /dev, and it joins the cgroup:
   last, so that only the container's own work is charged to it.
6. pivot_root: the overlay becomes the root *mount* of the namespace and the old root is
   unmounted. chroot would only move this process's "/", and root can climb out of a
   chroot (see `rootfs.chroot_escape`). Docker falls back to chroot only on a ramdisk root.
7. exec the command. It replaces PID 1, so the command *is* the container's init; when it
   exits, the kernel kills everything else in its PID namespace.

Then the shim's status gives the exit code (128 + signal if killed, as Docker reports it),
and the upper dir is read back into the model. Without a kernel that allows it, the
command runs in a pocket shell over the model instead (`simshell`), labelled SIMULATED.

Left out on purpose, to keep the story short: Docker also drops most capabilities, adds a
seccomp filter, mounts /sys read-only, and sets up a network. As root, the command here
keeps root's full powers inside its namespaces: run only images you trust.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import select
import shlex
import signal
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from .. import host
from ..container import Container
from ..entries import describe
from ..i18n import N_, _
from ..image import Image
from ..samples import cannot_run
from .fileops import ENV
from .kernel import probe, syscalls
from .kernel.cgroupfs import Cgroup
from .kernel.child import LiveTimeout, enter_namespaces
from .kernel.child import run as run_in_child
from .kernel.cleanup import become_reaper, checkpoint, shield_interrupts, stop_group, temp_dir
from .kernel.result import LiveError, LiveResult, fact, live_world
from .overlay_mount import mount_container, mounted_paths, read_back, safe_path
from .rootfs import pivot_into, populate_dev
from .simshell import simulate

__all__ = ["run", "RunResult", "parse_memory", "describe_limits"]

NAMESPACES = {"uts", "pid", "mnt", "net", "ipc"}
NO_CGROUP = "a cgroup needs root or a cgroup v2 subtree delegated to you, so this run has none"


def run(
    image: Image | Container,
    command: str | Sequence[str],
    *,
    hostname: str | None = None,
    memory: int | str | None = None,
    pids: int | None = None,
    name: str = "container",
    timeout: float = 30.0,
) -> RunResult:
    """Run `command` in a new container of `image` (or once more in an existing Container).

    `memory` is bytes or Docker's "64m" / "1g"; `pids` caps the number of processes.
    """
    if isinstance(image, Container):
        if hostname is not None:
            raise ValueError("an existing container keeps its hostname; leave out hostname=")
        container = image
    else:
        container = Container(image, name=name, hostname=hostname)
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    limit, rootless = parse_memory(memory), host.euid() != 0
    needs = ["mount_namespace", "pid_namespace", "uts_namespace", "net_namespace"]
    needs += ["ipc_namespace", "pivot_root"]
    needs += ["user_namespaces", "overlayfs_rootless"] if rootless else ["overlayfs"]

    def live() -> RunResult:
        why = cannot_run(container.view(), argv[0])
        if why:
            raise LiveError(why)
        return _run_live(container, argv, limit, pids, timeout, rootless)

    def simulated(reason: str) -> RunResult:
        out = simulate(container, argv, container.hostname)
        return RunResult.of(
            container, argv, reason=reason, exit_code=out.returncode, stdout=out.stdout,
            stderr=out.stderr, pid_inside=1, hostname_inside=container.hostname,
            limits=describe_limits(limit, pids), oom_killed=False,
        )  # fmt: skip

    return probe.run_live(needs, live, simulated)


@dataclass(frozen=True)
class _Plan:
    """What the shim and PID 1 need, all decided before the first fork."""

    container: Container
    argv: list[str]
    base: str  # our temp dir: overlay2/ (the layers), stdout and stderr of the command
    rootless: bool
    group: Cgroup | None
    report: int  # PID 1 sends its pid and hostname here, or what went wrong


def _run_live(container: Container, argv: list[str], memory: int | None, pids: int | None,
              timeout: float, rootless: bool) -> RunResult:  # fmt: skip
    """Steps 2 and 3 from our side: cgroup, fork the shim, wait, read the results back."""
    no_cgroup = probe.missing("cgroups")
    with temp_dir("run") as base, _cgroup(no_cgroup, memory, pids) as group:
        os.mkdir(os.path.join(base, "overlay2"))
        report_r, report_w = os.pipe()  # close-on-exec: EOF once PID 1 has exec'd
        since, deadline = time.time(), time.monotonic() + timeout
        shim, status = 0, None
        try:
            with shield_interrupts():  # a Ctrl-C during fork must not lose the child
                shim = os.fork()
                if shim == 0:
                    _shim(_Plan(container, argv, base, rootless, group, report_w))
                os.close(report_w)
                with contextlib.suppress(OSError):
                    os.setpgid(shim, shim)  # the shim does it too; whoever runs first wins
            report = _receive(report_r, deadline)
            checkpoint("container-running")
            status = _wait(shim, deadline)
        finally:
            with shield_interrupts():
                os.close(report_r)
                if shim and status is None:  # timeout, Ctrl-C, error: stop and reap them all
                    stop_group(shim)
        if "error" in report:
            raise LiveError(report["error"].replace(base, "<tmp>"))
        oom = bool(group and group.snapshot().oom_kills)
        mounted = mounted_paths(os.path.join(base, "overlay2"), container)
        upper, own = run_in_child(  # rootless: in a user namespace, where we are uid 0 again
            read_back, mounted, rootless, since, container.clock, user=rootless
        )
        stdout, stderr = (_text(os.path.join(base, name)) for name in ("stdout", "stderr"))
    container.rw.remove_tree("/")  # the container keeps what the kernel did
    for path, entry in upper.items():
        container.rw[path] = entry
    container.mounts.update(own)
    code = os.waitstatus_to_exitcode(status)
    limits = describe_limits(memory, pids)
    if no_cgroup and (memory or pids):  # say so: the limits asked for were not applied
        limits = f"{limits} NOT applied: " + (NO_CGROUP if rootless else no_cgroup)
    return RunResult.of(
        container, argv, exit_code=128 - code if code < 0 else code, stdout=stdout,
        stderr=stderr, pid_inside=report["pid"], hostname_inside=report["hostname"],
        limits=limits, oom_killed=oom,
    )  # fmt: skip


def _shim(plan: _Plan) -> None:
    """Steps 3 and 4: new namespaces, then PID 1; wait for it, reap all, end as it ended."""
    try:
        become_reaper()  # the container's orphans come to us when PID 1 is gone
        os.setpgid(0, 0)
        syscalls.die_with_parent()
        enter_namespaces(NAMESPACES, plan.rootless)  # + user namespace and uid map, rootless
        pid_one = os.fork()
        if pid_one == 0:
            _pid_one(plan)
        os.close(plan.report)
        status = os.waitpid(pid_one, 0)[1]
        with contextlib.suppress(ChildProcessError):
            while True:  # PID 1 is gone, so the kernel killed the rest: reap them
                os.waitpid(-1, 0)
        code = os.waitstatus_to_exitcode(status)
        if code < 0:  # die the same way, so the caller sees the real signal
            with contextlib.suppress(OSError):  # SIGKILL has no handler to reset
                signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
        os._exit(code)
    except BaseException as exc:
        _send(plan.report, {"error": f"the container's shim failed: {exc}"})
    finally:
        os._exit(125)


def _pid_one(plan: _Plan) -> None:
    """Steps 5 to 7, as PID 1 of the new namespaces. Never returns."""
    container = plan.container
    try:
        syscalls.die_with_parent()
        socket.sethostname(container.hostname)
        new_root = mount_container(os.path.join(plan.base, "overlay2"), container, plan.rootless)
        for point in ("/proc", "/dev"):  # the init layer made them; refuse image symlinks
            if safe_path(new_root.merged, point) is None:
                raise LiveError(f"the container has no {point} to mount on")
        no_devices_or_setuid = syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC
        syscalls.mount("proc", f"{new_root.merged}/proc", "proc", no_devices_or_setuid)
        populate_dev(new_root.merged)  # a tmpfs with null, zero, urandom, ... bound in
        for fd, name in ((1, "stdout"), (2, "stderr")):  # kept outside the container's root
            os.dup2(os.open(os.path.join(plan.base, name), os.O_WRONLY | os.O_CREAT, 0o600), fd)
        os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
        checkpoint("rootfs-ready")
        if plan.group is not None:
            plan.group.join()  # last: the runtime's own work is not the container's to pay for
        pivot_into(new_root.merged)
        config = (container.image.config.get("config") or {}) if container.image else {}
        os.chdir(config.get("WorkingDir") or "/")
        env = {**ENV, "HOSTNAME": container.hostname}
        env.update(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
        _send(plan.report, {"pid": os.getpid(), "hostname": socket.gethostname()})
    except BaseException as exc:
        _send(plan.report, {"error": f"setting up the container failed: {_why(exc)}"})
        os._exit(125)
    try:
        os.execvpe(plan.argv[0], plan.argv, env)  # the command becomes PID 1
    except OSError as exc:  # as Docker: 127 "not found", 126 "cannot execute"
        os.write(2, f"layerlab: exec {plan.argv[0]}: {exc.strerror}\n".encode())
        os._exit(127 if exc.errno == errno.ENOENT else 126)


# -- plumbing ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _cgroup(missing: str | None, memory: int | None, pids: int | None) -> Iterator[Cgroup | None]:
    """The container's cgroup with its limits, always removed; None where not allowed."""
    if missing:
        yield None
        return
    with Cgroup("run") as group:
        group.create(memory=memory, pids=pids)
        yield group


def _receive(fd: int, deadline: float) -> dict:
    """PID 1's report: read until EOF, which comes when it execs (or dies)."""
    data = b""
    while select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            return pickle.loads(data) if data else {"error": "the shim ended without a word"}
        data += chunk
    raise LiveTimeout("the container did not start in time; it was stopped")


def _wait(pid: int, deadline: float) -> int:
    while not (done := os.waitpid(pid, os.WNOHANG))[0]:
        if time.monotonic() > deadline:
            raise LiveTimeout("the container did not finish in time; it was stopped")
        time.sleep(0.005)
    return done[1]


def _send(fd: int, message: dict) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, pickle.dumps(message))


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return syscalls.errno_text(exc) + (f" ({exc.filename})" if exc.filename else "")
    return str(exc)


def _text(path: str) -> str:
    with open(path, "rb") as handle:
        return handle.read().decode(errors="replace")


# -- what `layerlab.run` returns, and how it reads Docker-style limits --------------------

MIB = 1 << 20


def _printed(stdout: str) -> str:
    """Output lines indented under their label, as a terminal would show them."""
    return "\n    ".join(stdout.rstrip("\n").split("\n")) or _("(nothing)")


@dataclass(frozen=True, kw_only=True)
class RunResult(LiveResult):
    """How a container's command ended, what it printed, and what it changed.

    `container` is the Container it ran in: its `rw` layer is what the command changed
    (read back from the kernel's upper dir), ready for `container.commit()`.
    """

    command: str = fact(N_("command"))
    exit_code: int = fact(N_("exit code"))
    oom_killed: bool = fact(N_("killed by the OOM killer"))
    pid_inside: int = fact(N_("pid inside"))
    hostname_inside: str = fact(N_("hostname inside"))
    limits: str = fact(N_("cgroup limits"))
    stdout: str = fact(N_("printed"), show=_printed)
    rw_layer: list[str] = fact(N_("rw layer"))
    stderr: str
    container: Container = field(compare=False)
    title: ClassVar[str] = N_("layerlab.run: overlay rootfs, namespaces, cgroup, pivot_root, exec")
    lesson: ClassVar[str] = N_(
        "The command ran as PID 1 of its own namespaces, on an overlay of the image's "
        "layers; what it changed is the rw layer, which commit turns into a new image layer."
    )

    @classmethod
    def of(
        cls, container: Container, argv: Sequence[str], *, reason: str = "", **facts: object
    ) -> RunResult:
        """A result for `container`; `reason` non-empty means simulated, for that reason."""
        return cls(
            live=not reason,
            world="simulated" if reason else live_world(),
            reason=reason,
            command=shlex.join(argv),
            rw_layer=[f"{path} {describe(entry)}" for path, entry in container.rw.items()],
            container=container,
            **facts,  # type: ignore[arg-type]
        )


def parse_memory(memory: int | str | None) -> int | None:
    """Bytes from an int or from Docker's spelling: "64m" -> 67108864, "1g", "512k"."""
    if memory is None or isinstance(memory, int):
        return memory
    units = {"b": 1, "k": 1 << 10, "m": MIB, "g": 1 << 30}
    text = memory.strip().lower()
    try:
        if text[-1:] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise ValueError(f"memory={memory!r}: give bytes, or a number with k, m or g") from None


def describe_limits(memory: int | None, pids: int | None) -> str:
    """'memory 64 MiB, pids 32': the limits as a learner asked for them."""
    shown = [f"memory {memory / MIB:g} MiB" if memory else "", f"pids {pids}" if pids else ""]
    return ", ".join(s for s in shown if s) or "none asked for"
