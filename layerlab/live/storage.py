"""Where Docker keeps a container's layers on disk: overlay2 today, AuFS in the article.

Both storage drivers keep one directory per layer and union-mount them for a container;
they differ in how they name things and spell deletions (see `formats.ondisk`):

    /var/lib/docker/aufs/                     /var/lib/docker/overlay2/
      diff/<id>/      a layer's files           l/<SHORT> -> ../<id>/diff   short names
      layers/<id>     its parents, top first    <id>/diff/    a layer's files
      mnt/<id>/       the union mount point     <id>/link     its short name
                                                <id>/lower    l/A:l/B, its lowers, top first
                                                <id>/work/    overlayfs's scratch dir
                                                <id>/merged/  the union mount point

Why overlay2 has `l/`: mount(2) takes its options in one page (4096 bytes), and a deep
image's `lowerdir=/var/lib/docker/overlay2/<64 hex>/diff:...` would not fit. Docker mounts
from inside the overlay2 dir with `lowerdir=l/A:l/B`, 26 characters per layer. We do too.

Layer dirs are named by the first 12 hex digits of the layer's ChainID (Docker picks random
ids), the container's by its id. The `listing` of a tree we wrote and the `predicted_listing`
of the model are the same text, with no temp paths, so notebooks can print either.
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
    "Overlay2Dirs",
    "layer_dirs",
    "overlay2_dirs",
    "write_overlay2",
    "write_aufs",
]
__all__ += ["listing", "predicted_listing"]

WORK_NOTE = "overlayfs's scratch space"
MERGED_NOTE = "the union mount: the container's /"
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


@dataclass(frozen=True)
class Overlay2Dirs:
    """The dirs of one container's overlay mount, relative to the overlay2 root."""

    lowers: tuple[str, ...]  # "l/<SHORT>", top first, as lowerdir= wants them
    upper: str
    work: str
    merged: str
    container: str  # the container's own files, bind-mounted: hostname, hosts, resolv.conf

    def options(self) -> str:
        """The data part of mount(2): which dirs, top lower first."""
        return f"lowerdir={':'.join(self.lowers)},upperdir={self.upper},workdir={self.work}"


def short_name(directory: str) -> str:
    """A stable 26-character name for l/, in the alphabet Docker uses (A-Z, 2-7 here)."""
    digest = hashlib.sha256(directory.encode()).digest()
    return base64.b32encode(digest).decode()[:26]


def layer_dirs(container: Container) -> list[LayerDir]:
    """Image layers, the init layer and the rw layer of `container`, bottom first."""
    image = container.image or build_image(container.image_layers)
    cid = container.id[:12]
    dirs = []
    for number, (chain, layer) in enumerate(
        zip(image.chain_ids, container.image_layers, strict=True), 1
    ):
        name = chain.split(":")[-1][:12]
        dirs.append(LayerDir(name, short_name(name), f"image layer {number}", layer))
    if container.init is not None:
        init = f"{cid}-init"
        dirs.append(LayerDir(init, short_name(init), "init layer", container.init))
    dirs.append(LayerDir(cid, short_name(cid), "container layer (rw)", container.rw))
    return dirs


