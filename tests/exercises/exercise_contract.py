"""The contract tests every exercise module runs, written once.

A module lists its realistic wrong answers in `WRONG` ({exercise id: {hint reason: answer}})
and binds the four tests this returns to module-level names, so pytest collects them
there and reports them under that notebook's file.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest


def contract_tests(notebook: str, wrong: dict[str, dict[str, object]]) -> tuple[Callable, ...]:
    """Stub not solved, each wrong answer caught with its own hint, solution accepted."""
    ids = sorted(wrong)
    cases = [(e, r, a) for e, answers in wrong.items() for r, a in answers.items()]

    def test_every_exercise_has_wrong_answers_under_test(contract):
        contract.covers(notebook, wrong)

    @pytest.mark.parametrize("exercise_id", ids)
    def test_the_stub_is_not_solved_yet(contract, exercise_id):
        contract.stub_is_not_solved(exercise_id)

    @pytest.mark.parametrize(
        "exercise_id, reason, answer", cases, ids=[f"{e}-{r}" for e, r, _ in cases]
    )
    def test_a_wrong_answer_gets_the_hint_for_its_misconception(
        contract, exercise_id, reason, answer
    ):
        contract.wrong_gets_its_hint(exercise_id, reason, answer)

    @pytest.mark.parametrize("exercise_id", ids)
    def test_the_reference_solution_is_accepted(contract, exercise_id):
        contract.solution_is_accepted(exercise_id)

    return (
        test_every_exercise_has_wrong_answers_under_test,
        test_the_stub_is_not_solved_yet,
        test_a_wrong_answer_gets_the_hint_for_its_misconception,
        test_the_reference_solution_is_accepted,
    )
