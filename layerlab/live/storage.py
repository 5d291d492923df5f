"""Where Docker keeps a container's layers on disk: overlay2 today, AuFS in the article.

Both storage drivers keep one directory per layer and union-mount them for a container;
they differ in how they name things and spell deletions (see `formats.ondisk`):

    /var/lib/docker/aufs/                     /var/lib/docker/
      diff/<id>/      a layer's files           containers/<container-id>/  hosts, hostname...
      layers/<id>     its parents, top first    image/overlay2/layerdb/
      mnt/<id>/       the union mount point       sha256/<chain-id>/  cache-id, diff, parent, size
                                                  mounts/<container-id>/  mount-id, init-id, parent
                                                overlay2/
                                                  l/<SHORT> -> ../<cache-id>/diff   short names
                                                  <cache-id>/diff/  a layer's files
                                                  <cache-id>/link   its short name
                                                  <cache-id>/lower  l/A:l/B, its lowers, top first
                                                  <cache-id>/work/  overlayfs's scratch dir
                                                  <mount-id>/merged/  the union mount point

overlay2 names a layer's directory by a random *cache ID*; the layer store
(`image/overlay2/layerdb/sha256/<chain-id>/`) is keyed by chain ID, and its `cache-id` file
points at the directory. A container's rw dir is named by a random *mount ID* (its init
dir is `<mount-id>-init`), which `layerdb/mounts/<container-id>/` records; the container's
own files live in `containers/<id>/`, beside overlay2/. moby: layer/filestore.go,
daemon/graphdriver/overlay2/overlay.go. tests/reference/test_engine_facts.py checks it.

Why overlay2 has `l/`: mount(2) takes its options in one page (4096 bytes), and a deep
image's `lowerdir=/var/lib/docker/overlay2/<64 hex>/diff:...` would not fit. The `lower`
files use `l/A:l/B`, 26 characters per layer, and Docker mounts through those links (from
inside overlay2/ with relative paths when even they exceed a page). We always mount from
inside, with relative paths.

Docker's IDs are random; ours derive from the chain ID (layers) and the container's id, so
a listing is the same on every run, and every ID is cut to 12 hex digits as `docker ps`
cuts them. We leave out tar-split.json.gz (the tar headers Docker keeps to rebuild a
layer's exact tar). The `listing` of a tree we wrote and the `predicted_listing` of the
model are the same text, with no temp paths, so notebooks can print either.
"""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
import stat
from dataclasses import dataclass

from ..commit import build_image
from ..container import Container
from ..entries import Device, Dir, Entry, Fifo, File, Hardlink, Symlink, Whiteout, ancestors
from ..formats.ondisk import OnDiskFormat, opaque_xattr, write_layer_dir
from ..layer import Layer
from ..safety import OPAQUE_MARKER, WHITEOUT_PREFIX

__all__ = [
    "LayerDir",
    "mount_id",
    "Overlay2Dirs",
    "layer_dirs",
    "overlay2_dirs",
    "write_overlay2",
    "write_aufs",
]
__all__ += ["listing", "predicted_listing", "disk_label", "layer_items", "render_tree"]

WORK_NOTE = "overlayfs's scratch space"
MERGED_NOTE = "the union mount: the container's /"
#: The layer store, relative to the data root (moby layer/filestore.go).
LAYERDB = "image/overlay2/layerdb"
#: trusted.overlay.opaque as root, user.overlay.opaque rootless: one label for both, so a
#: listing reads the same in every world.
OPAQUE_NOTE = "[xattr overlay.opaque=y: opaque]"


@dataclass(frozen=True)
class LayerDir:
    """One layer's directory: its name, its `l/` short name, its role and its contents."""

    name: str
    short: str
    role: str
    layer: Layer
    chain_id: str = ""  # image layers only: the layer store's key


