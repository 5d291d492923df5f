"""Exercises of notebook 03, root filesystems: how a path resolves in a chroot (and so why
the escape works), and the steps that close the escape with pivot_root.

Both checkers judge outcomes: the host path a learner's resolver returns for a set of
cases, and what a sequence of steps would do to a model of the mount table
(`confinement`), using the kernel's rules for mount(2), pivot_root(2) and chroot(2).
"""

from __future__ import annotations

import posixpath
import random
from collections.abc import Sequence
from dataclasses import dataclass

from ..i18n import N_, _
from .framework import Exercise, NotSolved, Wrong, attempt, register
from .judging import as_items, as_text

__all__ = ["PATH_CASES", "STEPS", "Confinement", "confinement", "resolve"]


# -- 03.1 how a path resolves in a chroot --------------------------------------------------
def resolve(root: str, cwd: str, path: str) -> str:
    """The host path that `path` names for a process whose root is `root` and whose working
    directory is `cwd` (no symlinks). '..' stops only when the walk stands *on* the root."""
    here = root if path.startswith("/") else cwd
    for name in path.split("/"):
        if name in ("", "."):
            continue
        if name == "..":
            if here not in (root, "/"):
                here = posixpath.dirname(here)
        else:
            here = posixpath.join(here, name)
    return here


#: (root, cwd, path), each with its host path by `resolve`.
PATH_CASES: tuple[tuple[str, str, str], ...] = (
    ("/srv/box", "/srv/box", "/etc/passwd"),
    ("/srv/box", "/srv/box/tmp", "../etc/hostname"),
    ("/srv/box", "/srv/box/tmp", "./a/../b"),
    ("/srv/box", "/srv/box", "../../etc/shadow"),
    ("/srv/box/hatch", "/srv/box/hatch", "/bin/sh"),
    ("/srv/box/hatch", "/srv/box", "../../etc/shadow"),
    ("/", "/home/me", "../../../etc"),
    ("/srv/box", "/srv/box/tmp", "/etc/passwd"),  # absolute, from a cwd below the root
    ("/srv/box", "/srv/box/var/log", "/../etc//hosts"),  # '..' at the root, doubled '/'
    ("/srv/box", "/srv/box/tmp", "."),  # the cwd itself
)


def path_cases(count: int = 60, seed: str = "03.1") -> list[tuple[str, str, str]]:
    """The hand-picked cases, then generated ones (seeded): roots at any depth, working
    directories inside, at, above and beside the root, and paths of names, '.', '..' and
    doubled slashes."""
    rng = random.Random(seed)
    cases = list(PATH_CASES)
    names = ["a", "b", "etc", "..", "..", ".", ""]
    for _n in range(count):
        root = "/" + "/".join(rng.choice("xyz") for _n in range(rng.randint(0, 3)))
        where = rng.choice(["at", "below", "above", "beside"])
        if where == "at":
            cwd = root
        elif where == "below":
            cwd = posixpath.join(root, *(rng.choice("pq") for _n in range(rng.randint(1, 3))))
        elif where == "above":
            cwd = posixpath.dirname(root)
        else:
            cwd = posixpath.join(posixpath.dirname(root), "w")
        path = "/".join(rng.choice(names) for _n in range(rng.randint(1, 6))) or "."
        if rng.random() < 0.4:
            path = "/" + path
        cases.append((root, cwd, path))
    return cases


def _answer_path(answer: object) -> str:
    """The learner's path as text (str or PurePosixPath; stray whitespace, doubled or
    trailing slashes are harmless), refused if '.' or '..' is left in it."""
    text = as_text(answer)
    if not isinstance(text, str) or not text.startswith("/"):
        raise Wrong(
            "not-a-path",
            _(
                "return the host path as an absolute path like '/srv/box/etc', not {answer!r}"
            ).format(answer=answer),
        )
    names = [name for name in text.split("/") if name]
    if "." in names or ".." in names:
        raise Wrong(
            "unresolved",
            _(
                "{path} still holds '.' or '..': resolve them, one name at a time, as the "
                "kernel's walk does (that is where the root stops '..')."
            ).format(path=text),
        )
    return "/" + "/".join(names)


