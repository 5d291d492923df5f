"""Notebook 02's exercises judge what the kernel would do: forks let through by pids.max,
and how memory.max, cpu.max and pids.max parse (or are refused)."""

from __future__ import annotations

import pytest
from exercise_contract import contract_tests

from layerlab.exercises.ex02 import (
    HYBRID_MACHINE,
    V2_MACHINE,
    Invalid,
    forks_allowed,
    parse_v2_limits,
)
from layerlab.live import detect_layout
from layerlab.live.cgroup_labs import ForkLimit


def v2_files(memory_mib, cpus, pids, **override):
    files = {
        "memory.max": str(memory_mib << 20),
        "cpu.max": f"{round(cpus * 100_000)} 100000",
        "pids.max": str(pids),
    }
    return {**files, **override}


WRONG = {
    "02.1": {
        "forgot-self": lambda n: n,
        "too-many": lambda n: n + 2,
        "too-few": lambda n: n - 1,
        "unlimited": lambda n: "max",
    },
    "02.2": {
        "v1-names": lambda m, c, p: {
            "memory.limit_in_bytes": str(m << 20),
            "cpu.cfs_quota_us": str(round(c * 100_000)),
            "pids.max": str(p),
        },
        "mib-not-bytes": lambda m, c, p: v2_files(m, c, p, **{"memory.max": str(m)}),
        "cpus-as-is": lambda m, c, p: v2_files(m, c, p, **{"cpu.max": str(c)}),
        "reversed": lambda m, c, p: v2_files(m, c, p, **{"cpu.max": f"100000 {round(c * 1e5)}"}),
        "percent": lambda m, c, p: v2_files(m, c, p, **{"cpu.max": str(round(c * 100))}),
        "milliseconds": lambda m, c, p: v2_files(m, c, p, **{"cpu.max": f"{round(c * 100)} 100"}),
        "missing-file": lambda m, c, p: {"memory.max": f"{m}M", "cpu.max": "max"},
        "mismatch": lambda m, c, p: v2_files(m, c, p, **{"pids.max": "max"}),
        "invalid": lambda m, c, p: v2_files(m, c, p, **{"memory.max": f"{m} MB"}),
    },
}


(
    test_every_exercise_has_wrong_answers_under_test,
    test_the_stub_is_not_solved_yet,
    test_a_wrong_answer_gets_the_hint_for_its_misconception,
    test_the_reference_solution_is_accepted,
) = contract_tests("02", WRONG)


def test_what_the_kernel_also_accepts_passes():
    from layerlab.exercises import check

    def with_suffixes(memory_mib, cpus, pids):
        return {"memory.max": f"{memory_mib}M", "cpu.max": str(round(cpus * 100_000)),
                "pids.max": pids}  # fmt: skip

    assert check("02.2", with_suffixes).ok


@pytest.mark.parametrize(
    "files, parsed",
    [
        (v2_files(64, 0.5, 20), {"memory.max": 64 << 20, "cpu.max": 0.5, "pids.max": 20}),
        ({"memory.max": "1G", "cpu.max": "max 100000", "pids.max": "max"},
         {"memory.max": 1 << 30, "cpu.max": None, "pids.max": None}),
    ],
)  # fmt: skip
def test_limits_parse_as_the_kernel_reads_them(files, parsed):
    assert parse_v2_limits(files) == parsed


@pytest.mark.parametrize("cpu", ["1.5", "150", "500 100", "100000 max", "-1 100000", ""])
def test_cpu_max_text_the_kernel_refuses_is_invalid(cpu):
    with pytest.raises(Invalid):
        parse_v2_limits(v2_files(64, 1, 1, **{"cpu.max": cpu}))


@pytest.mark.parametrize("pids_max", [2, 8, 21])
def test_forks_allowed_agrees_with_the_fork_lab(pids_max):
    """The checker's rule is the one the lab's simulation (recorded from the kernel) shows."""
    lab = ForkLimit.simulated("test", pids_max=pids_max, attempts=40)
    assert forks_allowed(pids_max) == lab.forks_succeeded


def test_the_two_recorded_machines_are_detected_as_v2_and_hybrid():
    v2, hybrid = detect_layout(**V2_MACHINE), detect_layout(**HYBRID_MACHINE)
    assert (v2.kind, hybrid.kind) == ("v2", "hybrid")
    assert {h.mount for h in v2.hierarchies.values()} == {"/sys/fs/cgroup"}
    assert hybrid.hierarchies["memory"].mount == "/sys/fs/cgroup/memory"
    assert not v2.missing and not hybrid.missing