def _write_text(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def write_overlay2(container: Container, root: str, *, userxattr: bool = False) -> Overlay2Dirs:
    """Lay out `container`'s layers under the empty dir `root` as Docker's overlay2 does.

    The rw layer becomes the upper dir (empty for a fresh container). Whiteouts are char
    devices 0/0: that needs root, or a user namespace (`userxattr` for the opaque xattr).
    """
    dirs = layer_dirs(container)
    os.mkdir(os.path.join(root, "l"))
    for index, layer_dir in enumerate(dirs):
        top = os.path.join(root, layer_dir.name)
        os.mkdir(top)
        write_layer_dir(
            layer_dir.layer, os.path.join(top, "diff"), OnDiskFormat.OVERLAY, userxattr=userxattr
        )
        os.symlink(f"../{layer_dir.name}/diff", os.path.join(root, "l", layer_dir.short))
        _write_text(os.path.join(top, "link"), layer_dir.short)
        if index:  # the base layer has no lowers and never needs a work dir
            _write_text(os.path.join(top, "lower"), _lower_text(dirs[:index]))
            os.mkdir(os.path.join(top, "work"))
    cid = dirs[-1].name
    os.mkdir(os.path.join(root, cid, "merged"))
    own = os.path.join(root, "containers", cid)  # Docker: /var/lib/docker/containers/<id>/
    os.makedirs(own)
    for path, data in sorted(container.mounts.items()):
        with open(os.path.join(own, posixpath.basename(path)), "wb") as handle:
            handle.write(data)
    return overlay2_dirs(container)


def overlay2_dirs(container: Container) -> Overlay2Dirs:
    """Where write_overlay2 puts the container's mount dirs, relative to its root."""
    dirs = layer_dirs(container)
    cid = dirs[-1].name
    lowers = tuple(f"l/{d.short}" for d in reversed(dirs[:-1]))
    return Overlay2Dirs(lowers, f"{cid}/diff", f"{cid}/work", f"{cid}/merged", f"containers/{cid}")


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
    return parts[0] == "layers" or (len(parts) == 2 and parts[1] in ("link", "lower"))


def _leaf_note(parts: list[str], cid: str) -> str | None:
    """Dirs not to descend into: the kernel's scratch space and the mount point."""
    if len(parts) != 2:
        return None
    if parts[1] == "work":
        return WORK_NOTE
    if parts[1] == "merged" or parts == ["mnt", cid]:
        return MERGED_NOTE
    return None


def _disk_label(full: str, parts: list[str], st: os.stat_result, cid: str) -> str:
    name = parts[-1]
    if stat.S_ISDIR(st.st_mode):
        for key in (opaque_xattr(False), opaque_xattr(True)):
            try:
                if os.getxattr(full, key, follow_symlinks=False) == b"y":
                    return f"{name}/  {OPAQUE_NOTE}"
            except OSError:
                continue
        note = _leaf_note(parts, cid)
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


def _disk_items(root: str, cid: str) -> Items:
    items: Items = {}

    def walk(directory: str, prefix: list[str]) -> None:
        for name in sorted(os.listdir(directory)):
            full, parts = os.path.join(directory, name), [*prefix, name]
            st = os.lstat(full)
            items["/".join(parts)] = _disk_label(full, parts, st, cid)
            if stat.S_ISDIR(st.st_mode) and _leaf_note(parts, cid) is None:
                walk(full, parts)

    walk(root, [])
    return items


def _layer_items(layer: Layer, prefix: str, fmt: OnDiskFormat) -> Items:
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
            items.update(_layer_items(d.layer, f"diff/{d.name}", OnDiskFormat.AUFS))
            parents = " ".join(x.name for x in reversed(dirs[:index])) or "(empty)"
            items[f"layers/{d.name}"] = f"{d.name} = {parents}"
            items[f"mnt/{d.name}"] = f"{d.name}/"
        items[f"mnt/{dirs[-1].name}"] += f"  ({MERGED_NOTE})"
        return items
    items["l"] = "l/"
    cid = dirs[-1].name
    items["containers"], items[f"containers/{cid}"] = "containers/", f"{cid}/"
    for path, data in container.mounts.items():
        name = posixpath.basename(path)
        items[f"containers/{cid}/{name}"] = _file_label(name, len(data))
    for index, d in enumerate(dirs):
        items[f"l/{d.short}"] = f"{d.short} -> ../{d.name}/diff"
        items[d.name], items[f"{d.name}/diff"] = f"{d.name}/", "diff/"
        items.update(_layer_items(d.layer, f"{d.name}/diff", OnDiskFormat.OVERLAY))
        items[f"{d.name}/link"] = f"link = {d.short}"
        if index:
            items[f"{d.name}/lower"] = f"lower = {_lower_text(dirs[:index])}"
            items[f"{d.name}/work"] = f"work/  ({WORK_NOTE})"
    items[f"{cid}/merged"] = f"merged/  ({MERGED_NOTE})"
    return items


def _render(top: str, items: Items, roles: dict[str, str], limit: int) -> str:
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
    where = "diff/" if driver == "aufs" else ""
    return {where + d.name: d.role for d in layer_dirs(container)}


def listing(root: str, container: Container, driver: str, limit: int = 8) -> str:
    """The tree under `root` (a dir written by write_overlay2 or write_aufs), paths relative."""
    items = _disk_items(root, container.id[:12])
    return _render(f"{driver}/", items, _roles(container, driver), limit)


def predicted_listing(container: Container, driver: str, *, limit: int = 8) -> str:
    """The same listing computed from the model alone: what the disk will show."""
    items = _model_items(container, driver)
    return _render(f"{driver}/", items, _roles(container, driver), limit)
