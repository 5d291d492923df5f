"""Notebook 08's runtime level 4 (exercise 08.6): a mount namespace, and pivot_root into an
overlay of the image's layers, as level 3's runtime plus the root filesystem steps.

The learner's `run(k, argv, hostname, layers, box)` gets the image's layer directories,
base first, and `box`, a directory of the container's own holding empty `upper`, `work` and
`merged`. In a new mount namespace made private, it mounts the overlay (lowerdir: the top
layer first) on merged and a /proc for PID 1's namespace on merged/proc, pivot_roots into
it, detaches and removes the old root, and execs. The command is busybox from the image, which
reports what it sees: its /, /etc/release (each layer has its own), where /proc/self
points and /proc/self/mountinfo. After run() the check compares the host's mount table
with the one before, and notes each mount call the kernel refused and, as strace would,
whether the process that exec'd got its root from pivot_root or only from chroot: from
inside, the two look alike, but only pivot_root takes the host's root out of reach.

Live where the probe allows overlay and pivot_root (the sandbox has its own user and mount
namespaces, the mounts shared like a systemd host's, so nothing reaches the real host's
table, and the kernel's rules are a user namespace's as root too), else on SimKernel's mount
model (mounts.py), which applies those rules. The hints come from what was observed.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..i18n import N_, _
from .ex08_levels import MISSING, _judge_code, _judge_hostname, _judge_pid_one, _judge_process
from .framework import Exercise, NotSolved, Wrong, register, require_function
from .kernels import Observed, Ran, RootView, simulate

__all__ = ["IMAGE", "rootfs_cases", "observe_rootfs"]

TIMEOUT = 10.0  # seconds a run() may take before the sandbox is stopped
BUSYBOX = "/bin/busybox"
MARKER = "layerlab-image"
#: The image, base layer first: busybox and an /etc/release the top layer replaces.
IMAGE: list[dict[str, str | None]] = [
    {"bin": None, "bin/busybox": "busybox", "etc": None, "etc/release": "base", "proc": None},
    {"etc": None, "etc/release": "app", MARKER: "only the image has this file"},
]
EXPECTED_NAMES = ("bin", "etc", MARKER, "proc")
SIM_BASE = "/var/lib/layerlab"


@dataclass(frozen=True)
class Case:
    code: int | None  # the exit code the command ends with; None: it does not exist
    hostname: str


def rootfs_cases() -> list[Case]:
    """Hand-picked cases, one generated (seeded), then a command not in the image."""
    rng = random.Random("08.6")
    generated = Case(rng.randrange(4, 120), f"app-{rng.randrange(100)}")
    return [Case(3, "box"), Case(0, "web-1"), generated, Case(None, "ghost")]


def _sim_disk() -> tuple[dict[str, str | None], list[str], str]:
    """The host's disk for SimKernel: its own /bin/busybox and /proc, the layers, the box."""
    disk: dict[str, str | None] = {"/": None, "/bin": None, BUSYBOX: "busybox", "/proc": None}
    parts = SIM_BASE.strip("/").split("/")
    for depth in range(1, len(parts) + 1):
        disk["/" + "/".join(parts[:depth])] = None
    layers = [f"{SIM_BASE}/layers/{n}" for n in range(len(IMAGE))]
    box = f"{SIM_BASE}/box"
    for path in [
        f"{SIM_BASE}/layers",
        *layers,
        box,
        f"{box}/upper",
        f"{box}/work",
        f"{box}/merged",
    ]:
        disk[path] = None
    for layer, files in zip(layers, IMAGE, strict=True):
        disk.update({f"{layer}/{name}": text for name, text in files.items()})
    return disk, layers, box


def _make_image(base: str) -> tuple[list[str], str]:
    """The layers and the box on the live host, under `base` (a temp dir)."""
    layers = [os.path.join(base, "layers", str(n)) for n in range(len(IMAGE))]
    for layer, files in zip(layers, IMAGE, strict=True):
        for name, text in files.items():
            path = os.path.join(layer, name)
            if text is None:
                os.makedirs(path, exist_ok=True)
            elif name == BUSYBOX.lstrip("/"):
                shutil.copy2(shutil.which("busybox") or BUSYBOX, path)
            else:
                with open(path, "w") as handle:
                    handle.write(text)
    box = os.path.join(base, "box")
    for name in ("upper", "work", "merged"):
        os.makedirs(os.path.join(box, name))
    return layers, box


def _live_features() -> list[str]:
    needs = ["uts_namespace", "pid_namespace", "mount_namespace", "pivot_root"]
    rootless = not hasattr(os, "geteuid") or os.geteuid() != 0
    return needs + (["user_namespaces", "overlayfs_rootless"] if rootless else ["overlayfs"])


