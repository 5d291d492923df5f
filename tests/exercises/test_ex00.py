"""Notebook 00's warm-up judges what `cat /etc/motd` shows in the container it hands out."""

from __future__ import annotations

import pytest

from layerlab.container import Container
from layerlab.entries import File
from layerlab.exercises.ex00 import GREETING
from layerlab.exercises.images import ubuntu_image


def edit_the_image_layer(container):
    container.image_layers[0]["/etc/motd"] = File.of("Hello from layerlab!\n")


def a_container_of_my_own(container):
    mine = Container(ubuntu_image(), name="mine")
    mine.write("/etc/motd", "Hello from layerlab!\n")
    return mine


WRONG = {
    "00.1": {
        "edited-image": edit_the_image_layer,
        "other-container": a_container_of_my_own,
        "appended": lambda c: c.append("/etc/motd", "Hello from layerlab!\n"),
        "newline": lambda c: c.write("/etc/motd", "Hello from layerlab!"),
        "path": lambda c: c.write("/motd", "Hello from layerlab!\n"),
        "deleted": lambda c: c.unlink("/etc/motd"),
        "text": lambda c: c.write("/etc/motd", "hello from layerlab\n"),
    },
}


def test_the_start_notebook_has_one_warm_up(contract):
    from layerlab.exercises import exercises_of

    assert [e.id for e in exercises_of("00")] == ["00.1"]
    assert all(len(answers) >= 2 for answers in WRONG.values())


def test_the_stub_is_not_solved_yet(contract):
    contract.stub_is_not_solved("00.1")


@pytest.mark.parametrize("reason, answer", list(WRONG["00.1"].items()), ids=list(WRONG["00.1"]))
def test_a_wrong_answer_gets_the_hint_for_its_misconception(contract, reason, answer):
    contract.wrong_gets_its_hint("00.1", reason, answer)


def test_the_reference_solution_is_accepted(contract):
    contract.solution_is_accepted("00.1")


def test_any_way_to_get_the_greeting_into_the_rw_layer_passes():
    from layerlab.exercises import check

    def two_steps(container):
        container.unlink("/etc/motd")
        container.write("/etc/motd", GREETING)

    assert check("00.1", two_steps).ok
