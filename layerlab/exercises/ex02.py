"""Exercises of notebook 02, cgroups: a pids.max that allows N forks, and `docker run`'s
limits written as cgroup v2 files. Also the two recorded machines the notebook detects.

The checkers judge what the kernel would do with the answer: how many forks a pids.max
lets through (the forking process is one of the pids), and how the kernel parses what is
written into memory.max, cpu.max and pids.max (or refuses it, EINVAL).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .framework import Exercise, NotSolved, Wrong, attempt, register

__all__ = ["V2_MACHINE", "HYBRID_MACHINE", "forks_allowed", "parse_v2_limits"]

#: What detect_layout reads on a pure cgroup v2 machine (Debian 12, Ubuntu 22.04 and later).
V2_MACHINE = {
    "mountinfo": (
        "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 "
        "- cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
    ),
    "proc_cgroup": "0::/user.slice/user-1000.slice/session-2.scope\n",
    "v2_controllers": "cpuset cpu io memory hugetlb pids rdma misc",
}

#: The same on a hybrid machine: every controller on its own v1 tree, beside an empty v2 one.
HYBRID_MACHINE = {
    "mountinfo": "".join(
        f"{n} 31 0:{n - 3} / /sys/fs/cgroup/{name} rw,relatime - cgroup cgroup rw,{name}\n"
        for n, name in enumerate(("cpu", "cpuacct", "memory", "pids"), start=32)
    )
    + "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
    "proc_cgroup": "4:memory:/\n3:pids:/\n2:cpuacct:/\n1:cpu:/\n0::/\n",
    "v2_controllers": "hugetlb",
}


# -- 02.1 a pids.max that allows N forks ---------------------------------------------------
def forks_allowed(pids_max: int) -> int:
    """How many children a process alone in a cgroup can fork before fork() fails (EAGAIN):
    pids.max counts every process and thread in the cgroup, the forking one included."""
    return max(pids_max - 1, 0)


def _forks(count: int) -> str:
    return f"{count} fork{'' if count == 1 else 's'}"


def check_pids_max(solve: object) -> str:
    answers = {}
    for n in (3, 7, 20):
        answer = attempt(solve, n)
        if answer is None or answer is Ellipsis:
            raise NotSolved()
        if answer == "max":
            raise Wrong(
                "unlimited",
                "'max' is no limit at all: a fork bomb would get every process the machine "
                "has. Give a number.",
            )
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise Wrong("not-a-number", f"return a whole number for pids.max, not {answer!r}")
        answers[n] = answer
    for n, answer in answers.items():
        if forks_allowed(answer) == n:
            continue
        if answer == n:
            raise Wrong(
                "forgot-self",
                f"with pids.max = {n} only {_forks(n - 1)} succeed: pids.max counts every "
                "process in the cgroup, and the process that forks is one of them.",
            )
        if forks_allowed(answer) > n:
            raise Wrong(
                "too-many",
                f"pids.max = {answer} lets {_forks(forks_allowed(answer))} through, not "
                f"{n}: the limit should refuse fork number {n + 1}.",
            )
        raise Wrong(
            "too-few",
            f"pids.max = {answer} allows only {_forks(forks_allowed(answer))}; the workload "
            f"needs {n}.",
        )
    return (
        "N children plus the process that forks them: pids.max = N + 1. Fork N + 1 fails "
        "with EAGAIN, as the live lab showed."
    )


PIDS_STUB = '''
def solve(n):
    """Return the pids.max that lets a process alone in its cgroup fork n children,
    and refuses the next fork."""
    ...  # YOUR CODE HERE

check("02.1", solve)
'''

PIDS_SOLUTION = '''
def solve(n):
    """Return the pids.max that lets a process alone in its cgroup fork n children,
    and refuses the next fork."""
    return n + 1   # the forking process counts too

check("02.1", solve)
'''


# -- 02.2 docker run's limits as cgroup v2 files -------------------------------------------
V2_FILES = ("memory.max", "cpu.max", "pids.max")
V1_FILES = ("memory.limit_in_bytes", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares")
_SUFFIX = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class Invalid(ValueError):
    """The kernel would refuse this write with EINVAL."""


def _memory(text: str) -> int | None:
    """memory.max as the kernel parses it: 'max', or bytes with an optional K/M/G/T suffix."""
    if text == "max":
        return None
    match = re.fullmatch(r"(\d+)([kmgt]?)", text.lower())
    if not match:
        raise Invalid(text)
    return int(match[1]) * _SUFFIX[match[2]]


def _cpu(text: str) -> float | None:
    """cpu.max: '$QUOTA $PERIOD' in microseconds (or 'max'); CPUs = quota / period."""
    parts = text.split()
    if not parts or len(parts) > 2 or not all(p.isdigit() or p == "max" for p in parts):
        raise Invalid(text)
    if len(parts) == 2 and parts[1] == "max":
        raise Invalid(text)
    period = int(parts[1]) if len(parts) == 2 else 100_000
    if parts[0] == "max":
        return None
    quota = int(parts[0])
    if not (1000 <= period <= 1_000_000) or quota < 1000:
        raise Invalid(text)
    return quota / period


def _pids(text: str) -> int | None:
    if text == "max":
        return None
    if not text.isdigit():
        raise Invalid(text)
    return int(text)


def parse_v2_limits(files: Mapping[str, object]) -> dict[str, object]:
    """What the kernel makes of each file's text: memory bytes, CPUs, pids (None = max).
    Raises Invalid for text the kernel would refuse."""
    parse = {"memory.max": _memory, "cpu.max": _cpu, "pids.max": _pids}
    return {name: parse[name](str(files[name]).strip()) for name in V2_FILES}


def _judge_cpu(text: str, cpus: float) -> None:
    """The usual ways to get cpu.max wrong, each with the hint for its misconception."""
    if text == str(cpus):
        raise Wrong(
            "cpus-as-is",
            f"the kernel refuses '{text}' (EINVAL): cpu.max holds two whole numbers of "
            "microseconds, '$QUOTA $PERIOD': how much CPU time the group may use per period.",
        )
    numbers = [int(n) for n in text.split() if n.isdigit()]
    try:
        share = _cpu(text)
    except Invalid:
        if len(numbers) == 2 and numbers[1] and abs(numbers[0] / numbers[1] - cpus) < 1e-9:
            raise Wrong(
                "milliseconds",
                f"the right ratio, but '{text}' is in the wrong unit: both numbers are "
                "microseconds, and the kernel refuses periods below 1000 (1 ms).",
            ) from None
        if numbers and numbers[0] == round(cpus * 100):
            raise Wrong(
                "percent",
                f"'{text}' reads as {numbers[0]} microseconds of CPU time per period, which "
                "the kernel refuses (below 1000). cpu.max is not a percentage: the quota is "
                "cpus x period, in microseconds.",
            ) from None
        return  # refused for another reason: the caller reports it
    if share is not None and cpus != 1 and abs(share - 1 / cpus) < 1e-9:
        raise Wrong(
            "reversed",
            f"cpu.max '{text}' gives {share:.2f} CPUs: the quota comes first, then the "
            "period, so '150000 100000' is 1.5 CPUs.",
        )


CASES = ((256, 1.5, 100), (64, 0.5, 20))


def check_docker_flags(solve: object) -> str:
    for memory_mib, cpus, pids in CASES:
        files = attempt(solve, memory_mib, cpus, pids)
        if files is None or files is Ellipsis:
            raise NotSolved()
        if not isinstance(files, Mapping):
            raise Wrong("not-a-dict", "return a dict of file name -> text, like {'pids.max': '20'}")
        v1 = sorted(set(files) & set(V1_FILES))
        if v1:
            raise Wrong(
                "v1-names",
                f"{v1[0]} is a cgroup v1 file. In v2 the limits are memory.max, cpu.max "
                "and pids.max, all in the container's one directory.",
            )
        missing = [name for name in V2_FILES if name not in files]
        if missing:
            raise Wrong("missing-file", f"there is no {missing[0]} in your dict")
        command = f"docker run --memory {memory_mib}m --cpus {cpus} --pids-limit {pids}"
        try:
            memory = parse_v2_limits(files)["memory.max"]
        except Invalid:
            memory = "invalid"
        if memory == memory_mib:
            raise Wrong(
                "mib-not-bytes",
                f"memory.max = {memory_mib} means {memory_mib} *bytes*. Write bytes "
                f"({memory_mib * (1 << 20)}), or use the suffix the kernel accepts: "
                f"'{memory_mib}M'.",
            )
        cpu_text = str(files["cpu.max"]).strip()
        _judge_cpu(cpu_text, cpus)
        try:
            limits = parse_v2_limits(files)
        except Invalid as bad:
            raise Wrong(
                "invalid", f"the kernel would refuse '{bad}' (EINVAL) for {command}."
            ) from None
        wanted = {"memory.max": memory_mib << 20, "cpu.max": cpus, "pids.max": pids}
        for name in V2_FILES:
            got = limits[name]
            same = got is not None and abs(float(got) - float(wanted[name])) < 1e-9
            if not same:
                raise Wrong(
                    "mismatch",
                    f"for {command}, {name} = {str(files[name])!r} sets "
                    f"{'no limit' if got is None else got}; it should set {wanted[name]}.",
                )
    return (
        "memory.max in bytes (or with a K/M/G suffix), cpu.max as '$QUOTA $PERIOD' in "
        "microseconds, pids.max as a count: what runc writes for those three flags."
    )


FLAGS_STUB = '''
def solve(memory_mib, cpus, pids):
    """For `docker run --memory {memory_mib}m --cpus {cpus} --pids-limit {pids}`, return
    what goes into the container's cgroup v2 files: {"memory.max": ..., "cpu.max": ...,
    "pids.max": ...}, each value the text written into the file."""
    ...  # YOUR CODE HERE

check("02.2", solve)
'''

FLAGS_SOLUTION = '''
def solve(memory_mib, cpus, pids):
    """For `docker run --memory {memory_mib}m --cpus {cpus} --pids-limit {pids}`, return
    what goes into the container's cgroup v2 files: {"memory.max": ..., "cpu.max": ...,
    "pids.max": ...}, each value the text written into the file."""
    period = 100_000                                  # microseconds: 100 ms
    return {
        "memory.max": str(memory_mib * 1024 * 1024),  # bytes
        "cpu.max": f"{round(cpus * period)} {period}",  # quota per period
        "pids.max": str(pids),
    }

check("02.2", solve)
'''

register(
    Exercise("02.1", "a pids.max that allows N forks", PIDS_STUB, PIDS_SOLUTION, check_pids_max),
    Exercise(
        "02.2",
        "docker run's limits as cgroup v2 files",
        FLAGS_STUB,
        FLAGS_SOLUTION,
        check_docker_flags,
    ),
)
