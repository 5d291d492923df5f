"""Exercises of notebook 08, the capstone: the order of a runtime's steps, committing only
what you mean, and (in ex08_levels) a runtime of your own, written level by level.

08.1 replays the learner's order on a model of what each step needs (a namespace before a
mount, the rootfs before pivot_root, everything before exec), with the kernel's reason when
a step would fail or harm the host. 08.2 judges the layer a commit produced.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..commit import CommitResult
from ..container import Container
from ..i18n import N_, _
from ..samples import busybox_image
from .framework import Exercise, NotSolved, Wrong, attempt, register
from .judging import (
    as_items,
    require_image_untouched,
    require_no_collateral,
    snapshot,
    tar_paths,
    visible_state,
)

__all__ = ["RUNTIME_STEPS", "runtime_problem", "built_container", "SCRATCH"]

# -- 08.1 the runtime's steps in order -------------------------------------------------------
CREATE, UNSHARE, FORK, OVERLAY = (
    "create the cgroup with the limits",
    "unshare uts, pid, mnt, net and ipc",
    "fork PID 1",
    "mount the overlay rootfs",
)
PROC, JOIN, PIVOT, EXEC = (
    "mount /proc and /dev inside the rootfs",
    "join the cgroup",
    "pivot_root into the rootfs",
    "exec the command",
)
#: Every step of `layerlab.run`, in alphabetical order: the exercise is to order them.
RUNTIME_STEPS = tuple(sorted((CREATE, UNSHARE, FORK, OVERLAY, PROC, JOIN, PIVOT, EXEC)))

#: (step, step that must come before it, reason key, hint)
_BEFORE: tuple[tuple[str, str, str, str], ...] = (
    (
        OVERLAY,
        UNSHARE,
        "host-mount",
        N_(
            "the overlay would be mounted in the host's mount namespace, visible to every "
            "process and left behind: unshare first."
        ),
    ),
    (
        FORK,
        UNSHARE,
        "not-pid-1",
        N_(
            "unshare(CLONE_NEWPID) moves only children forked *after* it into the new PID "
            "namespace; a child forked before stays in the host's, and is not PID 1."
        ),
    ),
    (
        PROC,
        FORK,
        "proc-of-the-host",
        N_(
            "a /proc mounted before PID 1 exists is mounted by a process of the host's PID "
            "namespace: it would list the host's processes. Fork PID 1, then mount /proc."
        ),
    ),
    (
        PROC,
        OVERLAY,
        "no-rootfs-yet",
        N_("/proc and /dev are mounted *inside* the rootfs, so the overlay must be mounted first."),
    ),
    (
        PIVOT,
        OVERLAY,
        "pivot-before-mount",
        N_("pivot_root needs the new root to be a mount point: mount the overlay rootfs first."),
    ),
    (
        PIVOT,
        PROC,
        "proc-after-pivot",
        N_(
            "mount /proc before pivot_root: in a user namespace (rootless) the kernel allows a "
            "new proc mount only while a full /proc is still visible, and after pivot_root and "
            "unmounting the old root, none is."
        ),
    ),
    (
        PIVOT,
        JOIN,
        "join-after-pivot",
        N_(
            "after pivot_root the host's /sys/fs/cgroup is gone from the container's mount "
            "namespace, so it can no longer write its PID into the cgroup: join before."
        ),
    ),
    (
        JOIN,
        CREATE,
        "join-before-create",
        N_("a process can only join a cgroup that exists: create it (and write its limits) first."),
    ),
)


def runtime_problem(steps: Sequence[str]) -> tuple[str, str] | None:
    """(reason, hint) for the first rule `steps` breaks, or None if the order works.
    The hint is in the learner's language."""
    missing = [step for step in RUNTIME_STEPS if step not in steps]
    if missing:
        return "missing-step", _("a step is missing: {step!r}; every step is needed once.").format(
            step=missing[0]
        )
    if len(steps) != len(set(steps)):
        return "twice", _("each step happens once; one of yours appears twice.")
    if steps[-1] != EXEC:
        after = steps[steps.index(EXEC) + 1]
        return (
            "after-exec",
            _(
                "exec replaces the runtime's code with the command, so {step!r} would never "
                "happen: exec comes last."
            ).format(step=after),
        )
    for step, earlier, reason, hint in _BEFORE:
        if steps.index(earlier) > steps.index(step):
            return reason, _(hint)
    return None


def check_order(answer: object) -> str:
    if answer is None or answer is Ellipsis:
        raise NotSolved()
    items = as_items(answer, what=_("a list of the steps in RUNTIME_STEPS"), example="[...]")
    steps = [str(step) for step in items]
    unknown = [step for step in steps if step not in RUNTIME_STEPS]
    if unknown:
        raise Wrong(
            "unknown-step",
            _("{step!r} is not one of RUNTIME_STEPS; copy them exactly").format(step=unknown[0]),
        )
    problem = runtime_problem(steps)
    if problem is not None:
        raise Wrong(*problem)
    return _(
        "namespaces before the mounts that must stay inside them, PID 1 before its /proc, "
        "the rootfs before pivot_root, and exec last: the command becomes PID 1 of a "
        "container that is ready. layerlab.run joins the cgroup just before pivot_root, so "
        "that only the container's own work is charged to it."
    )


