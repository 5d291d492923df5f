"""Real overlay mounts of a layerlab Container: let the kernel do the copy-on-write.

The model (`layerlab.copy_on_write`) claims to do what overlayfs does. This lab puts the
claim to the kernel, in four steps, inside a child process with a private mount namespace:

1. write the image layers, the init layer and the rw layer as Docker's overlay2 dirs
   (`storage.write_overlay2`), whiteouts as char devices 0/0, opaque dirs with an xattr;
2. mount overlayfs: lowerdir = init + image layers, upperdir = the rw layer; then bind the
   container's own hostname, hosts and resolv.conf over the init layer's placeholders, so
   writes to them never reach the upper dir (Docker does the same);
3. operate through the mount, chrooted into it: an image symlink such as `/etc -> /` then
   resolves inside the container, never on the host;
4. read the upper dir back into the model: char 0/0 -> `Whiteout`, `*.overlay.opaque=y`
   -> `OpaqueDir`.

The same operations also run on the model. The result says whether the kernel's upper dir
equals the model's rw layer, and the container keeps what the kernel wrote, ready to commit.

Mount options: moby's overlay2 driver passes `index=off` (when the kernel knows the
option) and the three dirs, nothing else (daemon/graphdriver/overlay2/overlay.go, `Get`);
redirect_dir and metacopy stay at the kernel's defaults, which are off unless the overlay
module was built or loaded otherwise. The model assumes exactly that (a renamed lower dir
gives EXDEV, copy-up breaks hardlinks and copies whole files), so the lab pins all three
to off, to behave the same on a kernel with other defaults. Inside a user namespace
(`userxattr`) the kernel refuses `redirect_dir=off` and asks for `nofollow`, which likewise
never creates a redirect. tests/reference/test_engine_facts.py checks the Docker side.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

from .. import host
from ..container import Container
from ..entries import Content, Device, File, Hardlink, Whiteout, describe
from ..formats.ondisk import OnDiskFormat, opaque_xattr, read_layer_dir
from ..i18n import N_
from ..layer import Layer
from . import storage
from .engine_facts import OVERLAY2_PASSES
from .fileops import OPERATIONS, Op, kernel_ops, model_ops, show_op
from .kernel import syscalls
from .kernel.child import run
from .kernel.cleanup import checkpoint, temp_dir
from .kernel.probe import run_live
from .kernel.result import LiveError, LiveResult, derived, fact, live_world

__all__ = ["ROOT_OPTIONS", "ROOTLESS_OPTIONS", "OverlayLab", "overlay_lab"]
__all__ += ["mount_container", "mounted_paths", "read_back", "safe_path", "Mounted"]

ROOT_OPTIONS = "index=off,redirect_dir=off,metacopy=off"
ROOTLESS_OPTIONS = "userxattr,index=off,redirect_dir=nofollow,metacopy=off"
ROOTLESS_NOTE = "(rootless: userxattr, and redirect_dir=nofollow, since userxattr refuses off)"
#: What the lab prints about Docker's own mount: engine_facts.OVERLAY2_PASSES, in words.
DOCKER_OPTIONS_FACT = (
    f"{','.join(OVERLAY2_PASSES)} (redirect_dir and metacopy: left at the kernel's defaults)"
)
OPAQUE_NOTE = "(user.overlay.opaque=y when mounted rootless with userxattr)"
#: Docker's per-container files, bind-mounted from containers/<id>/ over the init layer's.
BIND_FILES = {"/etc/hostname": "hostname", "/etc/hosts": "hosts", "/etc/resolv.conf": "resolv.conf"}


def mount_options(rootless: bool) -> str:
    return ROOTLESS_OPTIONS if rootless else ROOT_OPTIONS


@dataclass(frozen=True)
class Mounted:
    """Absolute paths of a mounted container: the data root, the mount, upper, own files."""

    root: str
    merged: str
    upper: str
    files: str


def safe_path(root: str, path: str) -> str | None:
    """root + path, or None if it does not exist; refuses a path through any symlink.

    Mounting over a path follows symlinks *on the host*: an image making /etc a link to
    the host's /etc would have us mount over the host's files. runc resolves such paths
    with securejoin; the init layer normally makes these paths plain, and we check.
    """
    here = root
    for name in path.strip("/").split("/"):
        here = os.path.join(here, name)
        if os.path.islink(here):
            raise LiveError(f"{path} passes through a symlink in the image; not mounting there")
        if not os.path.lexists(here):
            return None
    return here


def mounted_paths(root: str, container: Container) -> Mounted:
    """The absolute paths mount_container(root, container, ...) uses."""
    dirs = storage.overlay2_dirs(container)
    merged, upper, files = (
        os.path.join(root, d) for d in (dirs.merged, dirs.upper, dirs.container)
    )
    return Mounted(root, merged, upper, files)


def mount_container(root: str, container: Container, rootless: bool) -> Mounted:
    """Steps 1 and 2 of the module doc, under the empty dir `root`; call in a mount namespace."""
    dirs = storage.write_overlay2(container, root, userxattr=rootless)
    os.chdir(os.path.join(root, dirs.driver))  # short relative paths: lowerdir=l/A:l/B
    options = f"{dirs.options()},{mount_options(rootless)}"
    mounted = mounted_paths(root, container)
    syscalls.mount("overlay", mounted.merged, "overlay", 0, options)
    for path, name in BIND_FILES.items():
        target = safe_path(mounted.merged, path)
        if target is not None:
            syscalls.mount(os.path.join(mounted.files, name), target, None, syscalls.MS_BIND)
    return mounted


def read_back(mounted: Mounted, rootless: bool, since: float, clock: int = 0) -> tuple[Layer, dict]:
    """Step 4: the upper dir as a Layer (contents in memory), and the container's own files.

    Times the kernel stamped during this session (mtime >= `since`) become the container's
    `clock`, as the model's writes do, so a commit of it is reproducible. Call it where
    uids read as the container's: as root, or inside the same user namespace.
    """
    layer = read_layer_dir(mounted.upper, OnDiskFormat.OVERLAY, userxattr=rootless)
    settled = Layer(name="rw")
    for path, entry in layer.items():
        if entry.meta.mtime >= int(since) - 1 and not isinstance(entry, Whiteout):
            entry = replace(entry, meta=entry.meta.with_(mtime=clock))
        if isinstance(entry, File):
            entry = File(entry.meta, Content(entry.content.read()))
        settled[path] = entry
    own = {}
    for path, name in BIND_FILES.items():
        with open(os.path.join(mounted.files, name), "rb") as handle:
            own[path] = handle.read()
    return settled, own


def _session(root: str, container: Container, ops: Sequence[Op], rootless: bool) -> dict:
    """The child: mount, operate in a chrooted grandchild, read back, list the dirs."""
    since = time.time()
    mounted = mount_container(root, container, rootless)
    checkpoint("overlay-mounted")
    done = _chrooted(mounted.merged, ops)
    upper, own = read_back(mounted, rootless, since, container.clock)
    tree = storage.listing(root, container, "overlay2")
    return {"done": done, "upper": upper, "own": own, "tree": tree}


def _chrooted(merged: str, ops: Sequence[Op]) -> list[tuple[str, str]]:
    """Step 3 in a grandchild, so that only it is chrooted and we can still read the upper.

    A plain fork: it stays in our process group, so a timeout or Ctrl-C stops it with us.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            syscalls.die_with_parent()
            answer: tuple[str, object] = ("ok", kernel_ops(merged, ops))
        except BaseException as exc:
            answer = ("error", f"{type(exc).__name__}: {exc}")
        try:
            os.write(write_end, pickle.dumps(answer))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as stream:
        data = stream.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data) if data else ("error", "the operations' process died")
    if kind == "error":
        raise LiveError(f"operating through the mount failed: {value}")
    return value  # type: ignore[return-value]


