"""A real image to run: Debian's static busybox packed as a two-layer layerlab Image.

The mini-runtime (`runtime.py`) and the overlay lab (`overlay.py`) need an image whose
programs actually run inside an empty root filesystem. A *static* busybox is one file that
is every Unix tool at once (`sh`, `ls`, `cat`, ...: it looks at the name it was called by),
and it needs no libc beside it. So the base layer holds /bin/busybox and a symlink per tool,
as the official busybox image does, and a second layer adds a few files for the whiteout
and opaque-directory experiments.

Without busybox-static the base layer holds a placeholder instead: the image still works
for the model and for file operations through a real overlay mount, but nothing in it can
be executed, and `layerlab.run` falls back to its labelled simulation.
"""

from __future__ import annotations

import os
import posixpath

from ..commit import build_image
from ..entries import Content, Dir, File, Meta, Symlink
from ..image import Image
from ..layer import Layer
from ..union import UnionView
from .rootfs import find_static_busybox

__all__ = ["APPLETS", "PATH", "busybox_image", "has_busybox", "cannot_run"]

#: Tools linked to busybox in /bin: what the notebooks and tests run inside containers.
APPLETS = (
    *("cat", "chmod", "cp", "echo", "false", "head", "hostname", "id", "ln", "ls", "mkdir"),
    *("mv", "ps", "pwd", "rm", "rmdir", "sh", "sleep", "stat", "tail", "touch", "tr", "true"),
    *("uname", "wc"),
)
#: The PATH a container's processes start with (Docker's default).
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PLACEHOLDER = b"busybox-static is not installed on this machine; nothing here can run\n"


def _host_file(path: str) -> Content:
    """The host's busybox as lazy content: read when the layer tar or a rootfs is written."""
    return Content(size=os.path.getsize(path), opener=lambda: open(path, "rb"))


def base_layer(busybox: str | None) -> Layer:
    """`ADD busybox /bin/`: the tools, a root home, a sticky /tmp and the account files."""
    layer = Layer(created_by="ADD busybox-static /bin/busybox # plus one symlink per tool")
    for name in ("bin", "dev", "etc", "proc", "sys"):
        layer[f"/{name}"] = Dir()
    layer["/root"] = Dir(Meta(mode=0o700))
    layer["/tmp"] = Dir(Meta(mode=0o1777))
    content = _host_file(busybox) if busybox else Content(PLACEHOLDER)
    layer["/bin/busybox"] = File(Meta(mode=0o755), content)
    for applet in APPLETS:
        layer[f"/bin/{applet}"] = Symlink(target="busybox")
    layer["/etc/passwd"] = File.of("root:x:0:0:root:/root:/bin/sh\n")
    layer["/etc/group"] = File.of("root:x:0:\n")
    return layer


def app_layer() -> Layer:
    """`COPY` of a few files: something to delete (whiteout) and a dir to recreate (opaque)."""
    layer = Layer(created_by="COPY motd srv/ /")
    layer["/etc/motd"] = File.of("Welcome to a layerlab container.\n")
    layer["/srv"] = Dir()
    layer["/srv/index.html"] = File.of("<h1>hello from the image</h1>\n")
    layer["/srv/data"] = Dir()
    layer["/srv/data/notes.txt"] = File.of("kept in an image layer\n")
    return layer


def busybox_image(busybox: str | None = "auto", tag: str = "layerlab/busybox:latest") -> Image:
    """The two-layer busybox image; `busybox="auto"` finds busybox-static, None forces the
    placeholder. The layers have fixed mtimes, so the image ID is the same on every machine
    with the same busybox."""
    source = find_static_busybox() if busybox == "auto" else busybox
    return build_image([base_layer(source), app_layer()], tag=tag)


def has_busybox(image: Image) -> bool:
    """True when the image's /bin/busybox is a program (ELF) and not the placeholder."""
    node = image.view().lookup("/bin/busybox")
    if node is None or not isinstance(node.entry, File):
        return False
    with node.entry.content.open() as stream:
        return stream.read(4) == b"\x7fELF"


def cannot_run(view: UnionView, program: str) -> str | None:
    """Why `program` (looked up in PATH like execvp) cannot run here, or None.

    A program the image does not have is for the kernel to refuse (exit 127, as in Docker);
    this catches the placeholder busybox, which no kernel can execute.
    """
    for folder in ("",) if "/" in program else PATH.split(":"):
        try:
            node = view.lookup(view.resolve(posixpath.join("/", folder, program)))
        except OSError:  # a missing dir on the way, or a symlink loop: try the next
            continue
        if node is not None and isinstance(node.entry, File):
            with node.entry.content.open() as stream:
                head = stream.read(4)
            if head == b"\x7fELF" or head[:2] == b"#!":
                return None
            return (
                f"the image's {node.path} is not a program this machine can run; "
                "install busybox-static for a real image"
            )
    return None
