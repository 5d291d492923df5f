"""Notebook 06's exercises judge outcomes: the committed tar, and what each container reads."""

from __future__ import annotations

from exercise_contract import contract_tests

from layerlab.exercises.ex06 import _SERVE_MISTAKES, busy_container, serves
from layerlab.exercises.judging import tar_paths
from layerlab.initlayer import INIT_PATHS

WRONG = {
    "06.1": {
        "dockerenv": set(),  # thinks a deletion is no change
        # thinks every write lands in the rw layer
        "bind-mounted": {"/.dockerenv", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"},
        "whole-init": set(INIT_PATHS),  # thinks commit takes the init layer
        "not-init": {"/.dockerenv", "/etc/motd"},  # answers a different question
        "untouched": {"/.dockerenv", "/proc"},  # guesses a path busy never touched
        "not-a-collection": "/.dockerenv",  # one string, not a set
    },
    "06.2": {reason: model for model, reason, _ in _SERVE_MISTAKES},
}
WRONG["06.2"]["not-a-place"] = lambda container, path: container.view().lookup(path)


def serves_by_index(container, path):
    if path in container.mounts:
        return "bind mount"
    node = container.view().lookup(path)
    if node is None:
        return None
    top, init = len(container.layers) - 1, container.layers.index(container.init)
    return {top: "rw", init: "init"}.get(node.layer, "image")


RIGHT = {
    "06.1": [["/.dockerenv"], ("/.dockerenv",)],
    "06.2": [serves_by_index, lambda c, p: serves(c, p)],
}


(
    test_every_exercise_has_mutants_and_right_answers_under_test,
    test_a_differently_written_right_answer_is_accepted,
    test_the_stub_is_not_solved_yet,
    test_a_wrong_answer_gets_the_hint_for_its_misconception,
    test_the_reference_solution_is_accepted,
) = contract_tests("06", WRONG, RIGHT)


def test_the_busy_container_commits_its_own_file_and_the_dockerenv_whiteout_only():
    """semantics.md 17-18: bind-mounted files never reach the rw layer; deleting
    /.dockerenv commits a whiteout. The checker's truth comes from this commit."""
    assert tar_paths(busy_container().commit().tar) == {"/.dockerenv", "/etc", "/etc/motd"}