def _describe(layer: Layer) -> dict[str, str]:
    """What must agree between kernel and model: kind, mode, owner, data; never times."""
    shown = {}
    for path, entry in layer.items():
        if isinstance(entry, Hardlink):  # which name is "the file" depends on sorting
            entry = layer.get(entry.target) or entry
        data = entry.content.digest[7:19] if isinstance(entry, File) else ""
        owner = "" if isinstance(entry, Whiteout) else f" {entry.meta.uid}:{entry.meta.gid}"
        shown[path] = f"{describe(entry)}{owner} {data}".strip()
    return shown


def _differences(kernel: dict[str, str], model: dict[str, str]) -> list[str]:
    return [
        f"{path}: kernel {kernel.get(path, 'nothing')}, model {model.get(path, 'nothing')}"
        for path in sorted(set(kernel) | set(model))
        if kernel.get(path) != model.get(path)
    ]


def check_rootless(container: Container) -> None:
    """A user namespace maps only uid 0 and may not create real devices: say so up front."""
    for layer in container.layers:
        for path, entry in layer.items():
            if isinstance(entry, Device) and (entry.major, entry.minor) != (0, 0):
                raise LiveError(f"rootless: a user namespace may not create the device {path}")
            if not isinstance(entry, Whiteout) and (entry.meta.uid, entry.meta.gid) != (0, 0):
                raise LiveError(
                    f"rootless: only uid 0 is mapped in a one-user namespace, and {path} is "
                    f"owned by {entry.meta.uid}:{entry.meta.gid}"
                )


