"""Namespaces: what a container *sees*, demonstrated on the real kernel.

A namespace gives a process its own copy of one kind of global name: mount table (mnt),
process ids (pid), hostname (uts), network devices (net), System V IPC (ipc), cgroup
paths (cgroup), user ids (user) and the clocks' offsets (time). `docker run` creates the
first five for every container, a cgroup namespace on cgroup v2 hosts, a user namespace
only with userns-remap, and no time namespace (man 7 namespaces; moby
daemon/oci_linux.go). The labs here use the seven kinds Docker can use.

Each demo below runs in a forked child (see `kernel/child.py`) and returns a small result with
`live`, `world` and stable facts to print. As an ordinary user, every demo runs inside a
user namespace first: there you are uid 0 with full capabilities over the new namespaces,
but nothing more on the host. When the probe says no, the demo returns the same result
class filled with what a Linux machine that allows it shows, labelled SIMULATED.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .. import host
from ..i18n import N_, _
from .kernel import syscalls
from .kernel.child import ALL_NAMESPACES, CommandResult, Witness, run, run_program
from .kernel.cleanup import checkpoint, temp_dir
from .kernel.probe import run_live
from .kernel.result import LiveResult, derived, fact, live_world

LINKS = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")


def run_in_namespaces(
    fn: Callable[..., Any],
    *args: Any,
    namespaces: Sequence[str] = ALL_NAMESPACES,
    user: bool | None = None,
    timeout: float = 10.0,
) -> Any:
    """fn(*args) in a child inside new `namespaces`; its return value comes back pickled.

    `user=None` adds a user namespace only when you are not root (rootless). The child is
    killed and reaped on timeout or Ctrl-C; its mounts die with its mount namespace.
    """
    return run(fn, *args, namespaces=namespaces, user=user, timeout=timeout)


def run_command(
    argv: Sequence[str],
    namespaces: Sequence[str] = ALL_NAMESPACES,
    user: bool | None = None,
    timeout: float = 10.0,
) -> CommandResult:
    """Run a program inside new namespaces, like `unshare --fork --pid --mount-proc ... argv`."""
    return run_in_namespaces(
        run_program, argv, timeout, namespaces=namespaces, user=user, timeout=timeout + 2
    )


@dataclass(frozen=True, kw_only=True)
class NamespaceLinks(LiveResult):
    """Does each /proc/self/ns/<kind> link point somewhere new inside the container?"""

    differs: dict[str, bool] = field(metadata={"simulated": dict.fromkeys(LINKS, True)})
    per_kind = derived(
        None, lambda r: [(_("{kind} differs").format(kind=k), v) for k, v in r.differs.items()]
    )
    title: ClassVar[str] = N_("namespace links: /proc/self/ns/* inside vs outside")
    lesson: ClassVar[str] = N_(
        "Each link names a namespace; a different link means a separate copy "
        "of that kind of global name."
    )


def namespace_links() -> NamespaceLinks:
    """Compare our /proc/self/ns links with a child's in new namespaces of all seven kinds."""

    def links() -> dict[str, str]:
        return {kind: os.readlink(f"/proc/self/ns/{kind}") for kind in LINKS}

    def live() -> NamespaceLinks:
        outside = links()
        inside = run_in_namespaces(links, user=True)  # a user namespace too, so all seven differ
        differs = {kind: inside[kind] != outside[kind] for kind in LINKS}
        return NamespaceLinks(live=True, world=live_world(), differs=differs)

    return run_live(
        [
            "user_namespaces",
            "pid_namespace",
            "mount_namespace",
            "uts_namespace",
            "net_namespace",
            "ipc_namespace",
        ],
        live,
        NamespaceLinks.simulated,
    )


@dataclass(frozen=True, kw_only=True)
class PidIsolation(LiveResult):
    """The first process in a new PID namespace is PID 1 and sees only its own processes."""

    pid_inside: int = fact(N_("pid inside"), simulated=1)
    processes_visible: int = fact(N_("processes visible in /proc"), simulated=1)
    title: ClassVar[str] = N_("PID namespace")
    lesson: ClassVar[str] = N_(
        "Inside, the process is PID 1 (the container's init) and a fresh "
        "/proc lists only the container's processes."
    )


def pid_isolation() -> PidIsolation:
    """getpid() in a new PID namespace (with its own /proc mounted, as --mount-proc does)."""

    def look() -> tuple[int, int]:
        return os.getpid(), sum(name.isdigit() for name in os.listdir("/proc"))

    def live() -> PidIsolation:
        pid, visible = run_in_namespaces(look, namespaces=["pid", "mnt"])
        return PidIsolation(
            live=True, world=live_world(), pid_inside=pid, processes_visible=visible
        )

    return run_live(["pid_namespace", "mount_namespace"], live, PidIsolation.simulated)


@dataclass(frozen=True, kw_only=True)
class HostnameIsolation(LiveResult):
    """A hostname set inside a UTS namespace, and whether the host's stayed the same."""

    hostname_inside: str = fact(N_("hostname inside"), simulated="container")
    host_unchanged: bool = fact(N_("host's hostname unchanged"), simulated=True)
    title: ClassVar[str] = N_("UTS namespace: hostname")
    lesson: ClassVar[str] = N_(
        "sethostname() inside changes only the container's copy; this is "
        "how `docker run --hostname` works."
    )


