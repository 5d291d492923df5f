"""Notebook 01's `unshare` lab: the command-line tool that makes a container by hand.

`unshare` (util-linux) calls unshare(2) with one flag per option and then runs a program in
the new namespaces, which is most of what `docker run` does before it switches the root.
The lab runs the real tool, with a user namespace first (`--user --map-root-user`) so that
it works for an ordinary user too, and shows what the shell inside printed. Where the probe
says no, or `unshare` is not installed, it shows the output of the same command recorded on
Debian 12, labelled.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass
from typing import ClassVar

from .kernel.probe import missing
from .kernel.result import LiveResult, fact, live_world

__all__ = ["UNSHARE", "SCRIPT", "UnshareRun", "unshare_run"]

#: One option per namespace; --fork + --mount-proc give the new PID namespace its own /proc,
#: --kill-child stops the shell if unshare itself is stopped (a timeout, Ctrl-C).
UNSHARE = (
    "unshare", "--user", "--map-root-user", "--uts", "--pid", "--fork", "--kill-child",
    "--mount", "--mount-proc", "--net", "--ipc",
)  # fmt: skip
#: What the shell inside does: rename the host, list processes, say who it is.
SCRIPT = "hostname box; hostname; ps -o pid,comm; id -u"
RECORDED = "box\n    PID COMMAND\n      1 sh\n      4 ps\n0\n"
NEEDS = ("user_namespaces", "uts_namespace", "pid_namespace", "mount_namespace")
NEEDS += ("net_namespace", "ipc_namespace")


def command_line() -> str:
    return shlex.join([*UNSHARE, "sh", "-c", SCRIPT])


@dataclass(frozen=True, kw_only=True)
class UnshareRun(LiveResult):
    """The command, and what the shell in the new namespaces printed."""

    command: str = fact("command", simulated=command_line())
    output: str = fact("output", simulated=RECORDED)
    returncode: int = fact("exit status", simulated=0)
    title: ClassVar[str] = "unshare: a container by hand"
    lesson: ClassVar[str] = (
        "The shell renamed its own copy of the hostname, is PID 1 of its own PID namespace, "
        "and is root (uid 0) in its own user namespace."
    )

    def __str__(self) -> str:
        """The command, then what it printed, one `|` line each, as a terminal would show it."""
        lines = [self._header(), f"  $ {self.command}"]
        lines += [f"  | {line}" for line in self.output.splitlines()]
        lines += [f"  exit status: {self.returncode}", self.lesson]
        return "\n".join(lines)


def unshare_run(timeout: float = 10.0) -> UnshareRun:
    """Run `unshare ... sh -c SCRIPT` for real when allowed, else show the recorded run."""
    reason = missing(*NEEDS)
    if reason is None and not (shutil.which("unshare") and shutil.which("ps")):
        reason = "the unshare and ps programs are needed (Debian: util-linux, procps)"
    if reason is not None:
        return UnshareRun.simulated(reason)
    done = subprocess.run(
        [*UNSHARE, "sh", "-c", SCRIPT],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        why = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        return UnshareRun.simulated(f"the live attempt failed: {why}")
    return UnshareRun(
        live=True,
        world=live_world(),
        command=command_line(),
        output=done.stdout,
        returncode=done.returncode,
    )
