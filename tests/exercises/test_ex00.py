"""Notebook 00's warm-up judges what `cat /etc/motd` shows in the container it hands out,
and everything else the answer did to it."""

from __future__ import annotations

from exercise_contract import contract_tests

from layerlab.container import Container
from layerlab.entries import File
from layerlab.exercises.ex00 import GREETING
from layerlab.samples import ubuntu_image


def edit_the_image_layer(container):
    """Thinks the image is writable, like a VM disk."""
    container.image_layers[0]["/etc/motd"] = File.of("Hello from layerlab!\n")


def a_container_of_my_own(container):
    """Thinks any container of the image will do."""
    mine = Container(ubuntu_image(), name="mine")
    mine.write("/etc/motd", "Hello from layerlab!\n")
    return mine


def link_like_ubuntu(container):
    """Copies Ubuntu's /etc/motd -> /run/motd.dynamic, but nothing makes the target."""
    container.unlink("/etc/motd")
    container.symlink("/run/motd.dynamic", "/etc/motd")


def leave_a_backup(container):
    """Keeps the old motd around: a new file nobody asked for."""
    container.rename("/etc/motd", "/etc/motd.orig")
    container.write("/etc/motd", "Hello from layerlab!\n")


WRONG = {
    "00.1": {
        "edited-image": edit_the_image_layer,
        "other-container": a_container_of_my_own,
        # thinks `>>` replaces the file
        "appended": lambda c: c.append("/etc/motd", "Hello from layerlab!\n"),
        # thinks a file's last line needs no newline
        "newline": lambda c: c.write("/etc/motd", "Hello from layerlab!"),
        # writes a path relative to the wrong directory
        "path": lambda c: c.write("/motd", "Hello from layerlab!\n"),
        # thinks deleting the file clears the message
        "deleted": lambda c: c.unlink("/etc/motd"),
        # copies the text by eye
        "text": lambda c: c.write("/etc/motd", "hello from layerlab\n"),
        # writes Windows line endings
        "crlf": lambda c: c.write("/etc/motd", "Hello from layerlab!\r\n"),
        # pads the text, as a heredoc with indentation does
        "whitespace": lambda c: c.write("/etc/motd", "  Hello from layerlab!\n\n"),
        "dangling-symlink": link_like_ubuntu,
        "collateral": leave_a_backup,
        # replaces the file with a directory of the same name
        "unreadable": lambda c: (c.unlink("/etc/motd"), c.mkdir("/etc/motd")),
    },
}


def two_steps(container):
    container.unlink("/etc/motd")
    container.write("/etc/motd", GREETING)


def the_ubuntu_way(container):
    container.unlink("/etc/motd")
    container.write("/run/motd.dynamic", "Hello from layerlab!\n")
    container.symlink("/run/motd.dynamic", "/etc/motd")


RIGHT = {
    "00.1": [
        lambda c: c.write("/etc/motd", b"Hello from layerlab!\n"),
        two_steps,
        the_ubuntu_way,
    ]
}

(
    test_every_exercise_has_mutants_and_right_answers_under_test,
    test_a_differently_written_right_answer_is_accepted,
    test_the_stub_is_not_solved_yet,
    test_a_wrong_answer_gets_the_hint_for_its_misconception,
    test_the_reference_solution_is_accepted,
) = contract_tests("00", WRONG, RIGHT)


def test_a_backup_beside_the_new_motd_is_collateral():
    from layerlab.exercises import check

    verdict = check("00.1", leave_a_backup)
    assert verdict.reason == "collateral" and "/etc/motd.orig" in verdict.message
