"""The images the course builds on, shared by the notebooks, the exercise checkers and the labs.

Both `layerlab.live` and `layerlab.exercises` use them, so they live below both: a lab and
a checker that talk about the same image build it from the same code.

`ubuntu_image()` has the shape of the `ubuntu` image the source article inspects: five
layers, each the result of one build step. The first is a whole (tiny) root filesystem;
the others are the increments the official Dockerfile adds on top, and `ls` on their
directories shows the same top-level names as the article's `aufs/diff` listings. The files
are stand-ins of a few bytes: the layering is real, the operating system is not.

`busybox_image()` is the one image whose programs really run: Debian's static busybox,
for the mini-runtime and the overlay lab.

Everything here is deterministic (fixed mtimes, sorted entries), so every digest a notebook
prints is the same on every machine (busybox's, on every machine with the same busybox).
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import struct
from typing import BinaryIO

from .commit import build_image
from .entries import Content, Dir, File, Meta, Symlink, Whiteout
from .image import Image
from .layer import Layer
from .union import UnionView

__all__ = [
    "ubuntu_layers",
    "ubuntu_image",
    "app_layer",
    "app_image",
    "BIG_FILE",
    "APPLETS",
    "PATH",
    "busybox_image",
    "has_busybox",
    "cannot_run",
    "find_static_busybox",
    "is_static_elf",
    "V2_MACHINE",
    "HYBRID_MACHINE",
]

#: The large file of `app_image`, for copy-up experiments.
BIG_FILE = "/srv/app/data.bin"

_TOP_DIRS = (
    "bin",
    "boot",
    "dev",
    "etc",
    "home",
    "lib",
    "lib64",
    "media",
    "mnt",
    "opt",
    "proc",
    "root",
    "run",
    "sbin",
    "srv",
    "sys",
    "tmp",
    "usr",
    "var",
)


def _base_rootfs() -> Layer:
    """Layer 1, `ADD ubuntu-rootfs.tar.gz /`: every top-level directory of a distribution."""
    layer = Layer(created_by="/bin/sh -c #(nop) ADD file:ubuntu-base-rootfs.tar.gz in / ")
    for name in _TOP_DIRS:
        layer[f"/{name}"] = Dir()
    layer["/tmp"] = Dir(Dir().meta.with_(mode=0o1777))
    layer["/bin/sh"] = Symlink(target="dash")
    for tool in ("dash", "ls", "cat", "mv", "rm"):
        layer[f"/bin/{tool}"] = File.of(f"ELF {tool}\n", 0o755)
    layer["/etc/hostname"] = File.of("ubuntu\n")
    layer["/etc/hosts"] = File.of("127.0.0.1\tlocalhost\n")
    layer["/etc/motd"] = File.of("Welcome to Ubuntu!\n")
    layer["/etc/os-release"] = File.of('NAME="Ubuntu"\nVERSION="16.04 LTS (Xenial Xerus)"\n')
    layer["/etc/passwd"] = File.of("root:x:0:0:root:/root:/bin/bash\n")
    layer["/etc/apt/sources.list"] = File.of(
        "deb http://archive.ubuntu.com/ubuntu/ xenial main restricted\n"
        "# deb http://archive.ubuntu.com/ubuntu/ xenial universe\n"
    )
    layer["/var/lib/apt/lists/archive.ubuntu.com_xenial_InRelease"] = File.of("apt index\n")
    layer["/usr/bin/perl"] = File.of("ELF perl\n", 0o755)
    return layer


def ubuntu_layers() -> list[Layer]:
    """The five layers of the article's `ubuntu:16.04`, bottom first (fresh objects)."""
    policy = Layer(
        {
            "/usr/sbin/policy-rc.d": File.of("#!/bin/sh\nexit 101\n", 0o755),
            "/sbin/initctl": File.of("#!/bin/sh\nexit 0\n", 0o755),
            "/etc/dpkg/dpkg.cfg.d/docker-apt-speedup": File.of("force-unsafe-io\n"),
            "/var/lib/dpkg/diversions": File.of("/sbin/initctl\n"),
        },
        created_by="/bin/sh -c set -xe && echo '#!/bin/sh' > /usr/sbin/policy-rc.d ...",
    )
    apt_lists = Layer(
        {
            "/var/lib/apt/lists/archive.ubuntu.com_xenial_InRelease": Whiteout(),
        },
        created_by="/bin/sh -c rm -rf /var/lib/apt/lists/*",
    )
    run = Layer(
        {
            "/run/systemd/container": File.of("docker\n"),
        },
        created_by="/bin/sh -c mkdir -p /run/systemd && echo 'docker' > /run/systemd/container",
    )
    sources = Layer(
        {
            "/etc/apt/sources.list": File.of(
                "deb http://archive.ubuntu.com/ubuntu/ xenial main restricted\n"
                "deb http://archive.ubuntu.com/ubuntu/ xenial universe\n"
            ),
        },
        created_by="/bin/sh -c sed -i 's/^#\\s*\\(deb.*universe\\)$/\\1/g' /etc/apt/sources.list",
    )
    return [_base_rootfs(), policy, apt_lists, run, sources]


