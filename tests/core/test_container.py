"""Container, init layer and commit: Docker's three-part rootfs (docs/semantics.md 17-18)."""

import errno

import pytest

from layerlab.container import Container
from layerlab.entries import Dir, File, Meta, OpaqueDir, Symlink, Whiteout
from layerlab.initlayer import INIT_PATHS, build_init_layer
from layerlab.layer import Layer

BASE = Layer(
    {
        "/bin/busybox": File.of("BB", 0o755),
        "/etc": Dir(Meta(mode=0o750, uid=0, gid=0)),
        "/etc/hosts": File.of("127.0.0.1 from-the-image\n"),
        "/etc/passwd": File.of("root:x:0:0\n"),
        "/d/a": File.of("a"),
    },
    name="base",
)


def test_init_layer_holds_exactly_what_docker_creates():
    """moby initlayer: mount points, placeholders, /.dockerenv and /etc/mtab."""
    init = build_init_layer([BASE])
    created = {p for p, e in init.items() if p not in ("/dev", "/etc")}
    assert created == set(INIT_PATHS)
    for path, kind in INIT_PATHS.items():
        entry = init[path]
        if kind == "dir":
            assert entry == Dir(Meta(mode=0o755))
        elif kind == "file":
            assert isinstance(entry, File) and entry.size == 0 and entry.meta.mode == 0o755
        else:
            assert entry == Symlink(Meta(mode=0o777), target=kind)


def test_init_layer_replaces_the_images_hosts_and_copies_up_etc_with_its_metadata():
    init = build_init_layer([BASE])
    assert init["/etc/hosts"].size == 0
    assert init["/etc"].meta.mode == 0o750  # copied up from the image, not made anew
    assert init["/dev"].meta.mode == 0o755  # the image had no /dev: created 0755


def test_init_layer_leaves_an_existing_image_directory_alone():
    """moby only creates what os.Stat cannot find, so an image's own /proc stays out."""
    init = build_init_layer([Layer({"/proc": Dir(Meta(mode=0o555))})])
    assert "/proc" not in init


def test_writes_to_hosts_hostname_and_resolv_conf_never_reach_the_rw_layer():
    c = Container([BASE], name="web")
    c.append("/etc/hosts", "10.0.0.2 db\n")
    c.write("/etc/hostname", "renamed\n")
    c.chmod("/etc/resolv.conf", 0o600)
    assert len(c.rw) == 0
    assert c.read("/etc/hosts").endswith(b"10.0.0.2 db\n")
    assert c.read("/etc/hostname") == b"renamed\n"
    assert c.view().read("/etc/hosts") == b""  # the union mount itself only has the placeholder


def test_each_container_gets_its_own_hostname():
    a, b = Container([BASE], name="a"), Container([BASE], name="b")
    assert a.read("/etc/hostname") != b.read("/etc/hostname")
    assert a.read("/etc/hostname") == (a.hostname + "\n").encode()


def test_a_bind_mounted_file_cannot_be_removed():
    c = Container([BASE])
    with pytest.raises(OSError) as info:
        c.unlink("/etc/hosts")
    assert info.value.errno == errno.EBUSY


def test_the_log_records_commands_copy_ups_and_rw_snapshots():
    c = Container([BASE])
    c.append("/etc/passwd", "bob\n")
    c.remove("/d")
    c.mkdir("/d")
    first, second, third = c.log
    assert first.command == "printf 'bob\\n' >> /etc/passwd"
    assert first.copied_up == ("/etc", "/etc/passwd")
    assert "/d" not in first.rw and second.rw["/d"] == Whiteout()
    assert isinstance(third.rw["/d"], OpaqueDir)
    assert "opaque dir /d" in third.notes