def observe_rootfs(answer: Callable[..., Any], case: Case) -> Observed:
    """Run the answer for one case, live if the probe allows, else simulated."""
    from ..live import probe

    def live() -> Observed:
        from ..live.kernel import cleanup
        from .sandbox import live_observe, rootfs_probe_argv

        if not (shutil.which("busybox") or os.path.exists(BUSYBOX)):
            from ..live.kernel.result import LiveError

            raise LiveError("busybox (busybox-static) is not installed")
        with cleanup.temp_dir("rootfs-level") as base:
            layers, box = _make_image(base)

            def make_args(fd: int) -> list[Any]:
                argv = [MISSING] if case.code is None else rootfs_probe_argv(case.code, fd)
                return [argv, case.hostname, layers, box]

            return live_observe(answer, make_args, TIMEOUT, mounts=True)

    def simulated(_reason: str) -> Observed:
        disk, layers, box = _sim_disk()
        argv = [MISSING] if case.code is None else [BUSYBOX, "sh", "probe", str(case.code)]
        args = [argv, case.hostname, layers, box]
        return simulate(answer, args, {"busybox": case.code or 0}, disk)

    return probe.run_live(_live_features(), live, simulated)


# -- judging ----------------------------------------------------------------------------------

_REFUSED = {
    "pivot_root": (
        "pivot-refused",
        N_(
            "the kernel refused pivot_root, so the command never ran. new_root must be a mount "
            "point (mount the overlay on merged first), put_old a directory under it, and no "
            "mount involved may be shared: make the new namespace's mounts private first."
        ),
    ),
    "umount2": (
        "umount-refused",
        N_(
            "the kernel refused to unmount the old root: it still has mounts under it (/proc, "
            "/sys...). k.umount2(put_old, k.MNT_DETACH) detaches the whole tree at once."
        ),
    ),
    "rmdir": (
        "rmdir-refused",
        N_(
            "the kernel refused to remove put_old: a directory with something mounted on it is "
            "busy. Unmount the old root from it first (k.umount2 with k.MNT_DETACH), then rmdir."
        ),
    ),
}


def _judge_refused(seen: Observed) -> None:
    if seen.ran or not seen.refused:
        return
    call = seen.refused[0]
    if call == "mount-proc":
        raise Wrong(
            "proc-refused",
            _(
                "the kernel refused to mount /proc. In a user namespace, where this check runs "
                "(and rootless containers do), a new /proc must be for a PID namespace made in "
                "it, so mounted by PID 1, and only while the host's /proc is still in sight: "
                "mount it on the new root's /proc (box/merged/proc) before pivot_root."
            ),
        )
    if call in _REFUSED:
        key, hint = _REFUSED[call]
        raise Wrong(key, _(hint))
    raise Wrong(
        "refused",
        _(
            "the kernel refused k.{call}(...), so the command never ran: check "
            "its arguments (the paths you built, the flags), one step at a time."
        ).format(call=call.split("-")[0]),
    )


def _judge_view(view: RootView) -> None:
    """What the command saw: its root is the overlay, with only the image's files in it."""
    if MARKER not in view.names:
        raise Wrong(
            "not-the-image",
            _(
                "the command's / is not the image's: it ran on the host's root filesystem. "
                "pivot_root into the overlay you mounted on merged, and chdir('/') there."
            ),
        )
    if view.release == "base":
        raise Wrong(
            "lowerdir-order",
            _(
                "/etc/release read 'base', the base layer's: the top layer's file should hide "
                "it. overlay's lowerdir lists the top layer first, so the layers (given base "
                "first) go in reversed order."
            ),
        )
    if view.own_proc is None:
        raise Wrong(
            "no-proc",
            _(
                "the command found no /proc: mount one on the new root's /proc (box/merged/proc) "
                "before pivot_root. A /proc mounted on the host's /proc goes away with the old "
                "root."
            ),
        )
    others = [point for point, _fstype in view.mounts if point not in ("/", "/proc")]
    if others:
        raise Wrong(
            "old-root-left",
            _(
                "the old root is still mounted inside the container, under put_old, so the "
                "host's files stay in reach: unmount it, k.umount2(put_old, k.MNT_DETACH)."
            ),
        )
    extra = sorted(set(view.names) - set(EXPECTED_NAMES))
    if extra:
        raise Wrong(
            "put-old-left",
            _(
                "the container's / holds a directory the image does not have, put_old: remove "
                "it (k.rmdir) once the old root is unmounted from it."
            ),
        )


