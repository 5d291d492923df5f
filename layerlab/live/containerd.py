"""containerd's image store: the same image and container as containerd keeps them.

Docker Engine 29 and later keep images in containerd on fresh installs (the "containerd
image store"); upgraded hosts stay on overlay2 until switched. containerd's overlayfs
snapshotter lays a container out differently from overlay2:

    /var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/
      metadata.db          a bolt database: each snapshot's key, parent, kind and number
      snapshots/<n>/fs/    one layer's files (the upper dir, while the snapshot is active)
      snapshots/<n>/work/  overlayfs's scratch dir

There is no `lower` file and no `l/` links: the parent chain lives in metadata.db, keyed
by the layers' chain IDs, and containerd builds the mount's `lowerdir` from it, numbers
newest first. Docker's containerd store adds an init layer as a committed snapshot
`<container-id>-init` and the rw layer as the active snapshot `<container-id>`
(moby daemon/containerd/image_snapshot.go). An image there is a name pointing at a
manifest (or index), so its ID is that digest, not the config digest of the classic store.

The lab starts a private containerd (its own root, state and socket in a temp dir),
imports the image as an OCI archive, prepares the init and rw snapshots as Docker does, and
compares the snapshot directories with `predicted_snapshots`. Without root, containerd
or ctr, the prediction is shown, labelled SIMULATED; tests/reference/test_containerd.py
checks it against the real containerd in CI.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from .. import host
from ..container import Container
from ..formats.oci import save_oci
from ..formats.ondisk import OnDiskFormat, write_layer_dir
from ..i18n import N_
from ..image import Image
from .engine_facts import CONTAINERD_OVERLAYFS_ROOT
from .kernel.cleanup import shield_interrupts, temp_dir
from .kernel.probe import OFF_REASON, live_enabled
from .kernel.result import LiveError, LiveResult, derived, fact, live_world
from .storage import Items, disk_label, layer_items, render_tree

__all__ = ["Snapshot", "ContainerdLab", "containerd_lab", "private_containerd", "Ctr"]
__all__ += ["predicted_snapshots", "predicted_layout", "manifest_digest"]

NAMESPACE = "layerlab"  # Docker's containerd store uses "moby"
METADATA_NOTE = "metadata.db  (bolt database: keys, parents, kinds, numbers)"
WORK_NOTE = "work/  (overlayfs's scratch space)"
INSTALL = "containerd and ctr are needed (Debian and Ubuntu: apt-get install containerd)"


@dataclass(frozen=True)
class Snapshot:
    """One snapshot: its number (its directory), key, parent key, kind and role."""

    number: int
    key: str
    parent: str
    kind: str  # "Committed" or "Active"
    role: str

    def __str__(self) -> str:
        parent = f" <- {_short(self.parent)}" if self.parent else ""
        return f"{_short(self.key)}{parent} ({self.kind}, {self.role})"


def _short(key: str) -> str:
    """A chain ID cut to 12 hex digits, as `docker images` cuts IDs; other keys as they are."""
    return key[7:19] if key.startswith("sha256:") else key


def predicted_snapshots(container: Container) -> list[Snapshot]:
    """The snapshots a fresh containerd holds for `container`, in the order they are made."""
    image = container.image or _image_of(container)
    out, parent = [], ""
    for number, chain in enumerate(image.chain_ids, 1):
        out.append(Snapshot(number, chain, parent, "Committed", f"image layer L{number - 1}"))
        parent = chain
    cid = container.id[:12]
    out.append(Snapshot(len(out) + 1, f"{cid}-init", parent, "Committed", "init layer"))
    out.append(Snapshot(len(out) + 1, cid, f"{cid}-init", "Active", "container layer (rw)"))
    return out


def _image_of(container: Container) -> Image:
    from ..commit import build_image

    return build_image(container.image_layers)


def _layers_by_number(container: Container) -> dict[int, object]:
    layers = [*container.image_layers, container.init, container.rw]
    return dict(enumerate(layers, 1))


def predicted_layout(container: Container, *, limit: int = 8) -> str:
    """The snapshotter's directory as a tree: what the disk shows after the lab."""
    items: Items = {"metadata.db": METADATA_NOTE, "snapshots": "snapshots/"}
    layers = _layers_by_number(container)
    for snap in predicted_snapshots(container):
        top = f"snapshots/{snap.number}"
        items[top], items[f"{top}/fs"] = f"{snap.number}/", "fs/"
        items[f"{top}/work"] = WORK_NOTE
        items.update(layer_items(layers[snap.number], f"{top}/fs", OnDiskFormat.OVERLAY))  # type: ignore[arg-type]
    return render_tree(f"{CONTAINERD_OVERLAYFS_ROOT}/", items, _roles(container), limit)


