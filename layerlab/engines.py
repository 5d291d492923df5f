"""Where an engine puts a container's plumbing: in a layer of its own, or in the rw layer.

Every container needs mount points for /proc, /sys and /dev, and files that the engine
bind-mounts per container (hosts, hostname). Two engines answer differently:

* **docker** slips an `<id>-init` layer between the image and the rw layer and creates
  all of it there (`layerlab.initlayer`). The rw layer starts empty, so `docker commit`
  captures only what the process did.
* **podman** (libpod with runc) has no init layer. libpod makes `/etc` and the
  `/etc/mtab -> /proc/mounts` symlink in the container's own layer, and runc creates each
  missing mount point there just before mounting onto it: directories and parents with
  mode 0755, and empty files with mode 0755 for bind mounts. So the rw layer starts with
  those placeholders and `podman commit` writes them into the image. `podman diff`
  hides them (libpod's `initInodes` list); the committed layer does not.

The layer tars differ in one more rule: containers/storage writes an opaque directory's
`.wh..wh..opq` marker only when some image layer has that directory
(pkg/archive/archive_linux.go, `overlayWhiteoutConverter.ConvertWrite`); Docker writes
it for every directory overlayfs marked opaque.

The podman profile models `podman run --network none` as root (what runs on the course's
machines): no `/etc/resolv.conf` bind mount then. The Podman behaviour is read from
Podman 4.3.1 (libpod/container_internal.go `mountStorage`, libpod/diff.go `initInodes`,
libpod/container_internal_common.go `.containerenv`) and runc 1.1.5
(libcontainer/rootfs_linux.go `mountToRootfs`, `createIfNotExists`), and checked against
both engines by tests/reference/test_podman.py.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass

from .copy_on_write import Overlay
from .entries import Dir, OpaqueDir, Whiteout, ancestors
from .initlayer import build_init_layer, default_resolv_conf, hosts_file
from .layer import Layer

__all__ = ["ENGINES", "EngineProfile", "engine_profile", "podman_placeholders"]

#: runc's mounts for `podman run`, in the order of the OCI spec Podman writes, that land
#: on the container's own layer: (destination, "dir" | "file", filesystem). /dev/pts,
#: /dev/mqueue, /dev/shm and /sys/fs/cgroup are left out: they land inside the /dev tmpfs
#: and the /sys sysfs, never on the rw layer.
PODMAN_MOUNT_POINTS: tuple[tuple[str, str, str], ...] = (
    ("/proc", "dir", "proc"),
    ("/dev", "dir", "tmpfs"),
    ("/sys", "dir", "sysfs"),
    ("/etc/hosts", "file", "bind"),
    ("/run/.containerenv", "file", "bind"),
    ("/etc/hostname", "file", "bind"),
)

#: Files Podman bind-mounts from the container's run directory (`--network none`).
PODMAN_BIND_MOUNTED: tuple[str, ...] = ("/etc/hosts", "/run/.containerenv", "/etc/hostname")


def _refuse(path: str, why: str) -> OSError:
    return OSError(errno.ENOTDIR, f"{os.strerror(errno.ENOTDIR)} ({why})", path)


def _secure_join(overlay: Overlay, path: str) -> str:
    """securejoin.SecureJoin: resolve symlinks inside the rootfs; missing names stay as given."""
    try:
        return overlay.resolve(path)
    except FileNotFoundError:
        parent = _secure_join(overlay, os.path.dirname(path))
        return os.path.join(parent, os.path.basename(path))


def _mkdir_all(overlay: Overlay, path: str) -> None:
    """os.MkdirAll(path, 0o755): make each missing component; a non-directory is ENOTDIR."""
    for component in [*ancestors(path), path]:
        entry = overlay.lookup(_secure_join(overlay, component))
        if entry is None:
            overlay.mkdir(component, 0o755)
        elif not isinstance(entry, Dir):
            raise _refuse(component, "runc's MkdirAll needs a directory here")


def podman_placeholders(overlay: Overlay) -> None:
    """Create in `overlay`'s upper layer what libpod and runc create before the process runs.

    Raises OSError where runc refuses to start the container, e.g. an image whose /sys is
    a file ("filesystem sysfs must be mounted on ordinary directory"): Podman has no
    init layer that would have replaced it, as Docker's does.
    """
    # libpod mountStorage: mkdirat("etc", 0755), then symlinkat("/proc/mounts", "mtab");
    # both ignore EEXIST, so an image's own /etc/mtab stays.
    if overlay.lookup("/etc") is None:
        overlay.mkdir("/etc", 0o755)
    if overlay.lookup(overlay.resolve("/etc/mtab", follow_last=False)) is None:
        overlay.symlink("/proc/mounts", "/etc/mtab")
    for path, kind, filesystem in PODMAN_MOUNT_POINTS:
        if filesystem in ("proc", "sysfs"):
            # runc lstats the plain path (no symlinks) and refuses anything but a directory.
            entry = overlay.lookup(path)
            if entry is not None and not isinstance(entry, Dir):
                raise _refuse(path, f"filesystem {filesystem} must be mounted on a directory")
            _mkdir_all(overlay, path)
            continue
        target = _secure_join(overlay, path)
        if overlay.lookup(target) is not None:
            continue  # createIfNotExists: os.Stat found something; mount over it
        if kind == "dir":
            _mkdir_all(overlay, target)
        else:
            _mkdir_all(overlay, os.path.dirname(target))
            overlay.write(target, b"", mode=0o755)


def _in_a_layer(path: str, layers: Sequence[Layer]) -> bool:
    """Does any one layer's directory hold `path` (not as a whiteout), whatever the layers
    above say? A layer that has `path/x` has the directory `path` too."""
    inside = path.rstrip("/") + "/"
    return any(
        (entry := layer.get(path)) is not None
        and not isinstance(entry, Whiteout)
        or any(p.startswith(inside) for p in layer)
        for layer in layers
    )


@dataclass(frozen=True)
class EngineProfile:
    """How one engine sets up a container's filesystem, as `Container` needs it."""

    name: str
    #: The engine's own files bind-mounted into every container (never in the rw layer).
    bind_mounted: tuple[str, ...]

    @property
    def has_init_layer(self) -> bool:
        return self.name == "docker"

    def init_layer(self, image_layers: Sequence[Layer], *, name: str) -> Layer | None:
        """Docker's `-init` layer; None for an engine that has none."""
        return build_init_layer(image_layers, name=name) if self.has_init_layer else None

    def prepare(self, overlay: Overlay) -> None:
        """What the engine writes into a new container's rw layer before the process runs."""
        if self.name == "podman":
            podman_placeholders(overlay)

    def changes(self, rw: Layer, image_layers: Sequence[Layer]) -> Layer:
        """The rw layer as this engine's commit writes it into the new layer."""
        changes = rw.copy(name="")
        if self.name == "podman":
            for path, entry in rw.items():
                if isinstance(entry, OpaqueDir) and not _in_a_layer(path, image_layers):
                    changes[path] = Dir(entry.meta)
        return changes

    def mounts(self, *, hostname: str, name: str, resolv_conf: bytes | None) -> dict[str, bytes]:
        """The contents of the bind-mounted files when the container starts."""
        if self.name == "docker":
            return {
                "/etc/hostname": (hostname + "\n").encode(),
                "/etc/hosts": hosts_file(hostname),
                "/etc/resolv.conf": resolv_conf
                if resolv_conf is not None
                else default_resolv_conf(),
            }
        # Podman copies the host's /etc/hosts and adds the container; the host's own
        # lines differ from machine to machine, so the model keeps only localhost.
        return {
            "/etc/hosts": f"127.0.0.1\tlocalhost\n127.0.0.1\t{hostname} {name}\n".encode(),
            "/run/.containerenv": b"",
            "/etc/hostname": (hostname + "\n").encode(),
        }


ENGINES: dict[str, EngineProfile] = {
    "docker": EngineProfile("docker", ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")),
    "podman": EngineProfile("podman", PODMAN_BIND_MOUNTED),
}


def engine_profile(engine: str) -> EngineProfile:
    """The profile called `engine`, or a ValueError that names the ones there are."""
    try:
        return ENGINES[engine]
    except KeyError:
        known = ", ".join(repr(name) for name in ENGINES)
        raise ValueError(f"unknown engine {engine!r}: use one of {known}") from None
