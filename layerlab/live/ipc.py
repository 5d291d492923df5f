"""Notebook 01's IPC lab: a System V message queue that only its own IPC namespace can see.

Processes talk through System V IPC objects (message queues, semaphores, shared memory)
found by a numeric *key*: anyone who knows the key can open the object. An IPC namespace
gives a container its own table of keys, so a database in one container cannot open the
shared memory of another by guessing its key. (`docker run --ipc=host` turns that off.)

The lab creates a queue with a fixed key inside a new IPC namespace and lists the queues
(`/proc/sysvipc/msg`, which shows the reader's own namespace) from inside and, through a
witness process that stayed outside, from the host. Nothing needs cleaning up: when the
last process of an IPC namespace exits, the kernel destroys every object in it, and the lab
checks that the host never saw the queue.
"""

from __future__ import annotations

import ctypes
import errno
from dataclasses import dataclass
from typing import ClassVar

from .kernel.child import Witness, run
from .kernel.probe import run_live
from .kernel.result import LiveError, LiveResult, fact, live_world

__all__ = ["KEY", "IpcIsolation", "ipc_isolation"]

#: The queue's key: "llab" in ASCII, printed in hex as /proc/sysvipc/msg lists it.
KEY = 0x6C6C6162
IPC_CREAT = 0o1000


def queue_keys() -> set[int]:
    """Keys of the message queues this process's IPC namespace holds."""
    try:
        with open("/proc/sysvipc/msg") as table:
            rows = table.read().splitlines()[1:]  # the first line is the header
    except FileNotFoundError:
        return set()
    return {int(row.split()[0]) for row in rows if row.strip()}


def create_queue(key: int) -> None:
    """msgget(key, IPC_CREAT | 0600): make the queue, as a program inside would."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.msgget(ctypes.c_int(key), ctypes.c_int(IPC_CREAT | 0o600)) == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"msgget failed: {errno.errorcode.get(err, err)}")


@dataclass(frozen=True, kw_only=True)
class IpcIsolation(LiveResult):
    """Who sees a message queue made inside a new IPC namespace."""

    inside_sees_queue: bool = fact(f"key {KEY:#x} visible inside", simulated=True)
    host_sees_queue: bool = fact("visible to the host at the same time", simulated=False)
    left_on_host: bool = fact("left on the host after the namespace ended", simulated=False)
    title: ClassVar[str] = "IPC namespace: a System V message queue"
    lesson: ClassVar[str] = (
        "System V IPC objects are found by key; a new IPC namespace has its own keys, "
        "and its objects die with it."
    )


def ipc_isolation() -> IpcIsolation:
    """Create a queue inside a new IPC namespace; a witness outside looks for its key."""

    def live() -> IpcIsolation:
        if KEY in queue_keys():  # then we could not tell whose queue a witness sees
            raise LiveError(f"the host already has a message queue with key {KEY:#x}")
        witness = Witness(lambda: KEY in queue_keys())

        def inside() -> tuple[bool, bool]:
            create_queue(KEY)
            return KEY in queue_keys(), witness.ask()

        seen, host_saw = run(inside, namespaces=["ipc"], user=None, setup=witness.start)
        return IpcIsolation(
            live=True,
            world=live_world(),
            inside_sees_queue=seen,
            host_sees_queue=host_saw,
            left_on_host=KEY in queue_keys(),
        )

    return run_live(["ipc_namespace"], live, IpcIsolation.simulated)