def _roles(container: Container) -> dict[str, str]:
    return {f"snapshots/{s.number}": s.role for s in predicted_snapshots(container)}


def _disk_layout(root: str, container: Container, limit: int) -> str:
    """The same tree, read from the snapshotter's real directory."""
    items: Items = {}

    def walk(directory: str, prefix: list[str]) -> None:
        for name in sorted(os.listdir(directory)):
            full, parts = os.path.join(directory, name), [*prefix, name]
            rel = "/".join(parts)
            st = os.lstat(full)
            if parts == ["metadata.db"]:
                items[rel] = METADATA_NOTE
            elif len(parts) == 3 and parts[2] == "work":
                items[rel] = WORK_NOTE
            else:
                items[rel] = disk_label(full, parts, st, "")
                if os.path.isdir(full) and not os.path.islink(full):
                    walk(full, parts)

    walk(root, [])
    return render_tree(f"{CONTAINERD_OVERLAYFS_ROOT}/", items, _roles(container), limit)


def predicted_mount(container: Container) -> str:
    """The rw snapshot's overlay options (containerd 1.6's order), paths from the root."""
    snaps = predicted_snapshots(container)
    rw = snaps[-1].number
    lowers = ":".join(f"snapshots/{s.number}/fs" for s in reversed(snaps[:-1]))
    return f"index=off,workdir=snapshots/{rw}/work,upperdir=snapshots/{rw}/fs,lowerdir={lowers}"


def manifest_digest(image: Image) -> str:
    """The digest a containerd store shows as the image's ID: that of its manifest."""
    with temp_dir("manifest") as tmp:
        return save_oci(image, os.path.join(tmp, "layout"), tag="latest")


# -- a private containerd -------------------------------------------------------------------