def ubuntu_image() -> Image:
    """The article's five-layer ubuntu image, as a new object on every call.

    A fresh object means an experiment that edits a layer object by hand (the exercises
    catch that mistake) cannot spoil the image for the rest of the notebook.
    """
    return build_image(ubuntu_layers(), tag="ubuntu:16.04")


def app_layer(big_size: int = 64 << 20) -> Layer:
    """`COPY app /srv/app`: a small web app plus one big data file.

    The big file's bytes are produced on demand (zeros), so a 64 MiB file costs nothing
    until something really copies it.
    """

    def zeros() -> BinaryIO:
        return io.BytesIO(bytes(big_size))

    return Layer(
        {
            "/srv/app/index.html": File.of("<h1>hello</h1>\n"),
            "/srv/app/app.py": File.of("print('hello')\n", 0o755),
            BIG_FILE: File(Meta(mode=0o644), Content(size=big_size, opener=zeros)),
        },
        created_by="/bin/sh -c #(nop) COPY dir:app in /srv/app ",
    )


def app_image(big_size: int = 64 << 20) -> Image:
    """ubuntu plus the app layer: six layers, for the copy-on-write notebook."""
    return build_image([*ubuntu_layers(), app_layer(big_size)], tag="app:1")


# -- busybox: a real image to run -------------------------------------------------------
#
# The mini-runtime (`live/runtime.py`) and the overlay lab (`live/overlay_mount.py`) need
# an image whose programs actually run inside an empty root filesystem. A *static* busybox
# is one file that is every Unix tool at once (`sh`, `ls`, `cat`, ...: it looks at the
# name it was called by), and it needs no libc beside it. So the base layer holds
# /bin/busybox and a symlink per tool, as the official busybox image does, and a second
# layer adds a few files for the whiteout and opaque-directory experiments.
#
# Without busybox-static the base layer holds a placeholder instead: the image still works
# for the model and for file operations through a real overlay mount, but nothing in it can
# be executed, and `layerlab.run` falls back to its labelled simulation.

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


def busybox_base_layer(busybox: str | None) -> Layer:
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


def busybox_app_layer() -> Layer:
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
    return build_image([busybox_base_layer(source), busybox_app_layer()], tag=tag)


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


def is_static_elf(path: str) -> bool:
    """True for an ELF executable without a PT_INTERP header: it runs with no libc around it."""
    with open(path, "rb") as handle:
        head = handle.read(64)
        if head[:4] != b"\x7fELF":
            return False
        order = "<" if head[5] == 1 else ">"
        if head[4] == 2:  # 64-bit: e_phoff at 32, e_phentsize and e_phnum at 54
            (phoff,) = struct.unpack_from(order + "Q", head, 32)
            phentsize, phnum = struct.unpack_from(order + "HH", head, 54)
        else:  # 32-bit: e_phoff at 28, e_phentsize and e_phnum at 42
            (phoff,) = struct.unpack_from(order + "I", head, 28)
            phentsize, phnum = struct.unpack_from(order + "HH", head, 42)
        handle.seek(phoff)
        table = handle.read(phentsize * phnum)
    types = {struct.unpack_from(order + "I", table, i)[0] for i in range(0, len(table), phentsize)}
    return 3 not in types  # 3 = PT_INTERP: "load me with this dynamic linker"


def find_static_busybox() -> str | None:
    """The busybox from Debian's busybox-static (a dynamic busybox would need a libc inside)."""
    for candidate in ("/bin/busybox", "/usr/bin/busybox", shutil.which("busybox") or ""):
        if candidate and os.path.isfile(candidate) and is_static_elf(candidate):
            return candidate
    return None


# -- cgroup layouts of two machines, as /proc shows them (notebook 02) --------------------
#: What detect_layout reads on a pure cgroup v2 machine (Debian 12, Ubuntu 22.04 and later).
V2_MACHINE = {
    "mountinfo": (
        "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 "
        "- cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
    ),
    "proc_cgroup": "0::/user.slice/user-1000.slice/session-2.scope\n",
    "v2_controllers": "cpuset cpu io memory hugetlb pids rdma misc",
}

#: The same on a hybrid machine: every controller on its own v1 tree, beside an empty v2 one.
HYBRID_MACHINE = {
    "mountinfo": "".join(
        f"{n} 31 0:{n - 3} / /sys/fs/cgroup/{name} rw,relatime - cgroup cgroup rw,{name}\n"
        for n, name in enumerate(("cpu", "cpuacct", "memory", "pids"), start=32)
    )
    + "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
    "proc_cgroup": "4:memory:/\n3:pids:/\n2:cpuacct:/\n1:cpu:/\n0::/\n",
    "v2_controllers": "hugetlb",
}