ORDER_STUB = """
from layerlab.exercises.ex08 import RUNTIME_STEPS

steps = ...  # YOUR CODE HERE: every step of RUNTIME_STEPS, in the order a runtime does them

check("08.1", steps)
"""

ORDER_SOLUTION = """
from layerlab.exercises.ex08 import RUNTIME_STEPS

steps = [
    "create the cgroup with the limits",        # by the runtime, outside the container
    "unshare uts, pid, mnt, net and ipc",       # the shim: new namespaces
    "fork PID 1",                               # its child is PID 1 of the new PID namespace
    "mount the overlay rootfs",                 # in the container's own mount namespace
    "mount /proc and /dev inside the rootfs",   # a /proc of the new PID namespace
    "join the cgroup",                          # from now on, everything is charged to it
    "pivot_root into the rootfs",               # the host's root is gone
    "exec the command",                         # the command becomes PID 1
]

check("08.1", steps)
"""


# -- 08.2 commit only what you mean ----------------------------------------------------------
#: Files a build leaves behind that no image should carry.
SCRATCH = ("/tmp/build.log", "/root/.ash_history")
SITE = "/srv/index.html"
SITE_TEXT = b"<h1>built in a container</h1>\n"


def built_container() -> Container:
    """A container after a build: the site it made, and the scratch files it left."""
    container = Container(busybox_image(), name="builder", hostname="builder")
    container.write(SITE, SITE_TEXT)
    container.write("/tmp/build.log", "building... done\n")
    container.write("/root/.ash_history", "vi /srv/index.html\nexit\n")
    return container


def check_clean_commit(solve: object) -> str:
    container = built_container()
    before = snapshot(container.image_layers)
    answer = attempt(solve, container)
    if answer is None or answer is Ellipsis:
        raise NotSolved()
    require_image_untouched(before, container)
    if not isinstance(answer, CommitResult):
        raise Wrong(
            "not-a-commit",
            _("return what container.commit(...) returns: the committed layer and image"),
        )
    changed = tar_paths(answer.tar)
    gone = sorted(p for p in ("/tmp", "/root", "/srv") if answer.image.view().lookup(p) is None)
    if gone:
        raise Wrong(
            "deleted-image-dir",
            _(
                "your commit deletes {path}, which the image provides: the new layer holds "
                "a whiteout for it, and every container of the new image loses {path}. "
                "Remove only the files the build made."
            ).format(path=gone[0]),
        )
    left = [path for path in SCRATCH if path in changed]
    if left:
        raise Wrong(
            "scratch-committed",
            _(
                "{path} is in the new layer: commit takes the whole rw layer, so whatever "
                "is still there when you commit ships with the image. Remove it first."
            ).format(path=left[0]),
        )
    view = answer.image.view()
    if view.lookup(SITE) is None or view.read(SITE) != SITE_TEXT:
        raise Wrong(
            "site-lost",
            _(
                "the new image must still hold the {path} the build made; remove only the "
                "leftovers."
            ).format(path=SITE),
        )
    expected = built_container()
    for path in SCRATCH:
        expected.unlink(path)
    require_no_collateral(visible_state(expected.commit().image), answer.image, set())
    return _(
        "the new layer holds {paths}: the site, and the directories it "
        "lives in. Scratch files removed before the commit never reach the image, and, "
        "made in the rw layer, they leave no whiteout either."
    ).format(paths=", ".join(sorted(changed)))


CLEAN_STUB = '''
def solve(container):
    """The container built a site; commit it without the build's scratch files.
    Return what container.commit(...) returns."""
    ...  # YOUR CODE HERE

check("08.2", solve)
'''

CLEAN_SOLUTION = '''
from layerlab.exercises.ex08 import SCRATCH

def solve(container):
    """The container built a site; commit it without the build's scratch files.
    Return what container.commit(...) returns."""
    for path in SCRATCH:              # /tmp/build.log and /root/.ash_history
        container.unlink(path)
    return container.commit(created_by="build the site")

check("08.2", solve)
'''

register(
    Exercise("08.1", N_("the runtime's steps in order"), ORDER_STUB, ORDER_SOLUTION, check_order),
    Exercise(
        "08.2", N_("commit only what you mean"), CLEAN_STUB, CLEAN_SOLUTION, check_clean_commit
    ),
)

# 08.3-08.5, 08.7 and 08.8, the runtime levels, register themselves
from . import ex08_cgroup, ex08_commit, ex08_levels, ex08_rootfs  # noqa: E402,F401
