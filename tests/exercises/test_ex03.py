"""Notebook 03's exercises: path resolution in a chroot, and the steps that make the chroot
escape impossible, judged on a model of the mount table."""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath

import pytest
from exercise_contract import contract_tests

from layerlab.exercises.ex03 import PATH_CASES, STEPS, confinement, resolve

assert sorted(STEPS) == list(STEPS)  # listed alphabetically, not in the answer's order

PIVOT = [  # the reference order: unshare ... umount
    "unshare --mount",
    "mount --make-rprivate /",
    "mount --bind rootfs rootfs",
    "mkdir rootfs/.oldroot",
    "pivot_root rootfs rootfs/.oldroot",
    "umount -l /.oldroot",
]


def absolute_from_the_hosts_root(root, cwd, path):
    """Forgets the chroot for absolute paths."""
    return posixpath.normpath(posixpath.join(cwd, path))


def absolute_from_the_cwd(root, cwd, path):
    """Walks every path from the working directory, '/' or not."""
    return resolve(root, cwd, path.lstrip("/") or ".")


def joined_not_resolved(root, cwd, path):
    """Joins the text and leaves the '..' for the kernel."""
    return posixpath.join(root if path.startswith("/") else cwd, path.lstrip("/"))


def dotdot_never_stops(root, cwd, path):
    """Thinks '..' always goes up, as on the host."""
    start = root if path.startswith("/") else cwd
    return posixpath.normpath(posixpath.join(start, path.lstrip("/")))


def everything_from_the_root(root, cwd, path):
    """Ignores the working directory."""
    return resolve(root, root, path)


def clamped_below_root(root, cwd, path):
    """Resolve by text, then force the result back under root: misses the escape."""
    full = dotdot_never_stops(root, cwd, path)
    if full != root and not full.startswith(root.rstrip("/") + "/"):
        full = posixpath.normpath(posixpath.join(root, posixpath.relpath(full, "/")))
    return full


WRONG = {
    "03.1": {
        "absolute-from-host": absolute_from_the_hosts_root,
        "no-stop": dotdot_never_stops,
        "relative-from-root": everything_from_the_root,
        "clamped": clamped_below_root,
        "absolute-from-cwd": absolute_from_the_cwd,
        "unresolved": joined_not_resolved,
        "not-a-path": lambda root, cwd, path: path.split("/"),  # returns the names
    },
    "03.2": {
        # chroot is enough
        "chroot-escape": ["unshare --mount", "mount --make-rprivate /", "chroot rootfs"],
        "old-root-mounted": PIVOT[:5],
        "host-namespace": PIVOT[2:],
        "propagation": [PIVOT[0], PIVOT[2], PIVOT[1], *PIVOT[3:]],
        "not-a-mount-point": PIVOT[:2] + PIVOT[3:],
        "chroot-first": ["chroot rootfs", *PIVOT],
        "refused": PIVOT[:3] + PIVOT[4:],
        "unknown-step": [*PIVOT[:4], "pivot_root rootfs /oldroot", PIVOT[5]],
    },
}


# 03.2's mutants, one misconception each: chroot is enough; the old root vanishes by itself;
# the host's mount namespace will do; a new namespace is private already; any directory can
# be the new root; chroot first, pivot after; pivot without a place for the old root; steps
# invented from memory.


def resolve_with_a_stack(root, cwd, path):
    parts = [p for p in (root if path.startswith("/") else cwd).split("/") if p]
    for name in path.split("/"):
        if name == ".." and parts and "/" + "/".join(parts) != root:
            parts.pop()
        elif name not in ("", ".", ".."):
            parts.append(name)
    return PurePosixPath("/", *parts)


RIGHT = {
    "03.1": [resolve_with_a_stack, lambda r, c, p: resolve(r, c, p) + "/"],
    "03.2": [tuple(PIVOT), [PIVOT[3], *PIVOT[:3], *PIVOT[4:]]],
}


(
    test_every_exercise_has_mutants_and_right_answers_under_test,
    test_a_differently_written_right_answer_is_accepted,
    test_the_stub_is_not_solved_yet,
    test_a_wrong_answer_gets_the_hint_for_its_misconception,
    test_the_reference_solution_is_accepted,
) = contract_tests("03", WRONG, RIGHT)


def test_any_order_the_kernel_allows_passes():
    from layerlab.exercises import check

    assert check("03.2", [PIVOT[3], *PIVOT[:3], *PIVOT[4:]]).ok  # mkdir first is fine


def test_the_escape_case_resolves_to_the_host_and_the_others_stay_inside():
    """The rule the live chroot lab demonstrates: '..' stops only ON the root."""
    results = [resolve(*case) for case in PATH_CASES]
    assert results[5] == "/etc/shadow"  # cwd outside the root: the escape
    assert results[3] == "/srv/box/etc/shadow"  # '..' at the root stays there
    inside = [r.startswith(root) for r, (root, _, _) in zip(results, PATH_CASES, strict=True)]
    assert inside == [True] * 5 + [False, True, True, True, True]


@pytest.mark.parametrize(
    "steps, text",
    [
        (PIVOT, "escape impossible"),
        (PIVOT[:5], "escape reaches the host"),
        (["chroot rootfs"], "escape reaches the host"),
        ([], "the program runs in the host's root: not confined at all"),
        (
            ["mount --make-rprivate /"],
            "the host was changed: every mount of the host is now private",
        ),
    ],
)
def test_the_mount_model_says_what_the_steps_did(steps, text):
    assert str(confinement(steps)) == text
