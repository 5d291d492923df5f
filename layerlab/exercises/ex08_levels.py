"""Notebook 08's build-your-own-runtime levels: the learner writes `run(k, argv, ...)`, one
step of a runtime more at each level, and the check runs it and looks at what happened.

08.3 fork and exec; 08.4 a new UTS namespace and its hostname; 08.5 a PID namespace where
the command is PID 1. Each check runs the answer as the runtime process of a sandbox on
the live kernel where the probe allows it (`sandbox.py`), else on the simulated kernel
(`kernels.py`), on hand-picked cases plus seeded generated ones: a command that exits 3,
one that exits 0, generated exit codes and hostnames, and a command that does not exist.
The command is a probe that reports its PID, hostname and namespaces as it sees them. The
hints come from those observations only, so they are the same live and simulated.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import host
from ..i18n import N_, _
from .framework import Exercise, NotSolved, Wrong, register, require_function
from .kernels import HOST_NAME, Observed, simulate

__all__ = ["level_cases", "observe"]

TIMEOUT = 10.0  # seconds a level's run() may take before the sandbox is stopped
SIM_PROBE = "/usr/bin/layerlab-probe"
MISSING = "/no/such/command"


@dataclass(frozen=True)
class Case:
    code: int | None  # the exit code the command ends with; None: it does not exist
    hostname: str


def level_cases(exercise_id: str, count: int = 2) -> list[Case]:
    """The hand-picked cases, then generated ones (seeded), then a command not found."""
    rng = random.Random(exercise_id)
    generated = [
        Case(rng.randrange(4, 120), f"{rng.choice(('web', 'db', 'job'))}-{rng.randrange(100)}")
        for _n in range(count)
    ]
    return [Case(3, "box"), Case(0, "web-1"), *generated, Case(None, "ghost")]


def _live_features() -> list[str]:

    needs = ["uts_namespace", "pid_namespace"]
    rootless = host.euid() != 0
    return needs + (["user_namespaces"] if rootless else [])


def observe(answer: Callable[..., Any], case: Case, with_hostname: bool) -> Observed:
    """Run `answer` as the runtime for one case: live if the probe allows, else simulated."""
    from ..live import probe

    def args(argv: list[str]) -> list[Any]:
        return [argv, case.hostname] if with_hostname else [argv]

    def live() -> Observed:
        from .sandbox import live_observe, probe_argv

        def make_args(fd: int) -> list[Any]:
            return args([MISSING] if case.code is None else probe_argv(case.code, fd))

        return live_observe(answer, make_args, TIMEOUT)

    def simulated(_reason: str) -> Observed:
        argv = [MISSING] if case.code is None else [SIM_PROBE, str(case.code)]
        return simulate(answer, args(argv), {SIM_PROBE: case.code or 0})

    return probe.run_live(_live_features(), live, simulated)


# -- judging: from what was observed, never from which world it was observed in --------------


def _judge_process(seen: Observed) -> None:
    """Level 1: fork, exec in the child, wait in the parent, and nothing else runs twice."""
    if seen.runtime == "hung":
        raise Wrong(
            "hung",
            _(
                "run() did not finish within {timeout:g} s, so it was stopped: does it wait for "
                "a process that never ends (k.waitpid(-1, 0) in the child?), or loop forever?"
            ).format(timeout=TIMEOUT),
        )
    if seen.escaped:
        if seen.escaped == "raised":
            hint = _(
                "a process you forked raised back out of run(), so the runtime's code "
                "ran twice. After fork() the child must end: in exec, or in k._exit(...) when "
                "exec fails (then it raises, as os.execvp does)."
            )
        else:
            hint = _(
                "a process you forked returned back out of run(), so the runtime's code "
                "ran twice. After fork() the child must end: in exec, or in k._exit(...) when "
                "exec fails (then it raises, as os.execvp does)."
            )
        raise Wrong("child-returned", hint)
    if seen.runtime == "replaced":
        raise Wrong(
            "runtime-replaced",
            _(
                "exec replaced the runtime itself: nothing was left to wait for the command and "
                "report its exit code. fork() first; the child (pid == 0) execs, the parent "
                "waits."
            ),
        )
    if seen.runtime == "exited":
        raise Wrong(
            "runtime-exited",
            _(
                "the runtime itself called _exit, so run() never returned: only the child ends "
                "that way. The runtime returns the command's exit code."
            ),
        )
    value = seen.value
    if isinstance(value, tuple) and value[:1] == ("unsolved",):
        raise NotSolved()
    if isinstance(value, tuple) and value[:1] == ("wrong",):
        raise Wrong(value[1], value[2])
    if seen.unreaped:
        raise Wrong(
            "no-wait",
            _(
                "run() returned while a process it forked was never waited for: it may still "
                "run, and when it ends it stays a zombie. k.waitpid(pid, 0) waits for it and "
                "gives its status."
            ),
        )


def _judge_code(seen: Observed, case: Case) -> None:
    value = seen.value
    if case.code is None:
        if value == 0:
            raise Wrong(
                "missing-is-success",
                _(
                    "{missing} does not exist, yet run() reported success (0): a child whose "
                    "exec fails must exit non-zero, as docker run does with 127."
                ).format(missing=MISSING),
            )
        if not isinstance(value, int):
            raise Wrong(
                "exit-code",
                _("run() returned {value!r}; return the exit code, an int.").format(value=value),
            )
        return
    if isinstance(value, tuple) and len(value) == 2:
        raise Wrong(
            "wait-tuple",
            _(
                "run() returned what waitpid returns, (pid, status): return the command's exit "
                "code, k.waitstatus_to_exitcode(status)."
            ),
        )
    if case.code and value == case.code << 8:
        raise Wrong(
            "raw-status",
            _(
                "the command exited with {code}, and run() returned {value}: the wait "
                "status, where the exit code sits in the second byte. "
                "k.waitstatus_to_exitcode(status) takes it out."
            ).format(code=case.code, value=value),
        )
    if value != case.code:
        raise Wrong(
            "exit-code",
            _(
                "the command exited with {code}, but run() returned {value!r}: pass the "
                "command's exit code up to the runtime, and return it."
            ).format(code=case.code, value=value),
        )


def _judge_hostname(seen: Observed, case: Case) -> None:
    """Level 2: the command has its own hostname, and the host keeps its own."""
    if seen.runtime_uts_moved:
        raise Wrong(
            "runtime-moved",
            _(
                "the runtime itself left the host's UTS namespace. unshare() moves the process "
                "that calls it: call it in the child, after fork, so only the container moves."
            ),
        )
    inside = seen.ran[0]
    if seen.host_hostname != HOST_NAME:
        if inside.new_uts:
            raise Wrong(
                "set-before-unshare",
                _(
                    "the host was renamed: sethostname() changes the UTS namespace the process "
                    "is in at that moment. unshare(k.CLONE_NEWUTS) first, then sethostname()."
                ),
            )
        raise Wrong(
            "host-renamed",
            _(
                "the host is now called {name!r}: the child shares the host's "
                "UTS namespace until it calls k.unshare(k.CLONE_NEWUTS), so its sethostname "
                "renamed the host."
            ).format(name=seen.host_hostname),
        )
    if inside.hostname == HOST_NAME:
        raise Wrong(
            "not-set",
            _(
                "inside, the command still sees the host's name: a new UTS namespace starts "
                "with a copy of it. Set the container's with k.sethostname(hostname)."
            ),
        )
    if inside.hostname != case.hostname:
        raise Wrong(
            "wrong-hostname",
            _(
                "inside, the hostname is {inside!r}, but this container asked for "
                "{wanted!r}: use the hostname argument."
            ).format(inside=inside.hostname, wanted=case.hostname),
        )


def _judge_pid_one(seen: Observed) -> None:
    """Level 3: the command is PID 1 of a new PID namespace, and the runtime stays out."""
    if seen.runtime_pid_moved:
        raise Wrong(
            "runtime-pid-ns",
            _(
                "the runtime itself called unshare(CLONE_NEWPID): every child it forks from now "
                "on lands in the container's PID namespace, and once PID 1 has exited the "
                "kernel refuses it any fork (ENOMEM). Unshare in a child, the shim, and fork "
                "PID 1 there."
            ),
        )
    inside = seen.ran[0]
    if inside.pid == 1:
        return
    if inside.new_pid_for_children:
        raise Wrong(
            "unshare-moves-children",
            _(
                "the command runs in the process that called unshare(CLONE_NEWPID), and that "
                "process stays where it was: only children forked after unshare enter the new "
                "PID namespace. Fork once more after unshare, and exec in that child: PID 1."
            ),
        )
    raise Wrong(
        "not-pid-1",
        _(
            "the command is not PID 1: it needs a PID namespace of its own. In a child, "
            "k.unshare(k.CLONE_NEWPID), then fork again: that child is PID 1."
        ),
    )


def _checker(exercise_id: str, with_hostname: bool, pid_one: bool, done: str) -> Callable:
    def check(answer: object) -> str:
        require_function(answer, "run")
        for case in level_cases(exercise_id):
            seen = observe(answer, case, with_hostname)
            _judge_process(seen)
            if case.code is not None and not seen.ran:
                if seen.value is None or seen.value is Ellipsis:
                    raise NotSolved()
                raise Wrong(
                    "no-exec",
                    _(
                        "the command never ran: the child must replace itself with it, "
                        "k.execvp(argv[0], argv)."
                    ),
                )
            if seen.ran and with_hostname:
                _judge_hostname(seen, case)
            if seen.ran and pid_one:
                _judge_pid_one(seen)
            _judge_code(seen, case)
        return _(done)

    return check


FORK_STUB = '''
def run(k, argv):
    """Start the command argv as a new process, wait for it, return its exit code.
    k has the os module's calls: k.fork(), k.execvp(file, args), k.waitpid(pid, 0),
    k.waitstatus_to_exitcode(status), k._exit(code)."""
    ...  # YOUR CODE HERE

check("08.3", run)
'''

FORK_SOLUTION = '''
def run(k, argv):
    """Start the command argv as a new process, wait for it, return its exit code.
    k has the os module's calls: k.fork(), k.execvp(file, args), k.waitpid(pid, 0),
    k.waitstatus_to_exitcode(status), k._exit(code)."""
    pid = k.fork()
    if pid == 0:                          # the child: become the command
        try:
            k.execvp(argv[0], argv)       # returns only if it failed ...
        finally:
            k._exit(127)                  # ... then end here, with docker run's 127
    _, status = k.waitpid(pid, 0)         # the runtime: wait for the command to end
    return k.waitstatus_to_exitcode(status)

check("08.3", run)
'''

UTS_STUB = '''
def run(k, argv, hostname):
    """As level 1, and the command sees `hostname`, while the host keeps its own name.
    New calls: k.unshare(k.CLONE_NEWUTS), k.sethostname(name)."""
    ...  # YOUR CODE HERE

check("08.4", run)
'''

UTS_SOLUTION = '''
def run(k, argv, hostname):
    """As level 1, and the command sees `hostname`, while the host keeps its own name.
    New calls: k.unshare(k.CLONE_NEWUTS), k.sethostname(name)."""
    pid = k.fork()
    if pid == 0:
        try:
            k.unshare(k.CLONE_NEWUTS)     # a UTS namespace of its own (a copy of the host's)
            k.sethostname(hostname)       # renames only that copy
            k.execvp(argv[0], argv)
        finally:
            k._exit(127)
    _, status = k.waitpid(pid, 0)
    return k.waitstatus_to_exitcode(status)

check("08.4", run)
'''

PID_STUB = '''
def run(k, argv, hostname):
    """As level 2, and the command is PID 1 of a new PID namespace.
    New: k.CLONE_NEWPID (flags combine with |)."""
    ...  # YOUR CODE HERE

check("08.5", run)
'''

PID_SOLUTION = '''
def run(k, argv, hostname):
    """As level 2, and the command is PID 1 of a new PID namespace.
    New: k.CLONE_NEWPID (flags combine with |)."""
    shim = k.fork()
    if shim == 0:                         # the shim: stays outside the container, waits
        try:
            k.unshare(k.CLONE_NEWUTS | k.CLONE_NEWPID)
            k.sethostname(hostname)
            pid_one = k.fork()            # the first child in the new PID namespace
            if pid_one == 0:
                try:
                    k.execvp(argv[0], argv)   # the command becomes PID 1
                finally:
                    k._exit(127)
            _, status = k.waitpid(pid_one, 0)
            k._exit(k.waitstatus_to_exitcode(status))  # end as PID 1 ended
        finally:
            k._exit(125)
    _, status = k.waitpid(shim, 0)
    return k.waitstatus_to_exitcode(status)

check("08.5", run)
'''

LEVELS: Sequence[Exercise] = (
    Exercise(
        "08.3", N_("level 1: fork and exec"), FORK_STUB, FORK_SOLUTION,
        _checker("08.3", False, False,
                 N_("fork made a child, the child became the command with exec, the runtime "
                    "waited and returned its exit code: the first thing every runtime does.")),
    ),
    Exercise(
        "08.4", N_("level 2: a hostname of its own"), UTS_STUB, UTS_SOLUTION,
        _checker("08.4", True, False,
                 N_("the command saw the container's hostname and the host kept its own: "
                    "unshare(CLONE_NEWUTS) in the child gave it a copy of the host's UTS "
                    "namespace to rename.")),
    ),
    Exercise(
        "08.5", N_("level 3: PID 1"), PID_STUB, PID_SOLUTION,
        _checker("08.5", True, True,
                 N_("the command was PID 1 of its own PID namespace, with the container's "
                    "hostname: the shim unshared, forked PID 1, waited, and passed its exit "
                    "code on, as containerd-shim does.")),
    ),
)  # fmt: skip
register(*LEVELS)
