"""Notebook 08's runtime level 5 (exercise 08.7): the command in a cgroup of its own, with a
limit on how many processes it may have, as level 3's runtime plus the cgroup steps.

The learner's `run(k, argv, hostname, cgroup, limit)` makes the cgroup directory, writes
`limit` into its `pids.max` (the same name in cgroup v1 and v2), moves the container into it
through `cgroup.procs` before the command runs, and removes the directory once the command
has ended. The probe command reports the cgroup it finds itself in (/proc/self/cgroup),
that cgroup's pids.max, and whether the kernel refused it a fork (it tries 64). After run()
the check looks at the runtime's own cgroup and whether the directory is still there.

Live as root, in the pids hierarchy this machine has (v1 or v2, found by `detect_layout`),
under a fresh name the check removes afterwards whatever happened; elsewhere on SimKernel's
model of the pids controller. The hints come from those observations only.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import host
from ..i18n import N_, _
from .ex08_levels import (
    MISSING,
    SIM_PROBE,
    _judge_code,
    _judge_hostname,
    _judge_pid_one,
    _judge_process,
)
from .framework import Exercise, NotSolved, Wrong, register, require_function
from .kernels import CGROUP_ROOT, Observed, simulate

__all__ = ["cgroup_cases", "observe_cgroup"]

TIMEOUT = 10.0  # seconds a run() may take before the sandbox is stopped
SIM_BOX = f"{CGROUP_ROOT}/box"


@dataclass(frozen=True)
class Case:
    code: int | None  # the exit code the command ends with; None: it does not exist
    hostname: str
    limit: int  # pids.max asked for


def cgroup_cases() -> list[Case]:
    """Hand-picked cases, one generated (seeded), then a command that does not exist."""
    rng = random.Random("08.7")
    generated = Case(rng.randrange(4, 120), f"job-{rng.randrange(100)}", rng.randrange(3, 12))
    return [Case(3, "box", 5), Case(0, "web-1", 8), generated, Case(None, "ghost", 4)]


def observe_cgroup(answer: Callable[..., Any], case: Case) -> tuple[Observed, str]:
    """Run the answer for one case, live as root if the probe allows; what it did, and the
    container's cgroup as /proc/self/cgroup names it."""
    from ..live import probe

    def live() -> tuple[Observed, str]:
        import secrets

        from ..live.kernel.cgroupfs import detect_layout
        from ..live.kernel.result import LiveError
        from .sandbox import live_observe, probe_argv

        pids = detect_layout().hierarchies.get("pids")
        if host.euid() != 0 or pids is None:
            raise LiveError("only root may make a cgroup at the top of the pids hierarchy")
        if pids.version == 2 and "pids" not in _read(f"{pids.mount}/cgroup.subtree_control"):
            raise LiveError("the v2 root does not hand the pids controller to its children")
        name = f"/layerlab-level-{secrets.token_hex(4)}"
        box = pids.mount + name

        def make_args(fd: int) -> list[Any]:
            argv = [MISSING] if case.code is None else probe_argv(case.code, fd, pids.mount)
            return [argv, case.hostname, box, case.limit]

        try:
            seen = live_observe(answer, make_args, TIMEOUT)
            seen.cgroup_left = os.path.isdir(box)
        finally:
            _remove(box)
        return seen, name

    def simulated(_reason: str) -> tuple[Observed, str]:
        argv = [MISSING] if case.code is None else [SIM_PROBE, str(case.code)]
        args = [argv, case.hostname, SIM_BOX, case.limit]
        return simulate(answer, args, {SIM_PROBE: case.code or 0}), SIM_BOX[len(CGROUP_ROOT) :]

    return probe.run_live(["uts_namespace", "pid_namespace", "cgroups"], live, simulated)


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def _remove(box: str, timeout: float = 5.0) -> None:
    """Remove the cgroup the answer made, killing whatever it left inside; never raises."""
    from ..live.kernel.cleanup import shield_interrupts

    deadline = time.monotonic() + timeout
    with shield_interrupts():
        while os.path.isdir(box) and time.monotonic() < deadline:
            with contextlib.suppress(OSError), open(f"{box}/cgroup.procs") as handle:
                for pid in handle.read().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
            try:
                os.rmdir(box)
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)  # killed, but not yet reaped: its PID still counts


