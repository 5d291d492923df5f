"""Exercises of notebook 02, cgroups: a pids.max that allows N forks, and `docker run`'s
limits written as cgroup v2 files. Also the two recorded machines the notebook detects.

The checkers judge what the kernel would do with the answer: how many forks a pids.max
lets through (the forking process is one of the pids), and how the kernel parses what is
written into memory.max, cpu.max and pids.max (or refuses it, EINVAL).
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from ..i18n import N_, _, ngettext
from ..samples import HYBRID_MACHINE, V2_MACHINE
from .framework import Exercise, NotSolved, Wrong, attempt, register
from .judging import as_int

__all__ = ["V2_MACHINE", "HYBRID_MACHINE", "forks_allowed", "parse_v2_limits"]


# -- 02.1 a pids.max that allows N forks ---------------------------------------------------
def forks_allowed(pids_max: int) -> int:
    """How many children a process alone in a cgroup can fork before fork() fails (EAGAIN):
    pids.max counts every process and thread in the cgroup, the forking one included."""
    return max(pids_max - 1, 0)


def _forks(count: int) -> str:
    return ngettext("{count} fork", "{count} forks", count).format(count=count)


def pids_cases(count: int = 12, seed: str = "02.1") -> list[int]:
    """The notebook's numbers, a service that forks nothing, then generated ones (seeded)."""
    rng = random.Random(seed)
    return [3, 7, 20, 0, 1, *(rng.randrange(2, 5000) for _n in range(count))]


def _pids_value(answer: object) -> int | None:
    """The learner's pids.max as a number: an integral type, or text parsed as the kernel
    parses pids.max. None means 'max'."""
    if isinstance(answer, str):
        try:
            return _pids(answer.strip())
        except Invalid:
            raise Wrong(
                "not-an-int",
                _("the kernel would refuse pids.max = {answer!r} (EINVAL)").format(answer=answer),
            ) from None
    return as_int(answer, what="pids.max")


