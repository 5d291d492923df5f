"""Docker's `<id>-init` layer: the files every container needs but no image should carry.

Between an image's read-only layers and a container's read-write layer Docker slips one more
layer. It holds mount points (`/proc`, `/sys`, `/dev/pts`, `/dev/shm`), the marker
`/.dockerenv`, `/etc/mtab -> /proc/mounts`, and empty placeholders for `/etc/hosts`,
`/etc/hostname`, `/etc/resolv.conf` and `/dev/console`. At run time Docker bind-mounts each
container's own hosts, hostname and resolv.conf over those placeholders, so writes to them
land in the container's directory on the host and never in the read-write layer; and
`docker commit` only captures the read-write layer. That is how a committed image never
inherits a container's hostname.

Docker builds the init layer by *writing through an overlay mount* of the image (moby
`daemon/initlayer`): it unlinks every path component first, then creates whatever is still
missing. We replay the same steps on an `Overlay`, so copy-up and whiteouts come out exactly
as Docker's do, including the image's own metadata on copied-up parents such as `/etc`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from .copy_on_write import Overlay
from .entries import ancestors
from .layer import Layer
from .union import UnionView

__all__ = ["INIT_PATHS", "BIND_MOUNTED", "build_init_layer", "hosts_file", "default_resolv_conf"]

#: What moby's initlayer.Setup creates: "dir", "file", or a symlink target.
INIT_PATHS: dict[str, str] = {
    "/dev/pts": "dir",
    "/dev/shm": "dir",
    "/proc": "dir",
    "/sys": "dir",
    "/.dockerenv": "file",
    "/etc/resolv.conf": "file",
    "/etc/hosts": "file",
    "/etc/hostname": "file",
    "/dev/console": "file",
    "/etc/mtab": "/proc/mounts",
}

#: Files Docker bind-mounts from the container's own directory over the placeholders.
BIND_MOUNTED: tuple[str, ...] = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")


def build_init_layer(image: UnionView | Sequence[Layer], *, name: str = "init") -> Layer:
    """The init layer Docker would create on top of `image`."""
    overlay = Overlay(image if isinstance(image, UnionView) else list(image))
    for path, kind in INIT_PATHS.items():
        # moby unlinks each component, so an image's own /etc/hosts is replaced;
        # unlinking a directory fails and is ignored, exactly as there.
        for component in [*ancestors(path), path]:
            with contextlib.suppress(OSError):
                overlay.unlink(component)
        if _stat_finds(overlay, path):
            continue  # os.Stat found it (e.g. the image's own /proc): nothing to create
        for parent in ancestors(path):
            if overlay.lookup(parent) is None:
                overlay.mkdir(parent, 0o755)
        if kind == "dir":
            overlay.mkdir(path, 0o755)
        elif kind == "file":
            overlay.write(path, b"", mode=0o755)
        else:
            overlay.symlink(kind, path)
    overlay.upper.name = name
    return overlay.upper


def _stat_finds(overlay: Overlay, path: str) -> bool:
    """os.Stat: follows symlinks; any error means "not there", as moby reads it."""
    try:
        return overlay.lookup(overlay.resolve(path)) is not None
    except OSError:
        return False


def hosts_file(hostname: str, ip: str | None = None) -> bytes:
    """The /etc/hosts Docker writes for a container (`--network none` has no own address)."""
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    if ip:
        lines.append(f"{ip}\t{hostname}")
    return ("\n".join(lines) + "\n").encode()


def default_resolv_conf() -> bytes:
    """Docker's fallback resolv.conf, used when the host's only names a local resolver."""
    return b"nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