@dataclass(frozen=True, kw_only=True)
class OverlayLab(LiveResult):
    """File operations through a real overlay mount, and the upper dir read back."""

    docker_options = derived(N_("Docker's overlay2 passes"), lambda r: DOCKER_OPTIONS_FACT)
    lab_options = derived(N_("this lab mounts with"), lambda r: f"{ROOT_OPTIONS} {ROOTLESS_NOTE}")
    operations: list[str] = fact(N_("operations"))
    rw_layer: list[str] = fact(N_("upper dir read back as the rw layer"))
    whiteout = derived(
        N_("a whiteout on disk is"), lambda r: "a char device 0/0 with the deleted name"
    )
    opaque = derived(
        N_("an opaque dir on disk has"),
        lambda r: "the xattr trusted.overlay.opaque=y " + OPAQUE_NOTE,
    )
    kernel_matches_model: bool = fact(N_("kernel's upper dir equals the model's rw layer"))
    differences: list[str] = fact(N_("differences"))
    mount_options: str = ROOT_OPTIONS  # what this run used (differs rootless): not printed
    opaque_xattr: str = "trusted.overlay.opaque"  # likewise
    outputs: list[str] = field(default_factory=list)
    overlay2_tree: str = ""
    aufs_tree: str = ""
    title: ClassVar[str] = N_("overlayfs: the kernel's copy-on-write, read back into the model")
    lesson: ClassVar[str] = N_(
        "Deleting a lower file leaves a whiteout in the upper dir; a dir recreated after "
        "`rm -r` is opaque. The upper dir *is* the container's rw layer: commit tars it."
    )

    def layout(self) -> str:
        """The overlay2 dirs of this container next to what Docker's aufs driver kept."""
        return (
            "overlay2: Docker's storage today (opaque: trusted.* xattr as root, user.* rootless)\n"
            f"{self.overlay2_tree}\n\n"
            "aufs: the article's Docker (AuFS never entered mainline Linux; nothing mounts it)\n"
            f"{self.aufs_tree}"
        )


def overlay_lab(container: Container, ops: Sequence[Op] = (), timeout: float = 60.0) -> OverlayLab:
    """Run `ops` through a real overlay mount of `container`; its rw layer becomes the result.

        overlay_lab(c, [("unlink", "/etc/motd"), ("remove", "/srv"), ("mkdir", "/srv")])

    Each op is a Container method name with its arguments, or ("sh", "script") for the
    image's own shell. Without a kernel that allows it, the model does the work (SIMULATED).
    """
    ops = [tuple(op) for op in ops]
    for name, *_ in ops:
        if name not in OPERATIONS and name != "sh":
            raise ValueError(f"unknown operation {name!r}; use one of {sorted(OPERATIONS)} or 'sh'")
    rootless = host.euid() != 0

    def result(live: bool, reason: str, done: list, tree: str, diffs: list) -> OverlayLab:
        return OverlayLab(
            live=live,
            world=live_world() if live else "simulated",
            reason=reason,
            operations=[
                f"{show_op(op)}: {status}" for op, (status, _) in zip(ops, done, strict=True)
            ],
            rw_layer=[f"{path} {describe(entry)}" for path, entry in container.rw.items()],
            mount_options=mount_options(rootless and live),
            opaque_xattr=opaque_xattr(rootless and live),
            kernel_matches_model=not diffs,
            differences=diffs,
            outputs=[out for _, out in done],
            overlay2_tree=tree,
            aufs_tree=storage.predicted_listing(container, "aufs"),
        )

    def live() -> OverlayLab:
        if rootless:
            check_rootless(container)
        with temp_dir("overlay") as root:
            got = run(
                _session,
                root,
                container,
                ops,
                rootless,
                namespaces=["mnt"],
                user=rootless,
                timeout=timeout,
            )
        model_done = model_ops(container, ops)
        diffs = _differences(_describe(got["upper"]), _describe(container.rw))
        diffs += [
            f"op {i + 1}: kernel {k[0]}, model {m[0]}"
            for i, (k, m) in enumerate(zip(got["done"], model_done, strict=True))
            if k[0] != m[0]
        ]
        diffs += [
            f"{path}: the container's own file differs"
            for path in BIND_FILES
            if got["own"][path] != container.mounts.get(path)
        ]
        container.rw.remove_tree("/")  # the container keeps what the kernel did
        for path, entry in got["upper"].items():
            container.rw[path] = entry
        container.mounts.update(got["own"])
        return result(True, "", got["done"], got["tree"], diffs)

    def simulated(reason: str) -> OverlayLab:
        done = model_ops(container, ops)
        return result(False, reason, done, storage.predicted_listing(container, "overlay2"), [])

    features = ["user_namespaces", "overlayfs_rootless"] if rootless else ["overlayfs"]
    return run_live(["mount_namespace", *features], live, simulated)