def check_pids_max(solve: object) -> str:
    answers = {}
    for n in pids_cases():
        answer = attempt(solve, n, returns=True)
        if answer is None or answer is Ellipsis:
            raise NotSolved()
        value = _pids_value(answer)
        if value is None:
            raise Wrong(
                "unlimited",
                _(
                    "'max' is no limit at all: a fork bomb would get every process the machine "
                    "has. Give a number."
                ),
            )
        answers[n] = value
    if len(set(answers.values())) == 1:
        raise Wrong(
            "one-case",
            _("you return {value} whatever n is: compute pids.max from n.").format(
                value=next(iter(answers.values()))
            ),
        )
    for n, answer in answers.items():
        if forks_allowed(answer) == n:
            continue
        if answer == n:
            raise Wrong(
                "forgot-self",
                _(
                    "with pids.max = {n} only {forks} succeed: pids.max counts "
                    "every process in the cgroup, and the process that forks is one of them."
                ).format(n=n, forks=_forks(max(n - 1, 0))),
            )
        if forks_allowed(answer) > n:
            raise Wrong(
                "too-many",
                _(
                    "pids.max = {answer} lets {forks} through, not "
                    "{n}: the limit should refuse fork number {next}."
                ).format(answer=answer, forks=_forks(forks_allowed(answer)), n=n, next=n + 1),
            )
        raise Wrong(
            "too-few",
            _("pids.max = {answer} allows only {forks}; the workload needs {n}.").format(
                answer=answer, forks=_forks(forks_allowed(answer)), n=n
            ),
        )
    return _(
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
PAGE_SIZE = 4096
#: pids.max must stay below PIDS_MAX = PID_MAX_LIMIT + 1 (4 Mi pids on 64-bit kernels).
PIDS_MAX = (4 << 20) + 1
#: cpu.max bounds (kernel/sched/core.c): period 1 ms .. 1 s, quota at least 1 ms.
MIN_PERIOD_US, MAX_PERIOD_US, MIN_QUOTA_US = 1000, 1_000_000, 1000
MAX_QUOTA_US = (1 << 44) - 1


class Invalid(ValueError):
    """The kernel would refuse this write with EINVAL."""


def _radix(text: str) -> tuple[int, str]:
    """lib/kstrtox.c `_parse_integer_fixup_radix` for base 0: 0x.. is hex, 0.. octal."""
    if text[:2].lower() == "0x" and text[2:3] and text[2] in "0123456789abcdefABCDEF":
        return 16, text[2:]
    if text.startswith("0"):
        return 8, text
    return 10, text


def _leading_number(text: str, base: int) -> tuple[int, str]:
    """The longest run of digits of `base` at the start of text, and what follows."""
    digits = "0123456789abcdef"[:base]
    end = 0
    while end < len(text) and text[end].lower() in digits:
        end += 1
    return (int(text[:end], base) if end else 0), text[end:]


def kstrtoll(text: str) -> int:
    """lib/kstrtox.c kstrtoll(s, 0): an optional sign, hex/octal/decimal, the whole string
    (one trailing newline allowed), else EINVAL."""
    sign, rest = 1, text
    if rest.startswith("-"):
        sign, rest = -1, rest[1:]
    elif rest.startswith("+"):
        rest = rest[1:]
    base, digits = _radix(rest)
    value, tail = _leading_number(digits, base)
    if len(tail) == len(digits) or tail.removesuffix("\n"):
        raise Invalid(text)  # no digit at all, or something after the number
    return sign * value


def _memory(text: str) -> int | None:
    """memory.max as mm/page_counter.c parses it: strstrip, then "max", or memparse
    (simple_strtoull base 0, an optional K/M/G/T/P/E suffix) with nothing left over.
    The kernel keeps whole pages; the result is bytes rounded down to a page."""
    text = text.strip()
    if text == "max":
        return None
    base, digits = _radix(text)
    value, tail = _leading_number(digits, base)
    shift = {"k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}.get(tail[:1].lower())
    if shift is not None:
        value, tail = value << shift, tail[1:]
    if tail:
        raise Invalid(text)
    return value // PAGE_SIZE * PAGE_SIZE


def _scan_u64(text: str) -> int | None:
    """The kernel's sscanf "%llu": a decimal number at the start (no sign), or None."""
    if not text[:1].isdigit():
        return None
    return _leading_number(text, 10)[0]


def _cpu(text: str, current_period: int = 100_000) -> float | None:
    """cpu.max as kernel/sched/core.c parses it: sscanf(buf, "%20s %llu", tok, &period),
    then tok is sscanf'd as "%llu" or must be "max"; the period keeps its current value
    when none is given. Then the bounds of tg_set_cfs_bandwidth. CPUs = quota / period."""
    words = text.split()
    if not words:
        raise Invalid(text)
    token = words[0][:20]
    period = current_period
    rest = text.split(None, 1)[1] if len(words) > 1 and len(words[0]) <= 20 else ""
    if rest:
        scanned = _scan_u64(rest)
        if scanned is not None:
            period = scanned
    quota = _scan_u64(token)
    if quota is None and token != "max":
        raise Invalid(text)
    if not (MIN_PERIOD_US <= period <= MAX_PERIOD_US):
        raise Invalid(text)
    if quota is None:
        return None
    if not (MIN_QUOTA_US <= quota <= MAX_QUOTA_US):
        raise Invalid(text)
    return quota / period


def _pids(text: str) -> int | None:
    """pids.max as kernel/cgroup/pids.c parses it: strstrip, "max", or kstrtoll base 0
    within 0 .. PIDS_MAX - 1."""
    text = text.strip()
    if text == "max":
        return None
    limit = kstrtoll(text)
    if not 0 <= limit < PIDS_MAX:
        raise Invalid(text)
    return limit


def parse_v2_limits(files: Mapping[str, object]) -> dict[str, object]:
    """What the kernel makes of each file's text: memory bytes, CPUs, pids (None = max).
    Raises Invalid for text the kernel would refuse."""
    parse = {"memory.max": _memory, "cpu.max": _cpu, "pids.max": _pids}
    return {name: parse[name](_text(files[name])) for name in V2_FILES}


def _text(value: object) -> str:
    """What lands in the file: text as is, bytes decoded, a number in decimal; the kernel
    strips surrounding whitespace (echo's newline included)."""
    if isinstance(value, bytes):
        return value.decode(errors="replace").strip()
    return str(value).strip()


def _judge_cpu(text: str, cpus: float) -> None:
    """The usual ways to get cpu.max wrong, each with the hint for its misconception."""
    if text == str(cpus):
        raise Wrong(
            "cpus-as-is",
            _(
                "the kernel refuses '{text}' (EINVAL): cpu.max holds two whole numbers of "
                "microseconds, '$QUOTA $PERIOD': how much CPU time the group may use per period."
            ).format(text=text),
        )
    numbers = [int(n) for n in text.split() if n.isdigit()]
    try:
        share = _cpu(text)
    except Invalid:
        if len(numbers) == 2 and numbers[1] and abs(numbers[0] / numbers[1] - cpus) < 1e-9:
            raise Wrong(
                "milliseconds",
                _(
                    "the right ratio, but '{text}' is in the wrong unit: both numbers are "
                    "microseconds, and the kernel refuses periods below 1000 (1 ms)."
                ).format(text=text),
            ) from None
        if numbers and numbers[0] == round(cpus * 100):
            raise Wrong(
                "percent",
                _(
                    "'{text}' reads as {quota} microseconds of CPU time per period, which "
                    "the kernel refuses (below 1000). cpu.max is not a percentage: the quota is "
                    "cpus x period, in microseconds."
                ).format(text=text, quota=numbers[0]),
            ) from None
        return  # refused for another reason: the caller reports it
    if share is not None and cpus != 1 and abs(share - 1 / cpus) < 1e-9:
        raise Wrong(
            "reversed",
            _(
                "cpu.max '{text}' gives {share:.2f} CPUs: the quota comes first, then the "
                "period, so '150000 100000' is 1.5 CPUs."
            ).format(text=text, share=share),
        )


CASES = ((256, 1.5, 100), (64, 0.5, 20))


def flag_cases(count: int = 12, seed: str = "02.2") -> list[tuple[int, float, int]]:
    """The notebook's two runs, then generated ones (seeded): from 4 MiB and a hundredth of
    a CPU (the smallest quota the kernel takes) up to 64 GiB and 64 CPUs."""
    rng = random.Random(seed)
    generated = [
        (rng.randrange(4, 65536), rng.randrange(1, 6400) / 100, rng.randrange(1, 10000))
        for _n in range(count)
    ]
    return [*CASES, (4, 0.01, 1), (65536, 64.0, 4194304), *generated]


def check_docker_flags(solve: object) -> str:
    for memory_mib, cpus, pids in flag_cases():
        files = attempt(solve, memory_mib, cpus, pids, returns=True)
        if files is None or files is Ellipsis:
            raise NotSolved()
        if not isinstance(files, Mapping):
            raise Wrong(
                "not-a-dict", _("return a dict of file name -> text, like {'pids.max': '20'}")
            )
        v1 = sorted(set(files) & set(V1_FILES))
        if v1:
            raise Wrong(
                "v1-names",
                _(
                    "{file} is a cgroup v1 file. In v2 the limits are memory.max, cpu.max "
                    "and pids.max, all in the container's one directory."
                ).format(file=v1[0]),
            )
        missing = [name for name in V2_FILES if name not in files]
        if missing:
            raise Wrong(
                "missing-file", _("there is no {file} in your dict").format(file=missing[0])
            )
        command = f"docker run --memory {memory_mib}m --cpus {cpus} --pids-limit {pids}"
        try:
            memory = _memory(_text(files["memory.max"]))
        except Invalid:
            memory = "invalid"
        if _text(files["memory.max"]) == str(memory_mib):
            raise Wrong(
                "mib-not-bytes",
                _(
                    "memory.max = {mib} means {mib} *bytes*. Write bytes "
                    "({bytes}), or use the suffix the kernel accepts: '{mib}M'."
                ).format(mib=memory_mib, bytes=memory_mib * (1 << 20)),
            )
        if memory == memory_mib * 10**6 // PAGE_SIZE * PAGE_SIZE:
            raise Wrong(
                "decimal-megabytes",
                _(
                    "{text} bytes is {mib} decimal megabytes, but "
                    "docker's {mib}m means mebibytes: {mib} x 1024 x 1024 bytes."
                ).format(text=_text(files["memory.max"]), mib=memory_mib),
            )
        cpu_text = _text(files["cpu.max"])
        _judge_cpu(cpu_text, cpus)
        try:
            limits = parse_v2_limits(files)
        except Invalid as bad:
            raise Wrong(
                "invalid",
                _("the kernel would refuse '{text}' (EINVAL) for {command}.").format(
                    text=bad, command=command
                ),
            ) from None
        wanted = {"memory.max": memory_mib << 20, "cpu.max": cpus, "pids.max": pids}
        for name in V2_FILES:
            got = limits[name]
            same = got is not None and abs(float(got) - float(wanted[name])) < 1e-9
            if not same:
                raise Wrong(
                    "mismatch",
                    _(
                        "for {command}, {file} = {text!r} sets {got}; it should set {wanted}."
                    ).format(
                        command=command,
                        file=name,
                        text=_text(files[name]),
                        got=_("no limit") if got is None else got,
                        wanted=wanted[name],
                    ),
                )
    return _(
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
    Exercise(
        "02.1", N_("a pids.max that allows N forks"), PIDS_STUB, PIDS_SOLUTION, check_pids_max
    ),
    Exercise(
        "02.2",
        N_("docker run's limits as cgroup v2 files"),
        FLAGS_STUB,
        FLAGS_SOLUTION,
        check_docker_flags,
    ),
)
