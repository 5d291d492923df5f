"""Answers to notebook 08's runtime level 5, 08.7 a cgroup with a limit, wrong and right.

Each mutant is a `run(k, argv, hostname, cgroup, limit)` a learner could plausibly write,
with one line saying which misconception it holds; the key is the reason of its hint.
"""

from __future__ import annotations


def _runtime(k, argv, hostname, cgroup, limit, *, limit_text=None, join="shim", remove=True,
             pid_ns=True):  # fmt: skip
    """Level 5's runtime with one step changed (join: runtime, shim, pid1 or never)."""
    k.mkdir(cgroup)
    if limit_text != "":
        k.write_file(f"{cgroup}/pids.max", limit_text or str(limit))
    if join == "runtime":
        k.write_file(f"{cgroup}/cgroup.procs", "0")
    shim = k.fork()
    if shim == 0:
        try:
            if join == "shim":
                k.write_file(f"{cgroup}/cgroup.procs", "0")
            k.unshare(k.CLONE_NEWUTS | (k.CLONE_NEWPID if pid_ns else 0))
            k.sethostname(hostname)
            pid_one = k.fork()
            if pid_one == 0:
                try:
                    if join == "pid1":
                        k.write_file(f"{cgroup}/cgroup.procs", str(k.getpid()))
                    k.execvp(argv[0], argv)
                finally:
                    k._exit(127)
            _, status = k.waitpid(pid_one, 0)
            k._exit(k.waitstatus_to_exitcode(status))
        finally:
            k._exit(125)
    _, status = k.waitpid(shim, 0)
    if remove:
        k.rmdir(cgroup)
    return k.waitstatus_to_exitcode(status)


def runtime_joins(k, argv, hostname, cgroup, limit):
    """Joins the cgroup in the runtime, thinking the children it forks later are what moves."""
    return _runtime(k, argv, hostname, cgroup, limit, join="runtime")


def never_joins(k, argv, hostname, cgroup, limit):
    """Thinks making the cgroup and writing its limit puts the container in it."""
    return _runtime(k, argv, hostname, cgroup, limit, join="never")


def no_limit(k, argv, hostname, cgroup, limit):
    """Thinks a new cgroup comes with a limit of its own."""
    return _runtime(k, argv, hostname, cgroup, limit, limit_text="")


def same_limit_for_all(k, argv, hostname, cgroup, limit):
    """Gives every container the same limit, not the one it asked for."""
    return _runtime(k, argv, hostname, cgroup, limit, limit_text="10")


def leaves_the_cgroup(k, argv, hostname, cgroup, limit):
    """Thinks the kernel removes a cgroup once its last process has ended."""
    return _runtime(k, argv, hostname, cgroup, limit, remove=False)


def no_pid_namespace(k, argv, hostname, cgroup, limit):
    """Adds the cgroup to level 2's runtime: the command is not PID 1."""
    return _runtime(k, argv, hostname, cgroup, limit, pid_ns=False)


WRONG = {
    "08.7": {
        "runtime-joined": runtime_joins,
        "not-joined": never_joins,
        "no-limit": no_limit,
        "wrong-limit": same_limit_for_all,
        "cgroup-left": leaves_the_cgroup,
        "not-pid-1": no_pid_namespace,
    }
}


def pid_one_joins(k, argv, hostname, cgroup, limit):
    """PID 1 moves itself by its PID (1, in its own namespace), right before exec."""
    return _runtime(k, argv, hostname, cgroup, limit, join="pid1")


def limit_as_bytes_after_the_fork(k, argv, hostname, cgroup, limit):
    """Writes the limit as bytes, from the shim once it is inside; removes the cgroup last."""
    k.mkdir(cgroup)
    shim = k.fork()
    if shim == 0:
        try:
            k.write_file(cgroup + "/cgroup.procs", b"0\n")
            k.write_file(cgroup + "/pids.max", b"%d\n" % limit)
            k.unshare(k.CLONE_NEWPID | k.CLONE_NEWUTS)
            k.sethostname(hostname)
            child = k.fork()
            if not child:
                try:
                    k.execvp(argv[0], argv)
                finally:
                    k._exit(127)
            k._exit(k.waitstatus_to_exitcode(k.waitpid(child, 0)[1]))
        finally:
            k._exit(125)
    code = k.waitstatus_to_exitcode(k.waitpid(shim, 0)[1])
    k.rmdir(cgroup)
    return code


RIGHT = {"08.7": [pid_one_joins, limit_as_bytes_after_the_fork]}
