"""A real Docker engine, driven through its CLI, and a busybox base image to work on.

Everything this module creates in the engine carries one random run name (containers
`<run>-<what>`, images `<run>:<what>`), so `Engine.cleanup` removes exactly what this test
run made, and nothing a user had.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import tarfile
import uuid
from pathlib import Path

#: The busybox applets the scripted operations use (Container.log's shell spellings).
APPLETS = ("sh", "printf", "rm", "rmdir", "mkdir", "chmod", "chown", "mv", "ln", "cat", "true")

#: Every base file's mtime: copy-up and mv must keep it.
BASE_MTIME = 1_600_000_000

#: The base image's files: what the operations read, rewrite, remove, move and link.
#: (path, kind, mode, uid, data-or-target)
BASE_FILES: list[tuple[str, str, int, int, str]] = [
    ("etc", "dir", 0o751, 0, ""),
    ("etc/passwd", "file", 0o644, 0, "root:x:0:0:root:/root:/bin/sh\n"),
    ("etc/group", "file", 0o644, 0, "root:x:0:\n"),
    ("etc/hosts", "file", 0o644, 0, "127.0.0.1 the-image-own-hosts-file\n"),
    ("etc/mtab", "file", 0o644, 0, "an image's own mtab, replaced by the init layer\n"),
    ("sys", "file", 0o644, 0, "a file where the init layer wants a directory\n"),
    ("dev", "dir", 0o700, 0, ""),
    ("d", "dir", 0o755, 0, ""),
    ("d/a", "file", 0o644, 0, "a\n"),
    ("d/sub", "dir", 0o750, 0, ""),
    ("d/sub/b", "file", 0o600, 0, "b\n"),
    ("old", "dir", 0o755, 0, ""),
    ("old/o1", "file", 0o644, 0, "o1\n"),
    ("old/o2", "symlink", 0o777, 0, "o1"),
    ("cfg", "dir", 0o755, 0, ""),
    ("cfg/x", "file", 0o644, 0, "x\n"),
    ("empty", "dir", 0o755, 0, ""),
    ("gone", "file", 0o644, 0, "to be removed\n"),
    ("keep", "file", 0o644, 0, "keep\n"),
    ("via", "symlink", 0o777, 0, "keep"),
    ("rename-me", "file", 0o640, 0, "renamed file\n"),
    ("m", "dir", 0o750, 0, ""),
    ("m/f", "file", 0o600, 1000, "owned by 1000\n"),
    ("m/f2", "hardlink", 0o600, 1000, "m/f"),
    ("m/l", "symlink", 0o777, 0, "f"),
    ("m/inner", "dir", 0o700, 0, ""),
    ("m/inner/g", "file", 0o644, 0, "g\n"),
    ("h1", "file", 0o644, 0, "shared\n"),
    ("h2", "hardlink", 0o644, 0, "h1"),
    ("ln", "symlink", 0o777, 0, "etc/passwd"),
    ("tmp", "dir", 0o1777, 0, ""),
]


def is_static_elf(path: str) -> bool:
    """True for a 64-bit ELF without a program interpreter: it runs in a rootfs of its own."""
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2:
            return False
        order = "<" if head[5] == 1 else ">"
        (phoff,) = struct.unpack_from(order + "Q", head, 0x20)
        entsize, count = struct.unpack_from(order + "HH", head, 0x36)
        f.seek(phoff)
        table = f.read(entsize * count)
    pt_interp = 3
    return all(
        struct.unpack_from(order + "I", table, i * entsize)[0] != pt_interp for i in range(count)
    )


def base_rootfs_tar(
    busybox: str, files: list[tuple[str, str, int, int, str]] | None = None
) -> bytes:
    """A rootfs tar: a static busybox, its applet links and `files` (BASE_FILES unless
    given), all owned by root."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(name: str, kind: str, mode: int, uid: int = 0, data: str | bytes = "") -> None:
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid, info.mtime = mode, uid, uid, BASE_MTIME
            payload = None
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, str(data)
            else:
                payload = data.encode() if isinstance(data, str) else data
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)

        add("bin", "dir", 0o755)
        add("bin/busybox", "file", 0o755, data=Path(busybox).read_bytes())
        for applet in APPLETS:
            add(f"bin/{applet}", "symlink", 0o777, data="busybox")
        for path, kind, mode, uid, data in BASE_FILES if files is None else files:
            add(path, kind, mode, uid, data)
    return out.getvalue()


class Engine:
    """The docker CLI against DOCKER_HOST, with a per-run namespace for what it creates."""

    def __init__(self, docker: str) -> None:
        self.docker = docker
        self.run_name = f"layerlab-ref-{uuid.uuid4().hex[:10]}"
        self.containers: list[str] = []
        self.images: list[str] = []

    def __call__(self, *args: str, stdin: bytes | None = None) -> str:
        done = subprocess.run([self.docker, *args], input=stdin, capture_output=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args[:3])} failed: "
                f"{done.stderr.decode(errors='replace').strip()}"
            )
        return done.stdout.decode().strip()

    def image_name(self, what: str) -> str:
        name = f"{self.run_name}:{what}"
        self.images.append(name)
        return name

    def container_name(self, what: str) -> str:
        name = f"{self.run_name}-{what}"
        self.containers.append(name)
        return name

    def import_rootfs(self, tar: bytes, what: str) -> str:
        name = self.image_name(what)
        self("import", "-", name, stdin=tar)
        return name

    def run(self, image: str, what: str, script: str) -> str:
        """`docker run --network none IMAGE sh -c SCRIPT`; the container is kept for commit."""
        name = self.container_name(what)
        self("run", "--name", name, "--network", "none", image, "sh", "-c", script)
        return name

    def create(self, image: str, what: str) -> str:
        name = self.container_name(what)
        self("create", "--name", name, "--network", "none", image, "true")
        return name

    def commit(self, container: str, what: str) -> str:
        name = self.image_name(what)
        self("commit", container, name)
        return name

    def save(self, image: str, dest: Path) -> Path:
        self("save", "-o", str(dest), image)
        return dest

    def inspect(self, thing: str) -> dict:
        return json.loads(self("inspect", thing))[0]

    def cleanup(self) -> None:
        """Remove this run's containers and images; never raises, never touches others'."""
        for name in self.containers:
            subprocess.run([self.docker, "rm", "-f", name], capture_output=True, timeout=60)
        for name in reversed(self.images):
            subprocess.run([self.docker, "rmi", "-f", name], capture_output=True, timeout=60)
