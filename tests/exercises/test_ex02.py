"""Notebook 02's exercises judge what the kernel would do: forks let through by pids.max,
and how memory.max, cpu.max and pids.max parse (or are refused)."""

from __future__ import annotations

from pathlib import Path

import pytest
from exercise_contract import contract_tests

from layerlab.exercises.ex02 import (
    HYBRID_MACHINE,
    V2_MACHINE,
    Invalid,
    _cpu,
    _memory,
    _pids,
    forks_allowed,
    parse_v2_limits,
)
from layerlab.live import detect_layout
from layerlab.live.cgroup_limits import ForkLimit


def v2_files(memory_mib, cpus, pids, **override):
    files = {
        "memory.max": str(memory_mib << 20),
        "cpu.max": f"{round(cpus * 100_000)} 100000",
        "pids.max": str(pids),
    }
    return {**files, **override}


WRONG = {
    "02.1": {
        "forgot-self": lambda n: n,  # counts only the children
        "too-many": lambda n: n + 2,  # adds a safety margin
        "too-few": lambda n: n - 1,  # thinks pids.max is the highest allowed pid count minus one
        "unlimited": lambda n: "max",  # thinks no limit is safest for a service
        "one-case": lambda n: 4,  # solves the notebook's first example only
        "not-an-int": lambda n: n + 1.0,  # computes with floats
    },
    "02.2": {
        # cgroup v1 names, from an old blog post
        "v1-names": lambda m, c, p: {
            "memory.limit_in_bytes": str(m << 20),
            "cpu.cfs_quota_us": str(round(c * 100_000)),
            "pids.max": str(p),
        },
        # thinks the file takes MiB
        "mib-not-bytes": lambda m, c, p: v2_files(m, c, p, **{"memory.max": str(m)}),
        # thinks cpu.max holds a CPU count
        "cpus-as-is": lambda m, c, p: v2_files(m, c, p, **{"cpu.max": str(c)}),
        # puts the period first
        "reversed": lambda m, c, p: v2_files(m, c, p, **{"cpu.max": f"100000 {round(c * 1e5)}"}),
        # thinks cpu.max is a percentage
        "percent": lambda m, c, p: v2_files(m, c, p, **{"cpu.max": str(round(c * 100))}),
        # right ratio, milliseconds
        "milliseconds": lambda m, c, p: v2_files(m, c, p, **{"cpu.max": f"{round(c * 100)} 100"}),
        # forgets a file
        "missing-file": lambda m, c, p: {"memory.max": f"{m}M", "cpu.max": "max"},
        # leaves pids unlimited
        "mismatch": lambda m, c, p: v2_files(m, c, p, **{"pids.max": "max"}),
        # writes the unit as docker prints it
        "invalid": lambda m, c, p: v2_files(m, c, p, **{"memory.max": f"{m} MB"}),
        # decimal megabytes
        "decimal-megabytes": lambda m, c, p: v2_files(m, c, p, **{"memory.max": str(m * 10**6)}),
    },
}

RIGHT = {
    "02.1": [lambda n: n + 1, lambda n: str(n + 1), lambda n: hex(n + 1)],
    "02.2": [
        # suffixes, hex (the kernel parses base 0), the default period, a trailing newline
        lambda m, c, p: {"memory.max": f"{m}M", "cpu.max": f"{round(c * 1e5)}", "pids.max": p},
        lambda m, c, p: {
            "pids.max": f"{p}\n",
            "memory.max": hex(m << 20),
            "cpu.max": f"{round(c * 200_000)} 200000",
        },
        lambda m, c, p: {
            "memory.max": f"{m * 1024}k",
            "cpu.max": f"{round(c * 1e5)} 100000",
            "pids.max": f"0{p:o}",
        },
    ],
}


(
    test_every_exercise_has_mutants_and_right_answers_under_test,
    test_a_differently_written_right_answer_is_accepted,
    test_the_stub_is_not_solved_yet,
    test_a_wrong_answer_gets_the_hint_for_its_misconception,
    test_the_reference_solution_is_accepted,
) = contract_tests("02", WRONG, RIGHT)


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


@pytest.mark.parametrize("cpu", ["1.5", "150", "500 100", "-1 100000", "", "+5000", "max 100"])
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


