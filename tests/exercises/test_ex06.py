"""Notebook 06's exercises judge outcomes: the committed tar, and what each container reads."""

from __future__ import annotations

from exercise_contract import contract_tests

from layerlab.commit import build_image
from layerlab.container import Container
from layerlab.entries import File
from layerlab.exercises.ex06 import busy_container
from layerlab.exercises.judging import tar_paths
from layerlab.initlayer import INIT_PATHS
from layerlab.layer import Layer


# -- 06.2 ---------------------------------------------------------------------------------
def one_container_twice(image):
    web = Container(image, name="web", hostname="web")
    return web, web


def hostnames_written_into_rw(image):
    web, db = Container(image, name="web"), Container(image, name="db")
    web.rw["/etc/hostname"] = File.of("web\n")
    db.rw["/etc/hostname"] = File.of("db\n")
    return web, db


def hostname_baked_into_an_image(image):
    def with_name(name):
        layer = Layer({"/etc/hostname": File.of(f"{name}\n")})
        return build_image([*image.model_layers(), layer])

    return Container(with_name("web"), name="web"), Container(with_name("db"), name="db")


def default_hostnames(image):
    return Container(image, name="web"), Container(image, name="db")


def hostname_plus_a_note(image):
    web, db = (
        Container(image, name="web", hostname="web"),
        Container(image, name="db", hostname="db"),
    )
    web.write("/root/hostname.txt", "web\n")
    return web, db


WRONG = {
    "06.1": {
        "dockerenv": set(),
        "bind-mounted": {"/.dockerenv", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"},
        "whole-init": set(INIT_PATHS),
        "not-init": {"/.dockerenv", "/etc/motd"},
        "untouched": {"/.dockerenv", "/proc"},
    },
    "06.3": {
        "not-a-set": "/etc/mtab /run /run/.containerenv",
        "image-has-it": {
            "/dev",
            "/etc/hostname",
            "/etc/hosts",
            "/etc/mtab",
            "/proc",
            "/run",
            "/run/.containerenv",
            "/sys",
        },
        "docker-init": {"/.dockerenv", "/etc/mtab", "/run", "/run/.containerenv"},
        "resolv-conf": {"/etc/mtab", "/etc/resolv.conf", "/run", "/run/.containerenv"},
        "in-both": {"/etc", "/etc/motd", "/etc/mtab", "/run", "/run/.containerenv"},
        "parent": {"/etc/mtab", "/run/.containerenv"},
        "mtab": {"/run", "/run/.containerenv"},
        "containerenv": {"/etc/mtab", "/run"},
    },
    "06.2": {
        "same-container": one_container_twice,
        "into-rw": hostnames_written_into_rw,
        "own-image": hostname_baked_into_an_image,
        "hostnames": default_hostnames,
        "rw-changed": hostname_plus_a_note,
        "shape": lambda image: [Container(image, hostname="web"), Container(image, hostname="db")],
    },
}


(
    test_every_exercise_has_wrong_answers_under_test,
    test_the_stub_is_not_solved_yet,
    test_a_wrong_answer_gets_the_hint_for_its_misconception,
    test_the_reference_solution_is_accepted,
) = contract_tests("06", WRONG)


def test_the_busy_container_commits_its_own_file_and_the_dockerenv_whiteout_only():
    """semantics.md 17-18: bind-mounted files never reach the rw layer; deleting
    /.dockerenv commits a whiteout. The checker's truth comes from this commit."""
    assert tar_paths(busy_container().commit().tar) == {"/.dockerenv", "/etc", "/etc/motd"}
