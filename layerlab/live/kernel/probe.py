"""What may this machine do? Ask the kernel by trying, in throwaway child processes.

Every live lab asks the probe first and returns a labelled simulation when the answer is
no, so a notebook cell never crashes because a kernel (Binder, macOS, a locked-down CI
runner) refuses. Each answer comes from actually doing the thing, not from guessing by uid:
being root is neither necessary (user namespaces) nor sufficient (seccomp, a container).

Every try runs in a forked child inside a private mount namespace, so its mounts die with
it; temp dirs and the test cgroup are removed before the answer is returned. Answers are
cached per process; `probe(refresh=True)` asks again. `LAYERLAB_LIVE=0` switches every
feature off, for a simulated course on any machine.

    python -m layerlab.live --json      (the same as `layerlab probe --json`)
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TypeVar

from ... import host
from ...i18n import N_, _, language
from . import syscalls
from .cgroupfs import Cgroup, detect_layout
from .child import spawn
from .cleanup import temp_dir
from .result import LiveError

R = TypeVar("R")

FEATURES = (
    "user_namespaces",
    "mount_namespace",
    "pid_namespace",
    "uts_namespace",
    "net_namespace",
    "ipc_namespace",
    "overlayfs",
    "overlayfs_rootless",
    "cgroups",
    "pivot_root",
    "docker",
)
_NAMESPACE_FEATURES = {
    "mount_namespace": "mnt",
    "pid_namespace": "pid",
    "uts_namespace": "uts",
    "net_namespace": "net",
    "ipc_namespace": "ipc",
}
OFF_REASON = N_(
    "LAYERLAB_LIVE=0: live kernel features are switched off; labs show simulated results"
)
#: Pyodide (JupyterLite) runs Python inside a web page: no processes, mounts or kernel calls.
IN_BROWSER = host.IN_BROWSER
BROWSER_REASON = N_("running in the browser: no Linux kernel to ask; labs show simulated results")


@dataclass(frozen=True)
class Capability:
    """Can the machine do one thing? `reason` says why, in either case, for a human."""

    available: bool
    reason: str

    def __bool__(self) -> bool:
        return self.available


class ProbeReport(dict):
    """feature name -> Capability, printable as a table in a terminal or a notebook."""

    def __str__(self) -> str:
        width = max(map(len, self), default=0)
        return "\n".join(
            f"{name:<{width}}  {_yes_no(cap.available):<3}  {cap.reason}"
            for name, cap in self.items()
        )

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td>{name}</td><td>{_yes_no(cap.available)}</td>"
            f"<td>{html.escape(cap.reason)}</td></tr>"
            for name, cap in self.items()
        )
        head = "".join(f"<th>{_(word)}</th>" for word in ("feature", "available", "why"))
        return f"<table><tr>{head}</tr>{rows}</table>"


def _yes_no(available: bool) -> str:
    return _("yes") if available else _("no")


def live_enabled() -> bool:
    """False when LAYERLAB_LIVE is 0/false/no/off, the switch for a fully simulated course,
    and always in a browser."""
    if IN_BROWSER:
        return False
    return os.environ.get("LAYERLAB_LIVE", "1").strip().lower() not in {"0", "false", "no", "off"}


def off_reason() -> str:
    """Why every live feature is off when `live_enabled()` is False."""
    return _(BROWSER_REASON) if IN_BROWSER else _(OFF_REASON)


_cache: dict[tuple[bool, int, str], ProbeReport] = {}


def probe(refresh: bool = False) -> ProbeReport:
    """Try every feature once (cached per process); see the module docstring."""
    # The reasons are written in the learner's language, so a new language probes anew.
    key = (live_enabled(), host.euid(), language())
    if refresh or key not in _cache:
        _cache[key] = (
            _probe_all()
            if key[0]
            else ProbeReport((name, Capability(False, off_reason())) for name in FEATURES)
        )
    return _cache[key]


def probe_json() -> str:
    """The report as JSON, as `layerlab probe --json` prints it."""
    report = {name: asdict(cap) for name, cap in probe().items()}
    return json.dumps(report, indent=2)


def missing(*features: str) -> str | None:
    """None if all `features` are available, else the reason of the first that is not."""
    if not live_enabled():
        return off_reason()
    report = probe()
    for name in features:
        if not report[name].available:
            return _("{feature} is not available: {reason}").format(
                feature=name, reason=report[name].reason
            )
    return None


def run_live(features: Sequence[str], live: Callable[[], R], simulated: Callable[[str], R]) -> R:
    """`live()` if the probe allows all `features`, else `simulated(reason)`.

    A LiveError (the kernel refused a step the probe did not cover) also falls back, with the
    refusal as the reason: a notebook cell never crashes because the kernel said no.
    Timeouts and Ctrl-C are not refusals; they propagate after the cleanup.
    """
    reason = missing(*features)
    if reason is None:
        try:
            return live()
        except LiveError as exc:
            reason = _("the live attempt failed: {error}").format(error=exc)
    return simulated(reason)


def _probe_all() -> ProbeReport:
    if not sys.platform.startswith("linux"):
        off = Capability(
            False,
            _("namespaces, overlayfs and cgroups are Linux features; this is {platform}").format(
                platform=sys.platform
            ),
        )
        report = ProbeReport((name, off) for name in FEATURES)
        report["docker"] = _probe_docker()
        return report
    report = ProbeReport()
    report["user_namespaces"] = _probe_user_namespaces()
    userns = report["user_namespaces"].available
    for feature, ns in _NAMESPACE_FEATURES.items():
        report[feature] = _probe_namespace(ns, userns)
    report["overlayfs"] = _probe_overlay(rootless=False)
    if userns:
        report["overlayfs_rootless"] = _probe_overlay(rootless=True)
    else:
        why = _("rootless overlayfs needs a user namespace, and those are not available")
        report["overlayfs_rootless"] = Capability(False, why)
    report["cgroups"] = _probe_cgroups()
    report["pivot_root"] = _probe_pivot_root(userns)
    report["docker"] = _probe_docker()
    return ProbeReport((name, report[name]) for name in FEATURES)


def _refusal(outcome_error: str | None, tmp: str = "") -> str:
    text = outcome_error or _("the child process failed")
    return text.replace(tmp, "<tmp>") if tmp else text


def _probe_user_namespaces() -> Capability:
    def check() -> bool:
        with open("/proc/self/uid_map") as uid_map:
            return os.getuid() == 0 and uid_map.read().split()[:1] == ["0"]

    outcome = spawn(check, user=True, timeout=5)
    if outcome.ok and outcome.value:
        return Capability(
            True, _("created a user namespace: uid 0 inside maps to your own uid outside")
        )
    hint = ""
    for knob in (
        "/proc/sys/kernel/unprivileged_userns_clone",
        "/proc/sys/user/max_user_namespaces",
    ):
        if _read_or(knob, "") == "0":
            hint = _("; {sysctl} is 0").format(
                sysctl=knob.removeprefix("/proc/sys/").replace("/", ".")
            )
    return Capability(
        False,
        _("cannot create a user namespace: {error}").format(error=_refusal(outcome.error)) + hint,
    )


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise OSError(message)


def _check_mnt(tmp: str) -> None:
    syscalls.mount("tmpfs", tmp, "tmpfs", 0, "size=64k")  # a real mount, gone with the namespace


def _check_pid(tmp: str) -> None:
    _expect(os.getpid() == 1, "the first process in a new PID namespace should be PID 1")


def _check_uts(tmp: str) -> None:
    socket.sethostname("layerlab-probe")


def _check_net(tmp: str) -> None:
    names = [name for _, name in socket.if_nameindex()]
    _expect(names == ["lo"], "a new network namespace should hold only lo")


def _check_ipc(tmp: str) -> None:
    """Nothing to do: getting a fresh IPC namespace from unshare(2) is the whole test."""


_NS_CHECKS: dict[str, Callable[[str], None]] = {
    "mnt": _check_mnt,
    "pid": _check_pid,
    "uts": _check_uts,
    "net": _check_net,
    "ipc": _check_ipc,
}


def _probe_namespace(ns: str, userns: bool) -> Capability:
    """Try unshare directly (privileged); if refused, try again inside a user namespace."""
    with temp_dir("probe") as tmp:
        check = _NS_CHECKS[ns]
        direct = spawn(check, tmp, namespaces=[ns], user=False, timeout=5)
        if direct.ok:
            return Capability(
                True, _("created a new {ns} namespace directly (privileged)").format(ns=ns)
            )
        if not userns:
            return Capability(
                False,
                _("cannot create a new {ns} namespace: {error}").format(
                    ns=ns, error=_refusal(direct.error, tmp)
                ),
            )
        nested = spawn(check, tmp, namespaces=[ns], user=True, timeout=5)
    if nested.ok:
        return Capability(
            True, _("created a new {ns} namespace inside a user namespace (rootless)").format(ns=ns)
        )
    return Capability(
        False,
        _("cannot create a new {ns} namespace, even inside a user namespace: {error}").format(
            ns=ns, error=_refusal(nested.error, tmp)
        ),
    )


def check_overlay(base: str, rootless: bool) -> str:
    """Mount a tiny overlay under `base` and check its two deletion markers; inside a child.

    Deleting a lower file must leave a whiteout (char device 0/0) in the upper dir, and
    recreating a deleted dir must mark it opaque with an xattr: `trusted.overlay.opaque`
    as root, `user.overlay.opaque` with `-o userxattr` (the only way a user namespace may).
    """
    lower, upper, work, merged = (
        os.path.join(base, d) for d in ("lower", "upper", "work", "merged")
    )
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    syscalls.mount("overlay", merged, "overlay", 0, options + (",userxattr" if rootless else ""))
    os.unlink(os.path.join(merged, "gone"))
    os.unlink(os.path.join(merged, "d", "x"))
    os.rmdir(os.path.join(merged, "d"))
    os.mkdir(os.path.join(merged, "d"))
    info = os.lstat(os.path.join(upper, "gone"))
    if not (stat.S_ISCHR(info.st_mode) and info.st_rdev == 0):
        raise OSError("deleting through the overlay did not leave a 0/0 whiteout")
    xattr = ("user" if rootless else "trusted") + ".overlay.opaque"
    if os.getxattr(os.path.join(upper, "d"), xattr) != b"y":
        raise OSError(f"a recreated dir was not marked opaque with {xattr}")
    return xattr


def _probe_overlay(rootless: bool) -> Capability:
    with temp_dir("probe") as tmp:
        for name in ("lower/d", "upper", "work", "merged"):
            os.makedirs(os.path.join(tmp, name))
        for name in ("lower/gone", "lower/d/x"):
            open(os.path.join(tmp, name), "w").close()
        outcome = spawn(check_overlay, tmp, rootless, namespaces=["mnt"], user=rootless, timeout=5)
    if outcome.ok:
        text = (
            _(
                "mounted overlayfs inside a user namespace with -o userxattr; "
                "whiteouts and {how} work"
            )
            if rootless
            else _("mounted overlayfs directly (privileged); whiteouts and {how} work")
        )
        return Capability(True, text.format(how=outcome.value))
    why = _refusal(outcome.error, tmp)
    if rootless:
        return Capability(
            False,
            _(
                "overlayfs inside a user namespace failed (it needs Linux 5.11+, and user.* "
                "xattrs in the temp dir, which tmpfs lacks on older kernels such as 6.1): {error}"
            ).format(error=why),
        )
    return Capability(
        False,
        _("mounting overlayfs directly failed: {error}; see overlayfs_rootless").format(error=why),
    )


def _probe_cgroups() -> Capability:
    layout = detect_layout()
    if layout.missing:
        return Capability(
            False,
            _("{layout}; cannot set every limit the labs use").format(layout=layout.describe()),
        )
    try:
        with Cgroup("probe", layout) as group:
            group.create(memory=64 << 20, pids=16, cpu=0.5)
    except OSError as exc:
        where = str(exc.filename).split("/layerlab-")[0] if exc.filename else _("the cgroup tree")
        return Capability(
            False,
            _(
                "cannot create a cgroup in {where}: {error}; needs root or a cgroup v2 subtree "
                "delegated to you (systemd-run --user --scope -p Delegate=yes)"
            ).format(where=where, error=syscalls.errno_text(exc)),
        )
    mounts = {h.mount for h in layout.hierarchies.values()}
    delegated = sorted(set(group.parents.values()) - mounts)
    text = (
        _("created and removed a test cgroup in the subtree delegated to you, {where}; {layout}")
        if delegated
        else _("created and removed a test cgroup with limits; {layout}")
    )
    return Capability(
        True, text.format(where=delegated[0] if delegated else "", layout=layout.describe())
    )


def _pivot(new_root: str) -> None:
    """pivot_root into `new_root` in this (private) mount namespace, then drop the old root."""
    syscalls.mount(new_root, new_root, None, syscalls.MS_BIND)  # new root must be a mount point
    os.mkdir(os.path.join(new_root, "old"))
    syscalls.pivot_root(new_root, os.path.join(new_root, "old"))
    os.chdir("/")
    syscalls.umount("/old", syscalls.MNT_DETACH)


def _probe_pivot_root(userns: bool) -> Capability:
    with temp_dir("probe") as tmp:
        direct = spawn(_pivot, tmp, namespaces=["mnt"], user=False, timeout=5)
        nested = (
            spawn(_pivot, tmp, namespaces=["mnt"], user=True, timeout=5)
            if (not direct.ok and userns)
            else None
        )
    if direct.ok:
        return Capability(True, _("pivot_root worked in a private mount namespace (privileged)"))
    if nested is not None and nested.ok:
        return Capability(
            True, _("pivot_root worked in a private mount namespace inside a user namespace")
        )
    error = (nested or direct).error
    return Capability(False, _("pivot_root failed: {error}").format(error=_refusal(error, tmp)))


def _probe_docker() -> Capability:
    """Ask the engine's API socket for /_ping, as `docker version` would, with a short timeout."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return Capability(
            False,
            _("DOCKER_HOST={host} is not a local unix socket; the labs need one").format(host=host),
        )
    path = host.removeprefix("unix://")
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2.0)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            answer = b"".join(iter(lambda: sock.recv(4096), b""))
    except OSError as exc:
        return Capability(
            False,
            _("no Docker engine answers at {path}: {error}").format(
                path=path, error=syscalls.errno_text(exc)
            ),
        )
    if answer.split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"]:
        return Capability(True, _("a Docker engine answered /_ping at {path}").format(path=path))
    return Capability(
        False, _("{path} answered /_ping with something other than 200 OK").format(path=path)
    )


def _read_or(path: str, default: str) -> str:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return default


def main(argv: list[str] | None = None) -> int:
    """`python -m layerlab.live [--json]`: what the CLI's `layerlab probe` prints."""
    args = sys.argv[1:] if argv is None else argv
    print(probe_json() if "--json" in args else probe())
    return 0