@dataclass(frozen=True)
class Ctr:
    """`ctr` against one containerd: its socket, its root, one namespace."""

    ctr: str
    address: str
    root: str

    def __call__(self, *args: str) -> str:
        done = subprocess.run(
            [self.ctr, "--address", self.address, "--namespace", NAMESPACE, *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise LiveError(f"ctr {' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done.stdout

    @property
    def snapshotter(self) -> str:
        return os.path.join(self.root, CONTAINERD_OVERLAYFS_ROOT)


CONFIG = """version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{base}/containerd.sock"
[ttrpc]
  address = "{base}/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
"""


def _unmount_below(directory: str) -> None:
    """Mounts a killed containerd may leave (none in normal runs), deepest first."""
    with open("/proc/self/mountinfo") as handle:
        points = [line.split()[4] for line in handle]
    for point in sorted((p for p in points if p.startswith(directory + "/")), reverse=True):
        with contextlib.suppress(OSError):
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)


@contextlib.contextmanager
def private_containerd(timeout: float = 30.0) -> Iterator[Ctr]:
    """A containerd of our own (root, state, socket in a temp dir), stopped and removed
    however the block ends. It never touches a system containerd or Docker's."""
    containerd, ctr = shutil.which("containerd"), shutil.which("ctr")
    if containerd is None or ctr is None:
        raise LiveError(INSTALL)
    with temp_dir("containerd") as base:
        config = os.path.join(base, "config.toml")
        with open(config, "w") as handle:
            handle.write(CONFIG.format(base=base))
        log = open(os.path.join(base, "containerd.log"), "wb")  # noqa: SIM115 (closed below)
        process = None
        try:
            with shield_interrupts():
                process = subprocess.Popen(
                    [containerd, "--config", config],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            client = Ctr(ctr, os.path.join(base, "containerd.sock"), os.path.join(base, "root"))
            deadline = time.monotonic() + timeout
            while True:
                try:
                    client("version")
                    break
                except LiveError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise LiveError("the private containerd did not start") from None
                    time.sleep(0.1)
            yield client
        finally:
            with shield_interrupts():
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
                log.close()
                _unmount_below(base)


# -- the lab ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ContainerdLab(LiveResult):
    """One container's layers in containerd's overlayfs snapshotter, next to overlay2's."""

    classic_id: str = fact(N_("image ID in the classic store (config digest)"))
    containerd_id: str = fact(N_("image ID in the containerd store (manifest digest)"))
    snapshots: list[tuple[str, str]]  # (its dir, "key <- parent (kind, role)")
    per_snapshot = derived(None, lambda r: list(r.snapshots))
    mount: str = fact(N_("the container's mount"))
    matches: bool = fact(N_("snapshot dirs equal the prediction"))
    tree: str = ""
    title: ClassVar[str] = N_("containerd's image store: the overlayfs snapshotter")
    lesson: ClassVar[str] = N_(
        "Same layers, other bookkeeping: numbered snapshot dirs, parents in metadata.db "
        "keyed by chain ID, and an image ID that is the manifest's digest."
    )

    def layout(self) -> str:
        return self.tree


def _import(client: Ctr, image: Image, base: str) -> str:
    """Import `image` as an OCI archive; returns the digest containerd names it by."""
    layout = os.path.join(base, "layout")
    save_oci(image, layout, tag="latest")
    archive = os.path.join(base, "image.tar")
    with tarfile.open(archive, "w") as tar:
        tar.add(layout, arcname=".")
    client("images", "import", "--base-name", "layerlab/lab", archive)
    for line in client("images", "ls").splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] == "layerlab/lab:latest":
            return fields[2]
    raise LiveError("containerd did not list the imported image")


def _mount_options(client: Ctr, key: str) -> str:
    """`ctr snapshots mounts` of `key`, as options with paths relative to the snapshotter."""
    command = client("snapshots", "mounts", "/merged", key)
    options = re.search(r"-o (\S+)", command)
    if options is None:
        raise LiveError(f"ctr printed no overlay mount for {key}: {command.strip()}")
    return options.group(1).replace(client.snapshotter + "/", "")


def _live(container: Container, limit: int) -> ContainerdLab:
    image = container.image or _image_of(container)
    cid = container.id[:12]
    with private_containerd() as client, temp_dir("containerd-image") as base:
        digest = _import(client, image, base)
        client("snapshots", "prepare", f"{cid}-init-key", image.chain_ids[-1])
        upper = re.search(r"upperdir=([^,]+)", _mount_options(client, f"{cid}-init-key"))
        if upper is None:
            raise LiveError("the init snapshot has no upper dir")
        fs = os.path.join(client.snapshotter, upper.group(1))
        os.rmdir(fs)  # written as Docker's setupInit writes through the mount: same files
        write_layer_dir(container.init, fs, OnDiskFormat.OVERLAY)
        client("snapshots", "commit", f"{cid}-init", f"{cid}-init-key")
        client("snapshots", "prepare", cid, f"{cid}-init")
        mount = _mount_options(client, cid)
        tree = _disk_layout(client.snapshotter, container, limit)
        listed = {
            fields[0]: fields[1] if len(fields) == 3 else ""
            for fields in (line.split() for line in client("snapshots", "ls").splitlines()[1:])
        }
    predicted = predicted_snapshots(container)
    matches = (
        tree == predicted_layout(container, limit=limit)
        and mount == predicted_mount(container)
        and listed == {s.key: s.parent for s in predicted}
    )
    return _result(container, True, "", digest, mount, matches, tree)


def _result(
    container: Container, live: bool, reason: str, digest: str, mount: str, ok: bool, tree: str
) -> ContainerdLab:
    image = container.image or _image_of(container)
    return ContainerdLab(
        live=live,
        world=live_world() if live else "simulated",
        reason=reason,
        classic_id=_short(image.id),
        containerd_id=_short(digest),
        snapshots=[(f"snapshots/{s.number}", str(s)) for s in predicted_snapshots(container)],
        mount=mount,
        matches=ok,
        tree=tree,
    )


def containerd_lab(container: Container, *, limit: int = 8) -> ContainerdLab:
    """Lay `container` out in a private containerd and compare with the prediction.

    Live as root with containerd and ctr installed; otherwise the prediction, labelled.
    """
    image = container.image or _image_of(container)
    if not live_enabled():
        reason = OFF_REASON
    elif host.euid() != 0:
        reason = "containerd's overlayfs snapshotter runs as root here; you are not root"
    elif shutil.which("containerd") is None or shutil.which("ctr") is None:
        reason = INSTALL
    else:
        try:
            return _live(container, limit)
        except LiveError as exc:
            reason = f"the live attempt failed: {exc}"
    return _result(
        container,
        False,
        reason,
        manifest_digest(image),
        predicted_mount(container),
        True,
        predicted_layout(container, limit=limit),
    )