@dataclass(frozen=True)
class Overlay2Dirs:
    """The dirs of one container's overlay mount, relative to the data root."""

    lowers: tuple[str, ...]  # "l/<SHORT>", top first, as lowerdir= wants them
    upper: str
    work: str
    merged: str
    container: str  # the container's own files, bind-mounted: hostname, hosts, resolv.conf
    driver: str = "overlay2"  # lowers, and the paths in options(), are relative to this

    def options(self) -> str:
        """The data part of mount(2), relative to the driver dir: top lower first."""
        inside = len(self.driver) + 1
        return (
            f"lowerdir={':'.join(self.lowers)},upperdir={self.upper[inside:]},"
            f"workdir={self.work[inside:]}"
        )


def short_name(directory: str) -> str:
    """A stable 26-character name for l/, in the alphabet Docker uses (A-Z, 2-7 here)."""
    digest = hashlib.sha256(directory.encode()).digest()
    return base64.b32encode(digest).decode()[:26]


def _stable_id(kind: str, of: str) -> str:
    """Docker picks a random 64-hex ID; ours is derived, so listings are reproducible."""
    return hashlib.sha256(f"{kind} {of}".encode()).hexdigest()[:12]


def mount_id(container: Container) -> str:
    """The name of the container's rw dir under overlay2/ (not the container's ID)."""
    return _stable_id("mount-id", container.id)


def layer_dirs(container: Container) -> list[LayerDir]:
    """Image layers, the init layer and the rw layer of `container`, bottom first."""
    image = container.image or build_image(container.image_layers)
    dirs = []
    for number, (chain, layer) in enumerate(
        zip(image.chain_ids, container.image_layers, strict=True)
    ):
        name = _stable_id("cache-id", chain)
        dirs.append(LayerDir(name, short_name(name), f"image layer L{number}", layer, chain))
    mount = mount_id(container)
    if container.init is not None:
        init = f"{mount}-init"
        dirs.append(LayerDir(init, short_name(init), "init layer", container.init))
    dirs.append(LayerDir(mount, short_name(mount), "container layer (rw)", container.rw))
    return dirs


