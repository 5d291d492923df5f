"""Engine profiles: Docker's init layer against Podman's placeholders in the rw layer.

Both profiles are proven against their own engine in tests/reference/test_docker.py and
tests/reference/test_podman.py; these tests pin the rules the profiles follow.
"""

import errno

import pytest

from layerlab.container import Container
from layerlab.engines import ENGINES, engine_profile
from layerlab.entries import Dir, File, Meta, Symlink, Whiteout
from layerlab.layer import Layer

#: A rootfs with nothing an engine needs: busybox only.
BARE = Layer({"/bin/busybox": File.of("BB", 0o755)}, name="bare")

#: A rootfs that already has what runc mounts onto, and its own /etc/mtab.
FULL = Layer(
    {
        "/bin/busybox": File.of("BB", 0o755),
        "/etc": Dir(Meta(mode=0o750)),
        "/etc/hosts": File.of("127.0.0.1 image\n"),
        "/etc/hostname": File.of("image\n"),
        "/etc/mtab": File.of("image's own mtab\n"),
        "/proc": Dir(Meta(mode=0o555)),
        "/sys": Dir(Meta(mode=0o555)),
        "/dev": Dir(Meta(mode=0o755)),
        "/run": Dir(Meta(mode=0o755)),
    },
    name="full",
)


def test_podman_puts_every_missing_mount_point_into_the_rw_layer():
    """libpod: /etc and /etc/mtab; runc: mount points 0755, bind targets empty 0755 files."""
    podman = Container([BARE], engine="podman")
    assert podman.init is None and podman.layers == [BARE, podman.rw]
    rw = podman.rw
    assert sorted(rw) == [
        "/dev",
        "/etc",
        "/etc/hostname",
        "/etc/hosts",
        "/etc/mtab",
        "/proc",
        "/run",
        "/run/.containerenv",
        "/sys",
    ]
    assert rw["/etc/mtab"] == Symlink(Meta(mode=0o777), target="/proc/mounts")
    for path in ("/etc/hostname", "/etc/hosts", "/run/.containerenv"):
        assert isinstance(rw[path], File) and rw[path].size == 0
        assert rw[path].meta.mode == 0o755
    for path in ("/dev", "/etc", "/proc", "/run", "/sys"):
        assert rw[path] == Dir(Meta(mode=0o755))


def test_docker_keeps_its_rw_layer_empty_and_has_an_init_layer():
    docker = Container([BARE])
    assert docker.engine == "docker" and len(docker.rw) == 0
    assert docker.init is not None and "/.dockerenv" in docker.init


def test_podman_mounts_onto_what_the_image_has_and_keeps_its_mtab():
    """Only the parent of the new /run/.containerenv is copied up: /run, as the image has it."""
    podman = Container([FULL], engine="podman")
    assert sorted(podman.rw) == ["/run", "/run/.containerenv"]
    assert podman.rw["/run"].meta.mode == 0o755
    assert podman.read("/etc/mtab") == b"image's own mtab\n"


def test_an_image_whose_sys_is_a_file_cannot_start_under_podman():
    """runc: 'filesystem "sysfs" must be mounted on ordinary directory'; Docker's init
    layer would have replaced the file with a directory."""
    image = Layer({"/bin/busybox": File.of("BB", 0o755), "/sys": File.of("x")})
    with pytest.raises(OSError) as refused:
        Container([image], engine="podman")
    assert refused.value.errno == errno.ENOTDIR and "sysfs" in str(refused.value)
    assert isinstance(Container([image]).view().lookup("/sys").entry, Dir)


def test_podman_bind_mounts_hosts_hostname_and_containerenv():
    podman = Container([BARE], engine="podman", name="web", hostname="web")
    podman.append("/etc/hosts", "10.0.0.5\tdb\n")
    podman.write("/etc/hostname", "renamed\n")
    assert podman.read("/etc/hostname") == b"renamed\n"
    assert b"10.0.0.5\tdb" in podman.read("/etc/hosts")
    assert podman.rw["/etc/hosts"].size == podman.rw["/etc/hostname"].size == 0
    with pytest.raises(OSError) as busy:
        podman.unlink("/run/.containerenv")
    assert busy.value.errno == errno.EBUSY and "Podman" in str(busy.value)


def test_a_podman_commit_holds_the_placeholders_and_a_docker_commit_does_not():
    docker, podman = Container([BARE]), Container([BARE], engine="podman")
    for container in (docker, podman):
        container.write("/etc/motd", "hi\n")
        container.unlink("/bin/busybox")
    assert sorted(docker.commit().layer) == ["/bin", "/bin/busybox", "/etc", "/etc/motd"]
    added = set(podman.commit().layer) - set(docker.commit().layer)
    assert added == set(Container([BARE], engine="podman").rw) - {"/etc"}
    assert podman.commit().layer["/bin/busybox"] == Whiteout()


def test_an_unchanged_podman_container_still_commits_a_layer():
    """Docker: an empty_layer history entry; Podman: the placeholders."""
    assert Container([BARE]).commit().layer is None
    assert Container([BARE], engine="podman").commit().layer is not None


def test_an_unknown_engine_is_a_one_line_error_naming_the_known_ones():
    assert set(ENGINES) == {"docker", "podman"}
    with pytest.raises(ValueError, match="unknown engine 'lxc': use one of 'docker', 'podman'"):
        engine_profile("lxc")


def test_podman_writes_an_opaque_marker_only_for_a_directory_an_image_layer_has():
    """containers/storage's ConvertWrite looks the opaque dir up in the lower layers;
    Docker keeps overlayfs's opaque mark on the renamed new directory as well."""
    base = Layer({"/bin/busybox": File.of("BB", 0o755), "/d/a": File.of("a")}, name="base")
    commits = {}
    for engine in ("docker", "podman"):
        container = Container([base], engine=engine)
        container.remove("/d")
        container.mkdir("/d")
        container.mkdir("/fresh")
        container.move("/fresh", "/fresh2")
        commits[engine] = container.commit().layer
    assert commits["docker"].opaque_dirs == ["/d", "/fresh2"]
    assert commits["podman"].opaque_dirs == ["/d"]


def test_a_podman_containers_history_starts_with_its_placeholders():
    """Step 0 of the timeline is the fresh rw layer, which Podman does not leave empty."""
    from layerlab.render.facts import step_facts

    podman = Container([BARE], engine="podman")
    podman.write("/etc/motd", "hi\n")
    assert set(podman.fresh_rw) == set(Container([BARE], engine="podman").rw)
    assert "/etc/motd" not in podman.fresh_rw
    fresh = step_facts(podman, 0, paths=["/proc"])
    assert fresh.columns[0].visible is not None
    assert len(Container([BARE]).fresh_rw) == 0
