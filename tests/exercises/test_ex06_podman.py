"""Exercise 06.3's truth comes from the two engine profiles, each proven by its engine
(tests/reference/test_docker.py, tests/reference/test_podman.py). Its mutants and right
answers are in test_ex06.py."""

from layerlab.exercises.ex06_podman import podman_adds, twin_containers


def test_the_twins_differ_by_the_mtab_symlink_and_the_containerenv_mount_point():
    assert podman_adds() == {"/etc/mtab", "/run", "/run/.containerenv"}
    docker, podman = twin_containers()
    assert docker.init is not None and podman.init is None
    assert podman.read("/etc/hostname") == docker.read("/etc/hostname") == b"web-1\n"
