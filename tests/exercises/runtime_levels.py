"""Answers to notebook 08's runtime levels (08.3-08.5), wrong and right, for test_ex08.py.

Each mutant is a `run(k, argv, ...)` a learner could plausibly write, with one line saying
which misconception it holds; the key is the reason of the hint it must get.
"""

from __future__ import annotations


def _exec_or_127(k, argv):
    try:
        k.execvp(argv[0], argv)
    finally:
        k._exit(127)


def _fork_exec(k, argv, before=lambda k: None):
    pid = k.fork()
    if pid == 0:
        before(k)
        _exec_or_127(k, argv)
    return pid


def _exit_code(k, pid):
    return k.waitstatus_to_exitcode(k.waitpid(pid, 0)[1])


# -- 08.3 fork and exec ------------------------------------------------------------------------
def exec_without_fork(k, argv):
    """Thinks exec starts a new process beside the runtime."""
    k.execvp(argv[0], argv)


def no_wait(k, argv):
    """Thinks the command has finished once fork returns."""
    _fork_exec(k, argv)
    return 0


def raw_status(k, argv):
    """Takes waitpid's status for the exit code."""
    return k.waitpid(_fork_exec(k, argv), 0)[1]


def wait_tuple(k, argv):
    """Returns what waitpid returns."""
    return k.waitpid(_fork_exec(k, argv), 0)


def exec_may_return(k, argv):
    """Thinks exec cannot fail: a child whose exec raises runs on into the runtime's code."""
    pid = k.fork()
    if pid == 0:
        k.execvp(argv[0], argv)
    return _exit_code(k, pid)


def failure_is_success(k, argv):
    """Ends a child whose exec failed with 0, so 'not found' looks like success."""
    pid = k.fork()
    if pid == 0:
        try:
            k.execvp(argv[0], argv)
        except OSError:
            k._exit(0)
    return _exit_code(k, pid)


def runtime_exits(k, argv):
    """Ends the runtime the way the child ends, instead of returning."""
    k._exit(_exit_code(k, _fork_exec(k, argv)))


def fork_is_enough(k, argv):
    """Thinks the forked child is already the command."""
    pid = k.fork()
    if pid == 0:
        k._exit(0)
    return _exit_code(k, pid)


def ignores_the_code(k, argv):
    """Waits, but reports success whatever the command did."""
    _exit_code(k, _fork_exec(k, argv))
    return 0


def forks_with_except(k, argv):
    """Right: except OSError instead of finally, and the full path with execv."""
    pid = k.fork()
    if pid == 0:
        try:
            k.execv(argv[0], argv)
        except OSError:
            k._exit(127)
    _, status = k.waitpid(pid, 0)
    return status >> 8  # WEXITSTATUS by hand: the command was not killed by a signal


def waits_for_any_child(k, argv):
    """Right: waits with -1 (any child), the runtime has only this one."""
    _fork_exec(k, argv)
    _, status = k.waitpid(-1, 0)
    return k.waitstatus_to_exitcode(status)


# -- 08.4 a hostname of its own ----------------------------------------------------------------
def _uts_run(k, argv, before, after=lambda k: None):
    pid = _fork_exec(k, argv, before)
    after(k)
    return _exit_code(k, pid)


def sets_without_unshare(k, argv, hostname):
    """Thinks a forked child already has a hostname of its own."""
    return _uts_run(k, argv, lambda k: k.sethostname(hostname))


def sets_then_unshares(k, argv, hostname):
    """Sets the name first, then unshares: the host was renamed already."""
    return _uts_run(k, argv, lambda k: (k.sethostname(hostname), k.unshare(k.CLONE_NEWUTS)))


def runtime_unshares(k, argv, hostname):
    """Unshares in the runtime before fork: the runtime itself leaves the host's namespace."""
    k.unshare(k.CLONE_NEWUTS)
    return _uts_run(k, argv, lambda k: k.sethostname(hostname))


def unshare_only(k, argv, hostname):
    """Thinks a new UTS namespace comes with the container's name."""
    return _uts_run(k, argv, lambda k: k.unshare(k.CLONE_NEWUTS))


def hard_coded_name(k, argv, hostname):
    """Names every container the same."""
    return _uts_run(k, argv, lambda k: (k.unshare(k.CLONE_NEWUTS), k.sethostname("container")))


def uts_raw_status(k, argv, hostname):
    """Right namespace, but still returns the wait status."""
    pid = _fork_exec(k, argv, lambda k: (k.unshare(k.CLONE_NEWUTS), k.sethostname(hostname)))
    return k.waitpid(pid, 0)[1]