def check_resolve(solve: object) -> str:
    cases = path_cases()
    got = []
    for case in cases:
        answer = attempt(solve, *case, returns=True)
        if answer is None or answer is Ellipsis:
            raise NotSolved()
        got.append(_answer_path(answer))
    wrong = [i for i, case in enumerate(cases) if got[i] != resolve(*case)]
    if not wrong:
        return _(
            "'..' stops only when the walk stands on the process's root. After a second "
            "chroot into a subdirectory, the working directory is outside the new root, so "
            "no walk from it ever stands on the root: that is the whole escape."
        )
    root, cwd, path = cases[wrong[0]]
    expected = resolve(root, cwd, path)
    from_root = [
        i
        for i in wrong
        if not cases[i][2].startswith("/")
        and cases[i][0] != cases[i][1]
        and _inside(cases[i][1], cases[i][0])
        and got[i] == resolve(cases[i][0], cases[i][0], cases[i][2])
    ]
    if from_root:
        root, cwd, path = cases[from_root[0]]
        raise Wrong(
            "relative-from-root",
            _(
                "{path} from {cwd} is {result}: a relative path starts at the working directory."
            ).format(path=path, cwd=cwd, result=resolve(root, cwd, path)),
        )
    escapes = [i for i in wrong if not _inside(cases[i][1], cases[i][0])]
    if escapes and all(_inside(got[i], cases[i][0]) for i in escapes):
        root, cwd, path = cases[escapes[0]]
        raise Wrong(
            "clamped",
            _(
                "with root {root} and cwd {cwd}, {path} is {result}. The "
                "kernel does not keep a path below the root by its text: it stops '..' only "
                "when the walk stands on the root directory, and a walk that starts outside "
                "never does."
            ).format(root=root, cwd=cwd, path=path, result=resolve(root, cwd, path)),
        )
    if path.startswith("/") and root != cwd and got[wrong[0]] == resolve(cwd, cwd, path):
        raise Wrong(
            "absolute-from-cwd",
            _(
                "{path} with root {root} and cwd {cwd} is {result}: an absolute path starts "
                "at the process's root, whatever the working directory is."
            ).format(path=path, root=root, cwd=cwd, result=expected),
        )
    if path.startswith("/") and root != "/" and got[wrong[0]] == resolve("/", "/", path):
        raise Wrong(
            "absolute-from-host",
            _(
                "{path} with root {root} is {result}: in a chroot, an "
                "absolute path starts at the process's root, not at the host's '/'."
            ).format(path=path, root=root, result=expected),
        )
    inside = [i for i in wrong if _inside(cases[i][1], cases[i][0])]
    if inside:
        root, cwd, path = cases[inside[0]]
        raise Wrong(
            "no-stop",
            _(
                "with root {root}, {path} from {cwd} is {result}: '..' at the "
                "root stays at the root. That is what chroot promises a process that stays "
                "inside."
            ).format(root=root, path=path, cwd=cwd, result=resolve(root, cwd, path)),
        )
    raise Wrong(
        "mismatch",
        _("root {root}, cwd {cwd}, path {path}: expected {result}, you returned {got!r}.").format(
            root=root, cwd=cwd, path=path, result=expected, got=got[wrong[0]]
        ),
    )


def _inside(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root + "/")


RESOLVE_STUB = '''
def solve(root, cwd, path):
    """Return the host path that `path` names for a process whose root directory is
    `root` and whose working directory is `cwd`. There are no symlinks."""
    ...  # YOUR CODE HERE

check("03.1", solve)
'''

