"""What every exercise test needs: run a cell the way a notebook would, and the contract
each exercise keeps (stub not solved, wrong answers caught with their own hint, solution
accepted)."""

from __future__ import annotations

import pytest

from layerlab.exercises import Result, check, exercises_of, get


def run_cell(source: str) -> Result:
    """Execute an exercise cell (stub or solution) in a fresh namespace, as a notebook
    kernel would, and return the verdict of the `check(...)` call it ends with."""
    verdicts: list[Result] = []

    def recording_check(exercise_id: str, answer: object) -> Result:
        verdict = check(exercise_id, answer)
        verdicts.append(verdict)
        return verdict

    exec(compile(source, "<exercise cell>", "exec"), {"check": recording_check})
    assert len(verdicts) == 1, "an exercise cell must call check() exactly once"
    return verdicts[0]


class Contract:
    """The three promises of an exercise, one method each, so each is its own test."""

    @staticmethod
    def stub_is_not_solved(exercise_id: str) -> None:
        verdict = run_cell(get(exercise_id).stub)
        assert verdict.status == "unsolved", verdict
        assert "not solved yet" in str(verdict)

    @staticmethod
    def wrong_gets_its_hint(exercise_id: str, reason: str, answer: object) -> None:
        verdict = get(exercise_id).judge(answer)
        assert (verdict.status, verdict.reason) == ("wrong", reason), str(verdict)
        assert str(verdict).startswith(f"✗ Exercise {exercise_id}") and "Hint: " in str(verdict)

    @staticmethod
    def solution_is_accepted(exercise_id: str) -> None:
        verdict = run_cell(get(exercise_id).solution)
        assert verdict.ok, str(verdict)
        assert str(verdict).startswith(f"✓ Exercise {exercise_id}")

    @staticmethod
    def covers(
        notebook: str, wrong: dict[str, dict[str, object]], right: dict[str, list[object]]
    ) -> None:
        """Every exercise of the notebook has at least five mutants, each with its own
        hint, and at least two differently written right answers under test."""
        ids = [exercise.id for exercise in exercises_of(notebook)]
        assert len(ids) >= (1 if notebook == "00" else 2), f"notebook {notebook} needs exercises"
        assert sorted(wrong) == ids and sorted(right) == ids
        assert all(len(answers) >= 5 for answers in wrong.values()), "five mutants each"
        assert all(len(answers) >= 2 for answers in right.values()), "two right answers each"


@pytest.fixture
def contract() -> Contract:
    return Contract()


@pytest.fixture(name="run_cell")
def run_cell_fixture():
    """`run_cell` as a fixture: execute an exercise cell, return its verdict."""
    return run_cell