def _judge_cgroup(seen: Observed, case: Case, box: str) -> None:
    if seen.runtime_cgroup == box:
        raise Wrong(
            "runtime-joined",
            _(
                "the runtime itself went into the container's cgroup: writing to cgroup.procs "
                "moves the process that writes (0, or its own PID), so do it in the shim or in "
                "PID 1, after fork. The runtime stays outside, and can remove the cgroup later."
            ),
        )
    _judge_process(seen)
    if case.code is not None and not seen.ran:
        if seen.value is None or seen.value is Ellipsis:
            raise NotSolved()
        raise Wrong("no-exec", _("the command never ran: PID 1 must exec it."))
    if seen.ran:
        _judge_hostname(seen, case)
        _judge_pid_one(seen)
        inside = seen.ran[0]
        if inside.cgroup != box:
            raise Wrong(
                "not-joined",
                _(
                    "the command ran outside the container's cgroup, so its limit did not "
                    "apply. A child starts in its parent's cgroup: write 0 into the cgroup's "
                    "cgroup.procs in the shim before it forks PID 1 (or in PID 1 before exec)."
                ),
            )
        if inside.pids_max == "max":
            raise Wrong(
                "no-limit",
                _(
                    "the command is in the cgroup, but its pids.max is still max: nothing was "
                    "refused. Write the limit ({limit}) into the cgroup's pids.max."
                ).format(limit=case.limit),
            )
        if inside.pids_max != str(case.limit):
            raise Wrong(
                "wrong-limit",
                _(
                    "the cgroup's pids.max is {pids_max}, but this container asked for "
                    "{limit}: use the limit argument."
                ).format(pids_max=inside.pids_max, limit=case.limit),
            )
    if seen.cgroup_left:
        raise Wrong(
            "cgroup-left",
            _(
                "run() returned and the container's cgroup is still there: a runtime removes it "
                "(k.rmdir) once the command has ended and been waited for, or cgroups pile up "
                "on the host with every container."
            ),
        )
    _judge_code(seen, case)


def check_cgroup(answer: object) -> str:
    require_function(answer, "run")
    for case in cgroup_cases():
        seen, box = observe_cgroup(answer, case)
        _judge_cgroup(seen, case, box)
    return _(
        "the command ran as PID 1 inside a cgroup of its own, whose pids.max refused it a "
        "fork past the limit, and the cgroup was gone after: what runc and containerd do "
        "with --pids-limit."
    )


CGROUP_STUB = '''
def run(k, argv, hostname, cgroup, limit):
    """As level 3, and the command runs in a new cgroup, the directory `cgroup`, where at
    most `limit` processes may exist; the cgroup is removed once the command has ended.
    New calls: k.mkdir(path), k.write_file(path, text), k.rmdir(path)."""
    ...  # YOUR CODE HERE

check("08.7", run)
'''

CGROUP_SOLUTION = '''
def run(k, argv, hostname, cgroup, limit):
    """As level 3, and the command runs in a new cgroup, the directory `cgroup`, where at
    most `limit` processes may exist; the cgroup is removed once the command has ended.
    New calls: k.mkdir(path), k.write_file(path, text), k.rmdir(path)."""
    k.mkdir(cgroup)                               # a cgroup is a directory
    k.write_file(f"{cgroup}/pids.max", str(limit))
    shim = k.fork()
    if shim == 0:
        try:
            k.write_file(f"{cgroup}/cgroup.procs", "0")   # 0: the writer moves itself
            k.unshare(k.CLONE_NEWUTS | k.CLONE_NEWPID)
            k.sethostname(hostname)
            pid_one = k.fork()                    # born in the shim's cgroup
            if pid_one == 0:
                try:
                    k.execvp(argv[0], argv)
                finally:
                    k._exit(127)
            _, status = k.waitpid(pid_one, 0)
            k._exit(k.waitstatus_to_exitcode(status))
        finally:
            k._exit(125)
    _, status = k.waitpid(shim, 0)
    k.rmdir(cgroup)                               # empty now: everything in it has ended
    return k.waitstatus_to_exitcode(status)

check("08.7", run)
'''

register(
    Exercise(
        "08.7", N_("level 5: a cgroup with a limit"), CGROUP_STUB, CGROUP_SOLUTION, check_cgroup
    )
)