RESOLVE_SOLUTION = '''
import posixpath

def solve(root, cwd, path):
    """Return the host path that `path` names for a process whose root directory is
    `root` and whose working directory is `cwd`. There are no symlinks."""
    here = root if path.startswith("/") else cwd
    for name in path.split("/"):
        if name in ("", "."):
            continue
        if name == "..":
            if here != root and here != "/":    # '..' stops only ON the root
                here = posixpath.dirname(here)
        else:
            here = posixpath.join(here, name)
    return here

check("03.1", solve)
'''


# -- 03.2 the steps that close the escape ---------------------------------------------------
#: What a runtime may do, as shell commands, before it starts the container's program.
#: In alphabetical order: putting them in the right one is the exercise.
STEPS = tuple(
    sorted(
        (
            "unshare --mount",
            "mount --make-rprivate /",
            "mount --bind rootfs rootfs",
            "mkdir rootfs/.oldroot",
            "pivot_root rootfs rootfs/.oldroot",
            "umount -l /.oldroot",
            "chroot rootfs",
        )
    )
)


@dataclass(frozen=True)
class Confinement:
    """What a sequence of steps did: the first refusal, harm to the host, and whether the
    chroot escape (see `live.rootfs.climb_out`) would still reach the host's files."""

    error: str = ""
    host_changed: str = ""
    confined: bool = False
    host_reachable: bool = True

    def __str__(self) -> str:
        if self.error:
            return _("refused: {error}").format(error=_error(self.error))
        if self.host_changed:
            return _("the host was changed: {change}").format(change=_(self.host_changed))
        if not self.confined:
            return _("the program runs in the host's root: not confined at all")
        return _("escape reaches the host") if self.host_reachable else _("escape impossible")


def _error(error: str) -> str:
    """A refusal in the learner's language: the one with a step in it is composed."""
    step = error.removeprefix("unknown step ")
    return _("unknown step {step}").format(step=step) if step != error else _(error)


def confinement(steps: Sequence[str]) -> Confinement:
    """Apply `steps` to a model of a runtime process (root, with Docker's default
    capabilities, CAP_SYS_CHROOT among them) on a host whose "/" is a shared mount, as
    systemd makes it, and say what the chroot escape could reach afterwards."""
    own_ns = private = bind = oldroot_dir = pivoted = unmounted = chrooted = False
    for step in steps:
        if step == "unshare --mount":
            own_ns = True
        elif step == "mount --make-rprivate /":
            if not own_ns:
                return Confinement(host_changed=N_("every mount of the host is now private"))
            private = True
        elif step == "mount --bind rootfs rootfs":
            if not own_ns:
                return Confinement(
                    host_changed=N_("a bind mount appeared in the host's mount table")
                )
            if not private:
                return Confinement(
                    host_changed=N_("the bind mount propagated to the host's (shared) mounts")
                )
            bind = True
        elif step == "mkdir rootfs/.oldroot":
            oldroot_dir = True
        elif step == "pivot_root rootfs rootfs/.oldroot":
            if not own_ns:
                return Confinement(host_changed=N_("pivot_root swapped the root of the whole host"))
            if chrooted:
                return Confinement(error=N_("pivot_root: EINVAL (our root is not a mount point)"))
            if not private:
                return Confinement(error=N_("pivot_root: EINVAL (the mounts are shared)"))
            if not bind:
                return Confinement(error=N_("pivot_root: EINVAL (rootfs is not a mount point)"))
            if not oldroot_dir:
                return Confinement(error=N_("pivot_root: ENOENT (no rootfs/.oldroot)"))
            pivoted = True
        elif step == "umount -l /.oldroot":
            if not pivoted:
                return Confinement(error=N_("umount: /.oldroot: no mount point there"))
            unmounted = True
        elif step == "chroot rootfs":
            if pivoted:
                return Confinement(error=N_("chroot: rootfs: ENOENT (the host's paths are gone)"))
            chrooted = True
        else:
            return Confinement(error=f"unknown step {step!r}")
    confined = pivoted or chrooted
    return Confinement(confined=confined, host_reachable=not (pivoted and unmounted))