def hostname_as_bytes(k, argv, hostname):
    """Right: sethostname takes bytes too."""
    return _uts_run(
        k, argv, lambda k: (k.unshare(k.CLONE_NEWUTS), k.sethostname(hostname.encode()))
    )


def uts_with_except(k, argv, hostname):
    """Right: the namespace work inside the child, exec failure handled with except."""
    pid = k.fork()
    if pid == 0:
        try:
            k.unshare(k.CLONE_NEWUTS)
            k.sethostname(hostname)
            k.execvp(argv[0], argv)
        except OSError:
            k._exit(127)
    return k.waitstatus_to_exitcode(k.waitpid(pid, 0)[1])


# -- 08.5 PID 1 --------------------------------------------------------------------------------
def _named(hostname):
    return lambda k: (k.unshare(k.CLONE_NEWUTS | k.CLONE_NEWPID), k.sethostname(hostname))


def unshare_then_exec(k, argv, hostname):
    """Thinks unshare(CLONE_NEWPID) makes the caller PID 1."""
    return _uts_run(k, argv, _named(hostname))


def runtime_unshares_pid(k, argv, hostname):
    """Unshares the PID namespace in the runtime: right PID 1, but the runtime is caught too."""
    k.unshare(k.CLONE_NEWPID)
    pid = _fork_exec(k, argv, lambda k: (k.unshare(k.CLONE_NEWUTS), k.sethostname(hostname)))
    return _exit_code(k, pid)


def no_pid_namespace(k, argv, hostname):
    """Level 2's answer as it was: the command keeps a PID of the host's."""
    return uts_with_except(k, argv, hostname)


def _shim(k, argv, hostname, finish):
    shim = k.fork()
    if shim == 0:
        _named(hostname)(k)
        finish(k, _fork_exec(k, argv))
    return _exit_code(k, shim)


def shim_does_not_wait(k, argv, hostname):
    """The shim ends as soon as PID 1 is forked, leaving it to nobody."""
    return _shim(k, argv, hostname, lambda k, pid: k._exit(0))


def shim_exits_with_status(k, argv, hostname):
    """The shim passes on the raw wait status, which _exit cuts to its low byte."""
    return _shim(k, argv, hostname, lambda k, pid: k._exit(k.waitpid(pid, 0)[1]))


def shim_returns(k, argv, hostname):
    """The shim waits, then returns: it runs on into the runtime's code."""
    return _shim(k, argv, hostname, lambda k, pid: k.waitpid(pid, 0))


def pid_one_sets_the_name(k, argv, hostname):
    """Right: the shim unshares the PID namespace only; PID 1 makes its own UTS namespace."""
    shim = k.fork()
    if shim == 0:
        k.unshare(k.CLONE_NEWPID)
        pid_one = _fork_exec(
            k, argv, lambda k: (k.unshare(k.CLONE_NEWUTS), k.sethostname(hostname))
        )
        k._exit(_exit_code(k, pid_one))
    return _exit_code(k, shim)


def shim_reaps_everything(k, argv, hostname):
    """Right: the shim waits for any child until none is left, as a subreaper would."""
    shim = k.fork()
    if shim == 0:
        code = 125
        try:
            _named(hostname)(k)
            pid_one = _fork_exec(k, argv)
            while True:
                pid, status = k.waitpid(-1, 0)
                if pid == pid_one:
                    code = k.waitstatus_to_exitcode(status)
        except ChildProcessError:
            pass
        finally:
            k._exit(code)
    return _exit_code(k, shim)


WRONG = {
    "08.3": {
        "runtime-replaced": exec_without_fork,
        "no-wait": no_wait,
        "raw-status": raw_status,
        "wait-tuple": wait_tuple,
        "child-returned": exec_may_return,
        "missing-is-success": failure_is_success,
        "runtime-exited": runtime_exits,
        "no-exec": fork_is_enough,
        "exit-code": ignores_the_code,
    },
    "08.4": {
        "host-renamed": sets_without_unshare,
        "set-before-unshare": sets_then_unshares,
        "runtime-moved": runtime_unshares,
        "not-set": unshare_only,
        "wrong-hostname": hard_coded_name,
        "raw-status": uts_raw_status,
    },
    "08.5": {
        "unshare-moves-children": unshare_then_exec,
        "runtime-pid-ns": runtime_unshares_pid,
        "not-pid-1": no_pid_namespace,
        "no-wait": shim_does_not_wait,
        "exit-code": shim_exits_with_status,
        "child-returned": shim_returns,
    },
}
RIGHT = {
    "08.3": [forks_with_except, waits_for_any_child],
    "08.4": [hostname_as_bytes, uts_with_except],
    "08.5": [pid_one_sets_the_name, shim_reaps_everything],
}