def _write_text(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _layer_size(layer: Layer) -> int:
    """What layerdb's `size` holds: the bytes of the layer's files (hardlinks once)."""
    return sum(entry.size for _, entry in layer.items() if isinstance(entry, File))


def _layerdb(container: Container) -> dict[str, str]:
    """The layer store's small files, path relative to the data root -> contents."""
    dirs = layer_dirs(container)
    image = container.image or build_image(container.image_layers)
    files = {}
    below = ""
    for layer_dir, diff_id in zip(dirs[:-2], image.diff_ids, strict=True):
        key = f"{LAYERDB}/sha256/{layer_dir.chain_id.split(':')[-1][:12]}"
        files[f"{key}/cache-id"] = layer_dir.name
        files[f"{key}/diff"] = diff_id
        if below:
            files[f"{key}/parent"] = below
        files[f"{key}/size"] = str(_layer_size(layer_dir.layer))
        below = layer_dir.chain_id
    mounts = f"{LAYERDB}/mounts/{container.id[:12]}"
    files[f"{mounts}/init-id"] = dirs[-2].name
    files[f"{mounts}/mount-id"] = dirs[-1].name
    files[f"{mounts}/parent"] = below
    return files


def write_overlay2(container: Container, root: str, *, userxattr: bool = False) -> Overlay2Dirs:
    """Lay out `container`'s layers under the empty dir `root` as Docker's data root does.

    The rw layer becomes the upper dir (empty for a fresh container). Whiteouts are char
    devices 0/0: that needs root, or a user namespace (`userxattr` for the opaque xattr).
    """
    dirs = layer_dirs(container)
    driver = os.path.join(root, "overlay2")
    os.makedirs(os.path.join(driver, "l"))
    for index, layer_dir in enumerate(dirs):
        top = os.path.join(driver, layer_dir.name)
        os.mkdir(top)
        write_layer_dir(
            layer_dir.layer, os.path.join(top, "diff"), OnDiskFormat.OVERLAY, userxattr=userxattr
        )
        os.symlink(f"../{layer_dir.name}/diff", os.path.join(driver, "l", layer_dir.short))
        _write_text(os.path.join(top, "link"), layer_dir.short)
        if index:  # the base layer has no lowers and never needs a work dir
            _write_text(os.path.join(top, "lower"), _lower_text(dirs[:index]))
            os.mkdir(os.path.join(top, "work"))
        if index < len(dirs) - 1:  # something was built on it: Docker marks it read-only
            _write_text(os.path.join(top, "committed"), "")
    os.mkdir(os.path.join(driver, dirs[-1].name, "merged"))
    for path, text in _layerdb(container).items():
        os.makedirs(os.path.join(root, posixpath.dirname(path)), exist_ok=True)
        _write_text(os.path.join(root, path), text)
    own = os.path.join(root, "containers", container.id[:12])  # beside overlay2/
    os.makedirs(own)
    for path, data in sorted(container.mounts.items()):
        with open(os.path.join(own, posixpath.basename(path)), "wb") as handle:
            handle.write(data)
    return overlay2_dirs(container)


def overlay2_dirs(container: Container) -> Overlay2Dirs:
    """Where write_overlay2 puts the container's mount dirs, relative to its root."""
    dirs = layer_dirs(container)
    rw = f"overlay2/{dirs[-1].name}"
    lowers = tuple(f"l/{d.short}" for d in reversed(dirs[:-1]))
    return Overlay2Dirs(
        lowers, f"{rw}/diff", f"{rw}/work", f"{rw}/merged", f"containers/{container.id[:12]}"
    )


def _lower_text(below: list[LayerDir]) -> str:
    return ":".join(f"l/{d.short}" for d in reversed(below))


def write_aufs(container: Container, root: str) -> None:
    """Lay out `container`'s layers under the empty dir `root` as Docker's aufs driver did."""
    dirs = layer_dirs(container)
    for sub in ("diff", "layers", "mnt"):
        os.mkdir(os.path.join(root, sub))
    for index, layer_dir in enumerate(dirs):
        write_layer_dir(
            layer_dir.layer, os.path.join(root, "diff", layer_dir.name), OnDiskFormat.AUFS
        )
        parents = "".join(f"{d.name}\n" for d in reversed(dirs[:index]))
        _write_text(os.path.join(root, "layers", layer_dir.name), parents)
        os.mkdir(os.path.join(root, "mnt", layer_dir.name))


# -- listings: the same text from the disk and from the model -----------------------------

Items = dict[str, str]  # relative path -> how it is shown


def _bookkeeping(parts: list[str]) -> bool:
    """Small text files the drivers keep beside the layers (shown with their contents)."""
    if parts[0] == "layers" or "/".join(parts[:-2]).startswith(f"{LAYERDB}/"):
        return True
    return len(parts) == 3 and parts[0] == "overlay2" and parts[2] in ("link", "lower")


def _leaf_note(parts: list[str], rw: str) -> str | None:
    """Dirs not to descend into: the kernel's scratch space and the mount point."""
    if parts == ["mnt", rw]:
        return MERGED_NOTE
    if len(parts) != 3 or parts[0] != "overlay2":
        return None
    return {"work": WORK_NOTE, "merged": MERGED_NOTE}.get(parts[2])


def disk_label(full: str, parts: list[str], st: os.stat_result, rw: str) -> str:
    """How a listing shows one path it found on disk (`parts` from the listing's root)."""
    name = parts[-1]
    if stat.S_ISDIR(st.st_mode):
        for key in (opaque_xattr(False), opaque_xattr(True)):
            try:
                if os.getxattr(full, key, follow_symlinks=False) == b"y":
                    return f"{name}/  {OPAQUE_NOTE}"
            except OSError:
                continue
        note = _leaf_note(parts, rw)
        return f"{name}/  ({note})" if note else f"{name}/"
    if stat.S_ISLNK(st.st_mode):
        return f"{name} -> {os.readlink(full)}"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return _device_label(
            name,
            "c" if stat.S_ISCHR(st.st_mode) else "b",
            os.major(st.st_rdev),
            os.minor(st.st_rdev),
        )
    if stat.S_ISFIFO(st.st_mode):
        return f"{name}  (fifo)"
    if _bookkeeping(parts):
        with open(full) as handle:
            return f"{name} = {' '.join(handle.read().split()) or '(empty)'}"
    return _file_label(name, st.st_size)


def _device_label(name: str, kind: str, major: int, minor: int) -> str:
    if (kind, major, minor) == ("c", 0, 0):
        return f"{name}  (char device 0/0: whiteout)"
    return f"{name}  ({'char' if kind == 'c' else 'block'} device {major}/{minor})"


def _file_label(name: str, size: int) -> str:
    if name == OPAQUE_MARKER:
        return f"{name}  (opaque marker)"
    if name.startswith(WHITEOUT_PREFIX):
        return f"{name}  (whiteout)"
    return f"{name}  ({size} B)"


def _disk_items(root: str, rw: str) -> Items:
    items: Items = {}

    def walk(directory: str, prefix: list[str]) -> None:
        for name in sorted(os.listdir(directory)):
            full, parts = os.path.join(directory, name), [*prefix, name]
            st = os.lstat(full)
            items["/".join(parts)] = disk_label(full, parts, st, rw)
            if stat.S_ISDIR(st.st_mode) and _leaf_note(parts, rw) is None:
                walk(full, parts)

    walk(root, [])
    return items


def layer_items(layer: Layer, prefix: str, fmt: OnDiskFormat) -> Items:
    """What write_layer_dir puts on disk for `layer`, as listing items under `prefix`."""
    entries: dict[str, Entry] = {}
    for path, entry in layer.items():
        if path == "/":
            continue
        for parent in ancestors(path):
            entries.setdefault(parent, Dir())
        entries[path] = entry
    items: Items = {}
    for path, entry in entries.items():
        rel, name = prefix + path, posixpath.basename(path)
        if isinstance(entry, Whiteout) and fmt is OnDiskFormat.AUFS:
            marker = posixpath.join(posixpath.dirname(rel), WHITEOUT_PREFIX + name)
            items[marker] = _file_label(WHITEOUT_PREFIX + name, 0)
        elif isinstance(entry, Whiteout):
            items[rel] = _device_label(name, "c", 0, 0)
        elif isinstance(entry, Dir) and entry.opaque and fmt is OnDiskFormat.OVERLAY:
            items[rel] = f"{name}/  {OPAQUE_NOTE}"
        elif isinstance(entry, Dir):
            items[rel] = f"{name}/"
            if entry.opaque:
                items[f"{rel}/{OPAQUE_MARKER}"] = _file_label(OPAQUE_MARKER, 0)
        elif isinstance(entry, Symlink):
            items[rel] = f"{name} -> {entry.target}"
        elif isinstance(entry, Device):
            items[rel] = _device_label(name, entry.type, entry.major, entry.minor)
        elif isinstance(entry, Fifo):
            items[rel] = f"{name}  (fifo)"
        elif isinstance(entry, Hardlink):
            target = layer.get(entry.target)
            items[rel] = _file_label(name, target.size if isinstance(target, File) else 0)
        elif isinstance(entry, File):
            items[rel] = _file_label(name, entry.size)
    return items


def _model_items(container: Container, driver: str) -> Items:
    dirs = layer_dirs(container)
    items: Items = {}
    if driver == "aufs":
        for sub in ("diff", "layers", "mnt"):
            items[sub] = f"{sub}/"
        for index, d in enumerate(dirs):
            items[f"diff/{d.name}"] = f"{d.name}/"
            items.update(layer_items(d.layer, f"diff/{d.name}", OnDiskFormat.AUFS))
            parents = " ".join(x.name for x in reversed(dirs[:index])) or "(empty)"
            items[f"layers/{d.name}"] = f"{d.name} = {parents}"
            items[f"mnt/{d.name}"] = f"{d.name}/"
        items[f"mnt/{dirs[-1].name}"] += f"  ({MERGED_NOTE})"
        return items
    cid = container.id[:12]
    for top in ("containers", f"containers/{cid}", "image", "image/overlay2", "overlay2"):
        items[top] = f"{posixpath.basename(top)}/"
    for path, data in container.mounts.items():
        name = posixpath.basename(path)
        items[f"containers/{cid}/{name}"] = _file_label(name, len(data))
    for path, text in _layerdb(container).items():
        for parent in ancestors("/" + posixpath.dirname(path)):
            items.setdefault(parent[1:], f"{posixpath.basename(parent)}/")
        items.setdefault(posixpath.dirname(path), f"{posixpath.basename(posixpath.dirname(path))}/")
        items[path] = f"{posixpath.basename(path)} = {text}"
    items["overlay2/l"] = "l/"
    for index, d in enumerate(dirs):
        top = f"overlay2/{d.name}"
        items[f"overlay2/l/{d.short}"] = f"{d.short} -> ../{d.name}/diff"
        items[top], items[f"{top}/diff"] = f"{d.name}/", "diff/"
        items.update(layer_items(d.layer, f"{top}/diff", OnDiskFormat.OVERLAY))
        items[f"{top}/link"] = f"link = {d.short}"
        if index:
            items[f"{top}/lower"] = f"lower = {_lower_text(dirs[:index])}"
            items[f"{top}/work"] = f"work/  ({WORK_NOTE})"
        if index < len(dirs) - 1:
            items[f"{top}/committed"] = _file_label("committed", 0)
    items[f"overlay2/{dirs[-1].name}/merged"] = f"merged/  ({MERGED_NOTE})"
    return items


def render_tree(top: str, items: Items, roles: dict[str, str], limit: int) -> str:
    """A `tree`-style picture; at most `limit` entries per directory, the rest counted."""
    children: dict[str, list[str]] = {}
    for rel in sorted(items):
        children.setdefault(posixpath.dirname(rel), []).append(rel)
    lines = [top]

    def draw(parent: str, indent: str) -> None:
        kids = children.get(parent, [])
        shown = kids[:limit]
        for i, rel in enumerate(shown):
            last = i == len(shown) - 1 and len(kids) <= limit
            role = roles.get(rel, "")
            lines.append(
                f"{indent}{'└── ' if last else '├── '}{items[rel]}"
                + (f"   <- {role}" if role else "")
            )
            draw(rel, indent + ("    " if last else "│   "))
        if len(kids) > limit:
            lines.append(f"{indent}└── ... {len(kids) - limit} more")

    draw("", "")
    return "\n".join(lines)


def _roles(container: Container, driver: str) -> dict[str, str]:
    dirs = layer_dirs(container)
    if driver == "aufs":
        return {f"diff/{d.name}": d.role for d in dirs}
    roles = {f"overlay2/{d.name}": d.role for d in dirs}
    for number, d in enumerate(dirs[:-2]):
        key = d.chain_id.split(":")[-1][:12]
        roles[f"{LAYERDB}/sha256/{key}"] = "chain ID of L0" + (f"..L{number}" if number else "")
    roles[f"{LAYERDB}/mounts/{container.id[:12]}"] = "the container's ID"
    roles[f"containers/{container.id[:12]}"] = "the container's ID"
    return roles


def _top(driver: str) -> str:
    return "aufs/" if driver == "aufs" else "/var/lib/docker/"


def listing(root: str, container: Container, driver: str, limit: int = 8) -> str:
    """The tree under `root` (a dir written by write_overlay2 or write_aufs), paths relative."""
    items = _disk_items(root, mount_id(container))
    return render_tree(_top(driver), items, _roles(container, driver), limit)


def predicted_listing(container: Container, driver: str, *, limit: int = 8) -> str:
    """The same listing computed from the model alone: what the disk will show."""
    items = _model_items(container, driver)
    return render_tree(_top(driver), items, _roles(container, driver), limit)