def _judge_root_call(seen: Observed, view: RootView) -> None:
    """How the command's process got its root, from the calls it made (as strace shows them):
    from inside, a chroot into the overlay looks like a pivot_root into it."""
    how = next((how for pid, how in reversed(seen.roots) if pid == view.pid), "")
    if how == "chroot":
        raise Wrong(
            "chroot-not-pivot",
            _(
                "the command got its root from chroot, not pivot_root. chroot changes only the "
                "process's root: the host's root stays mounted in the namespace, and a process "
                "running as root can climb out of a chroot, as notebook 03 shows. pivot_root "
                "makes the overlay the namespace's root mount, so the old root can be detached "
                "(k.umount2 with k.MNT_DETACH) and is gone."
            ),
        )


def _judge_rootfs(seen: Observed, case: Case) -> None:
    _judge_process(seen)
    if seen.host_mounts_changed:
        raise Wrong(
            "host-mounts",
            _(
                "the host's mount table changed: a mount made in the host's mount namespace, or "
                "under a shared mount copied from it, shows on the host. In a new mount namespace "
                "(CLONE_NEWNS), first k.mount(None, '/', None, k.MS_REC | k.MS_PRIVATE)."
            ),
        )
    _judge_refused(seen)
    if case.code is not None and not seen.ran and not seen.views:
        if seen.value is None or seen.value is Ellipsis:
            raise NotSolved()
        raise Wrong("no-exec", _("the command never ran: PID 1 must exec it."))
    if seen.views:
        view = seen.views[0]
        ran = Ran(view.pid, view.hostname, True, view.pid == 1, False)
        _judge_hostname(Observed(host_hostname=seen.host_hostname, ran=[ran]), case)
        _judge_pid_one(Observed(ran=[ran]))
        _judge_view(view)
        _judge_root_call(seen, view)
    _judge_code(seen, case)


def check_rootfs(answer: object) -> str:
    require_function(answer, "run")
    for case in rootfs_cases():
        _judge_rootfs(observe_rootfs(answer, case), case)
    return _(
        "the command ran as PID 1 on the image's files: an overlay of its layers as the root "
        "mount of a private mount namespace, with its own /proc, the old root gone, and the "
        "host's mount table untouched: what runc does before exec."
    )


ROOTFS_STUB = '''
def run(k, argv, hostname, layers, box):
    """As level 3, and the command runs on the image: an overlay of `layers` (directories,
    base layer first) with box/upper and box/work, mounted on box/merged and made the root
    of a new, private mount namespace, with the old root gone and a /proc of its own.
    New: k.CLONE_NEWNS, k.mount(source, target, fstype, flags, data), k.pivot_root(new,
    put_old), k.umount2(path, flags), k.chdir, k.mkdir, k.rmdir; k.MS_REC, k.MS_PRIVATE,
    k.MNT_DETACH."""
    ...  # YOUR CODE HERE

check("08.6", run)
'''

ROOTFS_SOLUTION = '''
def run(k, argv, hostname, layers, box):
    """As level 3, and the command runs on the image: an overlay of `layers` (directories,
    base layer first) with box/upper and box/work, mounted on box/merged and made the root
    of a new, private mount namespace, with the old root gone and a /proc of its own.
    New: k.CLONE_NEWNS, k.mount(source, target, fstype, flags, data), k.pivot_root(new,
    put_old), k.umount2(path, flags), k.chdir, k.mkdir, k.rmdir; k.MS_REC, k.MS_PRIVATE,
    k.MNT_DETACH."""
    shim = k.fork()
    if shim == 0:
        try:
            k.unshare(k.CLONE_NEWUTS | k.CLONE_NEWPID | k.CLONE_NEWNS)
            k.sethostname(hostname)
            k.mount(None, "/", None, k.MS_REC | k.MS_PRIVATE)   # no propagation to the host
            pid_one = k.fork()
            if pid_one == 0:
                try:
                    root = f"{box}/merged"
                    lower = ":".join(reversed(layers))          # the top layer first
                    k.mount("overlay", root, "overlay", 0,
                            f"lowerdir={lower},upperdir={box}/upper,workdir={box}/work")
                    k.mount("proc", f"{root}/proc", "proc", 0)  # PID 1's, while the host's
                    k.mkdir(f"{root}/.old")                     # /proc is still in sight
                    k.pivot_root(root, f"{root}/.old")          # the overlay becomes /
                    k.chdir("/")
                    k.umount2("/.old", k.MNT_DETACH)            # the host's root, gone
                    k.rmdir("/.old")
                    k.execvp(argv[0], argv)
                finally:
                    k._exit(127)
            _, status = k.waitpid(pid_one, 0)
            k._exit(k.waitstatus_to_exitcode(status))
        finally:
            k._exit(125)
    _, status = k.waitpid(shim, 0)
    return k.waitstatus_to_exitcode(status)

check("08.6", run)
'''

register(
    Exercise(
        "08.6", N_("level 4: an overlay root and pivot_root"), ROOTFS_STUB, ROOTFS_SOLUTION,
        check_rootfs,
    )
)  # fmt: skip