@pytest.mark.parametrize(
    "text, cpus",
    [
        ("100000 max", 1.0),  # "%20s %llu" matched one item: the period keeps its value
        ("150000abc 100000", 1.5),  # "%llu" stops at the first non-digit
        ("150000 100000 extra", 1.5),  # sscanf ignores what its format does not ask for
        ("  50000\n", 0.5),  # a quota alone, with echo's newline
        ("max 50000", None),
    ],
)
def test_cpu_max_parses_as_sscanf_does(text, cpus):
    assert _cpu(text) == cpus


@pytest.mark.parametrize(
    "text, value",
    [("20", 20), ("0x14", 20), ("024", 20), ("+20", 20), ("20\n", 20), ("0", 0)],
)
def test_pids_max_parses_as_kstrtoll_base_0(text, value):
    assert _pids(text) == value


@pytest.mark.parametrize("text", ["08", "0x", "-1", "2 0", "2e3", "4194305", "", "20\nx"])
def test_pids_max_refuses_what_kstrtoll_and_pids_max_write_refuse(text):
    with pytest.raises(Invalid):
        _pids(text)


@pytest.mark.parametrize(
    "text, value",
    [
        ("256M", 256 << 20),
        ("0x100000", 1 << 20),
        ("1k", 0),
        ("4097", 4096),
        ("1G", 1 << 30),
        ("M", 0),
    ],
)
def test_memory_max_parses_as_memparse_does_in_whole_pages(text, value):
    assert _memory(text) == value


@pytest.mark.parametrize("text", ["256 M", "256MB", "-1", "1.5G", "0x"])
def test_memory_max_refuses_what_memparse_leaves_unread(text):
    with pytest.raises(Invalid):
        _memory(text)


# -- against the live kernel ------------------------------------------------------------------
PIDS_SAMPLES = [
    "20",
    "0x14",
    "024",
    "+20",
    "20\n",
    "0",
    "08",
    "0x",
    "-1",
    "2e3",
    "4194305",
    "4194304",
    "max",
    " 7 ",
    "1_0",
]
MEMORY_SAMPLES = [
    "268435456",
    "256M",
    "256m",
    "0x100000",
    "0400000",
    "4097",
    "1k",
    "1G",
    "256 M",
    "256MB",
    "1.5G",
    "0x",
    "M",
    "  8M\n",
]


def _kernel_cgroup(controller: str):
    """A fresh cgroup of `controller` to write into (v1 tree, else v2 with it enabled)."""
    import os
    import tempfile

    if os.geteuid() != 0 or os.environ.get("LAYERLAB_LIVE") == "0":
        pytest.skip("writing cgroup files needs root and the live world")
    for root in (f"/sys/fs/cgroup/{controller}", "/sys/fs/cgroup"):
        probe = "pids.max" if controller == "pids" else "memory.limit_in_bytes"
        if controller == "memory" and root == "/sys/fs/cgroup":
            probe = "memory.max"
        if os.path.isdir(root) and os.access(root, os.W_OK):
            path = tempfile.mkdtemp(prefix="layerlab-parse-", dir=root)
            if os.path.exists(os.path.join(path, probe)):
                return path, probe
            os.rmdir(path)
    pytest.skip(f"no writable {controller} cgroup here")


def _write(path: str, text: str) -> bool:
    import os

    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def test_pids_max_parses_as_the_live_kernel_does():
    import os

    group, name = _kernel_cgroup("pids")
    try:
        for text in PIDS_SAMPLES:
            accepted = _write(os.path.join(group, name), text)
            try:
                model = _pids(text.strip())
            except Invalid:
                assert not accepted, f"the kernel accepted {text!r}"
                continue
            assert accepted, f"the kernel refused {text!r}"
            shown = Path(group, name).read_text().strip()
            assert shown == ("max" if model is None else str(model)), text
    finally:
        os.rmdir(group)


def test_memory_limits_parse_as_the_live_kernel_does():
    import os

    group, name = _kernel_cgroup("memory")
    try:
        for text in MEMORY_SAMPLES:
            accepted = _write(os.path.join(group, name), text)
            try:
                model = _memory(text.strip())
            except Invalid:
                assert not accepted, f"the kernel accepted {text!r}"
                continue
            assert accepted, f"the kernel refused {text!r}"
            shown = int(Path(group, name).read_text())
            assert shown == model, text
    finally:
        os.rmdir(group)
