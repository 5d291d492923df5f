"""Small hand-built stacks the render tests draw: each one shows one union rule clearly.

Everything here is deterministic (fixed names, fixed build times), so the DOT drawn from
it can be compared byte for byte with the snapshots in tests/render/snapshots/.
"""

from __future__ import annotations

from layerlab.commit import build_image
from layerlab.container import Container
from layerlab.entries import File, Hardlink, OpaqueDir, Symlink, Whiteout
from layerlab.image import Image
from layerlab.layer import Layer
from layerlab.render.kernel import CgroupNode, Process


def base_layer() -> Layer:
    return Layer(
        {
            "/etc/passwd": File.of("root:x:0:0\n"),
            "/etc/hosts": File.of("127.0.0.1 image\n"),
            "/bin/sh": File.of("ELF v1\n", mode=0o755),
            "/app/a": File.of("a1\n"),
            "/app/b": File.of("b1\n"),
        },
        name="base",
        created_by="ADD rootfs.tar /",
    )


def change_layer() -> Layer:
    """An opaque /app (hides a and b), a new /app/c, a new /bin/sh, /etc/passwd deleted."""
    return Layer(
        {
            "/app": OpaqueDir(),
            "/app/c": File.of("c2\n"),
            "/bin/sh": File.of("ELF v2\n", mode=0o755),
            "/etc/passwd": Whiteout(),
            "/usr/bin/env": Symlink(target="/bin/sh"),
        },
        name="change",
        created_by="RUN rm /etc/passwd && build app",
    )


def layers() -> list[Layer]:
    return [base_layer(), change_layer()]


def image() -> Image:
    return build_image(layers(), tag="demo:1")


def container() -> Container:
    """A container over `image()` whose log has a copy-up, a whiteout, an opaque dir and a
    write that a bind mount swallows."""
    c = Container(image(), name="demo")
    c.write("/bin/sh", "ELF v3\n")
    c.append("/app/c", "more\n")
    c.unlink("/app/c")
    c.mkdir("/app/c")
    c.write("/etc/hosts", "10.0.0.1 mine\n")
    return c


def sibling_image() -> Image:
    """Shares the base layer with `image()`, then differs."""
    web = Layer({"/srv/index.html": File.of("<h1>hi</h1>\n")}, created_by="COPY index.html /srv/")
    return build_image([base_layer(), web], tag="web:1")


def hardlinked_layers() -> list[Layer]:
    """A file hardlinked in a later layer, then its first name whited out: data still used."""
    return [
        Layer({"/data/big": File.of(b"x" * 100)}, name="L0"),
        Layer({"/data/alias": Hardlink(target="/data/big")}, name="L1"),
        Layer({"/data/big": Whiteout()}, name="L2"),
    ]


def processes() -> list[Process]:
    host = dict.fromkeys(("cgroup", "ipc", "mnt", "net", "pid", "user", "uts"), "host")
    inside = {**host, "ipc": "ctr", "mnt": "ctr", "net": "ctr", "pid": "ctr", "uts": "ctr"}
    return [
        Process("containerd-shim", None, host),
        Process("sh (pid 1 inside)", "containerd-shim", inside),
        Process("sleep (pid 2 inside)", "sh (pid 1 inside)", inside),
    ]


def cgroup_nodes() -> list[CgroupNode]:
    mib = 1 << 20
    return [
        CgroupNode(
            "/layerlab/demo",
            processes=2,
            memory_current=64 * mib,
            memory_max=64 * mib,
            pids_current=2,
            pids_max=20,
            cpu_quota_us=10_000,
            cpu_period_us=100_000,
            nr_periods=10,
            nr_throttled=7,
            oom_kills=1,
        ),
        CgroupNode("/layerlab/idle", processes=1, memory_current=mib),
    ]


def all_figures() -> dict:
    """One figure from every renderer, by snapshot name: what the cross-cutting tests check."""
    from layerlab import render

    c = container()
    committed = c.commit(tag="demo:2")
    return {
        "stack_container": render.stack(c),
        "stack_image": render.stack(image()),
        "lookup_whiteout": render.lookup(c, "/etc/passwd"),
        "lookup_opaque": render.lookup(image(), "/app/a"),
        "lookup_bind_mount": render.lookup(c, "/etc/hosts"),
        "graph": render.graph(image(), sibling_image(), c, committed),
        "namespaces": render.namespaces(processes()),
        "cgroups": render.cgroups(cgroup_nodes()),
        "timeline": render.timeline(c),
        "frame": render.frame(c, 2),
        "summary": render.summary(c),
    }