def hostname_isolation(name: str = "container") -> HostnameIsolation:
    """Set the hostname to `name` in a new UTS namespace; a witness checks the host's meanwhile."""

    def live() -> HostnameIsolation:
        before = socket.gethostname()
        witness = Witness(socket.gethostname)

        def inside() -> tuple[str, str]:
            socket.sethostname(name)
            checkpoint("hostname-set")
            return socket.gethostname(), witness.ask()

        seen, host_now = run(inside, namespaces=["uts"], user=None, setup=witness.start)
        unchanged = host_now == before == socket.gethostname()
        return HostnameIsolation(
            live=True, world=live_world(), hostname_inside=seen, host_unchanged=unchanged
        )

    return run_live(
        ["uts_namespace"], live, lambda why: HostnameIsolation.simulated(why, hostname_inside=name)
    )


@dataclass(frozen=True, kw_only=True)
class NetworkIsolation(LiveResult):
    """The network devices a new network namespace starts with."""

    interfaces: list[str] = fact(N_("interfaces inside"), simulated=["lo"])
    title: ClassVar[str] = N_("network namespace")
    lesson: ClassVar[str] = N_(
        "A new network namespace has only a loopback device; Docker then "
        "adds one end of a veth pair (none with --network none)."
    )


def network_isolation() -> NetworkIsolation:
    """List the interfaces (if_nameindex) inside a new network namespace."""

    def live() -> NetworkIsolation:
        names = run_in_namespaces(lambda: [n for _, n in socket.if_nameindex()], namespaces=["net"])
        return NetworkIsolation(live=True, world=live_world(), interfaces=names)

    return run_live(["net_namespace"], live, NetworkIsolation.simulated)


@dataclass(frozen=True, kw_only=True)
class MountIsolation(LiveResult):
    """A tmpfs mounted inside a private mount namespace, looked at from both sides."""

    inside_sees_file: bool = fact(N_("inside sees the file"), simulated=True)
    host_sees_file: bool = fact(N_("host sees the file"), simulated=False)
    host_sees_mount: bool = fact(N_("host's mount table shows the mount"), simulated=False)
    title: ClassVar[str] = N_("mount namespace")
    lesson: ClassVar[str] = N_(
        "Mounts made inside a private mount namespace are invisible to the "
        "host, and vanish when the last process inside exits."
    )


def mount_isolation() -> MountIsolation:
    """Mount a tmpfs with a file in it inside; a witness on the host looks at the same path."""

    def live() -> MountIsolation:
        with temp_dir("mount") as tmp:
            target = os.path.join(tmp, "mnt")
            os.mkdir(target)

            def host_view() -> tuple[bool, bool]:
                with open("/proc/self/mountinfo") as table:
                    mounted = any(line.split()[4] == target for line in table)
                return os.path.exists(os.path.join(target, "hello.txt")), mounted

            witness = Witness(host_view)

            def inside() -> tuple[bool, tuple[bool, bool]]:
                syscalls.mount("tmpfs", target, "tmpfs", 0, "size=1m")
                with open(os.path.join(target, "hello.txt"), "w") as handle:
                    handle.write("only visible in here\n")
                checkpoint("mounted")
                return os.path.exists(os.path.join(target, "hello.txt")), witness.ask()

            seen, (host_file, host_mount) = run(
                inside, namespaces=["mnt"], user=None, setup=witness.start
            )
        return MountIsolation(
            live=True,
            world=live_world(),
            inside_sees_file=seen,
            host_sees_file=host_file,
            host_sees_mount=host_mount,
        )

    return run_live(["mount_namespace"], live, MountIsolation.simulated)


@dataclass(frozen=True, kw_only=True)
class UserMapping(LiveResult):
    """Who you are inside a user namespace, and who the host says you are."""

    uid_inside: int = fact(N_("uid inside"), simulated=0)
    gid_inside: int = fact(N_("gid inside"), simulated=0)
    maps_to_your_uid: bool = fact(N_("uid 0 inside maps to your uid outside"), simulated=True)
    file_owned_by_you: bool = fact(
        N_("a file root creates inside is owned by you outside"), simulated=True
    )
    #: machine-specific: kept for tools, never printed
    outer_uid: int = field(default=0, metadata={"simulated": 1000})
    title: ClassVar[str] = N_("user namespace: uid mapping")
    lesson: ClassVar[str] = N_(
        "uid 0 inside is your own uid outside (uid_map '0 <you> 1'): root "
        "powers over the container's namespaces, none over the host."
    )


def user_mapping() -> UserMapping:
    """Become uid 0 in a new user namespace, read uid_map, and create a file to look at outside."""

    def live() -> UserMapping:
        me = host.euid()
        with temp_dir("user") as tmp:
            made = os.path.join(tmp, "made-by-root-inside")

            def inside() -> tuple[int, int, list[str]]:
                open(made, "w").close()
                with open("/proc/self/uid_map") as uid_map:
                    return os.getuid(), os.getgid(), uid_map.read().split()

            uid, gid, uid_map = run_in_namespaces(inside, namespaces=[], user=True)
            owner = os.stat(made).st_uid
        return UserMapping(
            live=True,
            world=live_world(),
            uid_inside=uid,
            gid_inside=gid,
            maps_to_your_uid=uid_map[:3] == ["0", str(me), "1"],
            file_owned_by_you=owner == me,
            outer_uid=me,
        )

    return run_live(["user_namespaces"], live, UserMapping.simulated)
