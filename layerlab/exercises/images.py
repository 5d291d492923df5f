"""The small images the course builds on, shared by the notebooks and the exercise checkers.

`ubuntu_image()` has the shape of the `ubuntu` image the source article inspects: five
layers, each the result of one build step. The first is a whole (tiny) root filesystem;
the others are the increments the official Dockerfile adds on top, and `ls` on their
directories shows the same top-level names as the article's `aufs/diff` listings. The files
are stand-ins of a few bytes: the layering is real, the operating system is not.

Everything here is deterministic (fixed mtimes, sorted entries), so every digest a notebook
prints is the same on every machine.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from ..commit import build_image
from ..entries import Content, Dir, File, Meta, Symlink, Whiteout
from ..image import Image
from ..layer import Layer

__all__ = ["ubuntu_layers", "ubuntu_image", "app_layer", "app_image", "BIG_FILE"]

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