def check_steps(answer: object) -> str:
    if answer is None or answer is Ellipsis:
        raise NotSolved()
    steps = [
        str(step)
        for step in as_items(
            answer, what=_("a list of steps from STEPS"), example="[STEPS[0], ...]"
        )
    ]
    unknown = [step for step in steps if step not in STEPS]
    if unknown:
        raise Wrong(
            "unknown-step",
            _("{step!r} is not one of STEPS; copy the steps exactly").format(step=unknown[0]),
        )
    outcome = confinement(steps)
    if outcome.host_changed:
        if "propagated" not in outcome.host_changed:
            raise Wrong(
                "host-namespace",
                _(
                    "{change}. Mount and pivot in a mount namespace of the "
                    "container's own: start with unshare --mount."
                ).format(change=_(outcome.host_changed)),
            )
        raise Wrong(
            "propagation",
            _(
                "{change}: a new mount namespace copies the host's mounts as "
                "shared peers, so make them private before mounting anything."
            ).format(change=_(outcome.host_changed)),
        )
    if outcome.error.startswith("pivot_root: EINVAL (the mounts"):
        raise Wrong(
            "propagation",
            _(
                "pivot_root refuses shared mounts (EINVAL), and a new mount namespace copies "
                "the host's shared ones: run mount --make-rprivate / first."
            ),
        )
    if outcome.error.startswith("pivot_root: EINVAL (rootfs"):
        raise Wrong(
            "not-a-mount-point",
            _(
                "pivot_root needs the new root to be a mount point, and rootfs is just a "
                "directory: bind-mount it onto itself first."
            ),
        )
    if outcome.error.startswith("pivot_root: EINVAL (our root"):
        raise Wrong(
            "chroot-first",
            _(
                "after chroot, the process's root is a plain directory, not the root of its "
                "mount namespace, and pivot_root refuses (EINVAL). Do not chroot at all."
            ),
        )
    if outcome.error:
        raise Wrong(
            "refused",
            _("{error}. Check the order of your steps.").format(error=_error(outcome.error)),
        )
    if not outcome.confined:
        raise Wrong("not-confined", _("the program would still run in the host's root directory"))
    if "pivot_root rootfs rootfs/.oldroot" not in steps:
        raise Wrong(
            "chroot-escape",
            _(
                "chroot moves only this process's '/'. The host's whole mount tree is still "
                "there, and root in the chroot climbs out as the lab showed: chroot into a "
                'subdirectory, cd .. many times, chroot(".").'
            ),
        )
    if outcome.host_reachable:
        raise Wrong(
            "old-root-mounted",
            _(
                "after pivot_root the host's whole tree is still mounted at /.oldroot, one "
                "`ls` away. Unmount it."
            ),
        )
    return _(
        "a private mount namespace, the rootfs made a mount point, pivot_root, and the old "
        "root unmounted: nothing above '/' is left in the namespace, so '..' has nowhere "
        'to go. runc does the same (with pivot_root(".", ".") in place of the .oldroot dir).'
    )


STEPS_STUB = """
from layerlab.exercises.ex03 import STEPS

steps = ...  # YOUR CODE HERE: a list of steps from STEPS, in order

check("03.2", steps)
"""

STEPS_SOLUTION = """
from layerlab.exercises.ex03 import STEPS

steps = [
    "unshare --mount",                      # a mount table of our own
    "mount --make-rprivate /",              # nothing we mount leaks back to the host
    "mount --bind rootfs rootfs",           # pivot_root wants a mount point
    "mkdir rootfs/.oldroot",
    "pivot_root rootfs rootfs/.oldroot",    # rootfs becomes "/", the host's root moves aside
    "umount -l /.oldroot",                  # ... and is gone from the namespace
]

check("03.2", steps)
"""

register(
    Exercise(
        "03.1", N_("how a path resolves in a chroot"), RESOLVE_STUB, RESOLVE_SOLUTION, check_resolve
    ),
    Exercise(
        "03.2", N_("the steps that close the escape"), STEPS_STUB, STEPS_SOLUTION, check_steps
    ),
)
