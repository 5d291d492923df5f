"""The contract tests every exercise module runs, written once.

A module lists, per exercise, at least five mutants of the reference solution in `WRONG`
({exercise id: {hint reason: answer}}), each a plausible misconception with its own hint
and one line saying why, and at least two differently written correct answers in `RIGHT`
({exercise id: [answer, ...]}). It binds the tests this returns to module-level names, so
pytest collects them there and reports them under that notebook's file.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest


def contract_tests(
    notebook: str, wrong: dict[str, dict[str, object]], right: dict[str, list[object]]
) -> tuple[Callable, ...]:
    """Stub not solved, each mutant caught with its own hint, right answers accepted."""
    ids = sorted(wrong)
    cases = [(e, r, a) for e, answers in wrong.items() for r, a in answers.items()]
    rights = [(e, i, a) for e, answers in right.items() for i, a in enumerate(answers)]

    def test_every_exercise_has_mutants_and_right_answers_under_test(contract):
        contract.covers(notebook, wrong, right)

    @pytest.mark.parametrize(
        "exercise_id, number, answer", rights, ids=[f"{e}-{i}" for e, i, _ in rights]
    )
    def test_a_differently_written_right_answer_is_accepted(exercise_id, number, answer):
        from layerlab.exercises import check

        verdict = check(exercise_id, answer)
        assert verdict.ok, str(verdict)

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
        test_every_exercise_has_mutants_and_right_answers_under_test,
        test_a_differently_written_right_answer_is_accepted,
        test_the_stub_is_not_solved_yet,
        test_a_wrong_answer_gets_the_hint_for_its_misconception,
        test_the_reference_solution_is_accepted,
    )
