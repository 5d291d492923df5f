"""Notebook 08's exercises: the order of a runtime's steps (replayed on the rules of what
each step needs), and a commit that carries the build's result but not its leftovers."""

from __future__ import annotations

import os
import stat

import pytest
from cgroup_level import RIGHT as CGROUP_RIGHT
from cgroup_level import WRONG as CGROUP_WRONG
from commit_level import RIGHT as COMMIT_RIGHT
from commit_level import WRONG as COMMIT_WRONG
from exercise_contract import contract_tests
from rootfs_level import RIGHT as ROOTFS_RIGHT
from rootfs_level import WRONG as ROOTFS_WRONG
from runtime_levels import RIGHT as LEVELS_RIGHT
from runtime_levels import WRONG as LEVELS_WRONG

import layerlab
from layerlab.entries import File
from layerlab.exercises import check
from layerlab.exercises.ex08 import (
    CREATE,
    EXEC,
    FORK,
    JOIN,
    OVERLAY,
    PIVOT,
    PROC,
    RUNTIME_STEPS,
    SCRATCH,
    UNSHARE,
    runtime_problem,
)

ORDER = [CREATE, UNSHARE, FORK, OVERLAY, PROC, JOIN, PIVOT, EXEC]  # layerlab.run's own


def moved(step: str, before: str) -> list[str]:
    """ORDER with `step` taken out and put right before `before`."""
    steps = [s for s in ORDER if s != step]
    steps.insert(steps.index(before), step)
    return steps


def edit_the_image(container):
    container.image_layers[-1]["/tmp/build.log"] = File.of("")
    return container.commit()


def remake_tmp(container):
    """Empties /tmp by re-making it: its 1777 mode is lost."""
    container.remove("/tmp")
    container.mkdir("/tmp")
    container.unlink("/root/.ash_history")
    return container.commit()


def remove_whole_dirs(container):
    container.remove("/tmp")
    container.unlink("/root/.ash_history")
    return container.commit()


WRONG = {
    **LEVELS_WRONG,  # 08.3-08.5, the runtime levels: see runtime_levels.py
    **ROOTFS_WRONG,  # 08.6, level 4, an overlay root and pivot_root: see rootfs_level.py
    **CGROUP_WRONG,  # 08.7, level 5, a cgroup with a limit: see cgroup_level.py
    **COMMIT_WRONG,  # 08.8, the last level, commit: see commit_level.py
    "08.1": {
        "after-exec": moved(EXEC, PIVOT),  # thinks steps can follow exec
        # mounts the rootfs before leaving the host's mount namespace
        "host-mount": moved(OVERLAY, UNSHARE),
        "not-pid-1": moved(FORK, UNSHARE),  # forks before unsharing the PID namespace
        # mounts /proc before PID 1 exists
        "proc-of-the-host": [CREATE, UNSHARE, OVERLAY, PROC, FORK, JOIN, PIVOT, EXEC],
        # pivots into a rootfs not mounted yet
        "pivot-before-mount": [CREATE, UNSHARE, FORK, PIVOT, OVERLAY, PROC, JOIN, EXEC],
        "proc-after-pivot": moved(PROC, EXEC),  # mounts /proc after the old root is gone
        "join-after-pivot": moved(JOIN, EXEC),  # joins the cgroup after /sys/fs/cgroup is gone
        "join-before-create": moved(JOIN, CREATE),  # joins a cgroup before it exists
        "missing-step": [s for s in ORDER if s != JOIN],  # leaves out the cgroup
        "twice": [*ORDER[:-1], JOIN, EXEC],  # does one step twice
        # writes a step in words of its own
        "unknown-step": [*ORDER[:-1], "chroot into the rootfs", EXEC],
    },
    "08.2": {
        # commits with the build's leftovers still in the rw layer
        "scratch-committed": lambda container: container.commit(),
        "deleted-image-dir": remove_whole_dirs,
        "edited-image": edit_the_image,
        # returns something other than the commit
        "not-a-commit": lambda container: [container.unlink(p) for p in SCRATCH],
        "site-lost": lambda container: (  # removes the build's product along with its leftovers
            [container.remove(p) for p in (*SCRATCH, "/srv/index.html")],
            container.commit(),
        )[-1],
        "collateral": remake_tmp,
    },
}
# 08.1: exec is not last; mounts before unshare; fork before unshare; /proc before PID 1;
# pivot before the rootfs exists; /proc after pivot; join after pivot; join before create;
# a step left out; a step twice; a step invented.
# 08.2: commit as is; rm -r the whole dirs; edit the image; forget to commit; remove the
# site with the scratch; re-make /tmp instead of removing a file from it.


def scratch_removed_from_the_upper_layer(container):
    for path in SCRATCH:
        del container.rw[path]  # made in the rw layer: no lower file, no whiteout needed
    return container.commit()


RIGHT = {
    **LEVELS_RIGHT,
    **ROOTFS_RIGHT,
    **CGROUP_RIGHT,
    **COMMIT_RIGHT,
    "08.1": [tuple(moved(JOIN, UNSHARE)), iter(ORDER)],
    "08.2": [
        scratch_removed_from_the_upper_layer,
        lambda c: ([c.remove(p) for p in SCRATCH], c.commit(created_by="site"))[-1],
    ],
}


(
    test_every_exercise_has_mutants_and_right_answers_under_test,
    test_a_differently_written_right_answer_is_accepted,
    test_the_stub_is_not_solved_yet,
    test_a_wrong_answer_gets_the_hint_for_its_misconception,
    test_the_reference_solution_is_accepted,
) = contract_tests("08", WRONG, RIGHT)


def test_the_steps_are_offered_sorted_so_their_order_gives_nothing_away():
    assert list(RUNTIME_STEPS) == sorted(ORDER)
    assert runtime_problem(list(RUNTIME_STEPS)) is not None


def test_the_order_of_layerlab_run_is_accepted_and_so_is_another_that_works():
    assert runtime_problem(ORDER) is None
    assert runtime_problem(moved(JOIN, UNSHARE)) is None  # the shim may join; PID 1 inherits


def test_removing_the_scratch_with_a_real_run_passes_too():
    """Any way to get there counts: here the container's own rm, live or simulated."""

    def with_rm(container):
        layerlab.run(container, ["rm", *SCRATCH])
        return container.commit(created_by="build the site")

    assert check("08.2", with_rm).ok


LEVEL_CASES = [
    (e, r, a) for e, answers in {**LEVELS_WRONG, **CGROUP_WRONG}.items() for r, a in answers.items()
]


@pytest.mark.parametrize(
    "exercise_id, reason, answer", LEVEL_CASES, ids=[f"{e}-{r}" for e, r, _ in LEVEL_CASES]
)
def test_a_runtime_level_gets_the_same_hint_on_the_simulated_kernel(
    monkeypatch, exercise_id, reason, answer
):
    """No fork, no namespaces (LAYERLAB_LIVE=0, the browser): the hints must not change."""
    here = check(exercise_id, answer)  # live where the probe allows it
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    verdict = check(exercise_id, answer)
    assert (verdict.status, verdict.reason) == ("wrong", reason), str(verdict)
    assert str(verdict) == str(here)  # word for word: the notebook's outputs must not differ


@pytest.mark.parametrize("exercise_id", sorted({**LEVELS_RIGHT, **CGROUP_RIGHT}))
def test_the_runtime_levels_accept_right_answers_on_the_simulated_kernel(monkeypatch, exercise_id):
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    for answer in {**LEVELS_RIGHT, **CGROUP_RIGHT}[exercise_id]:
        assert check(exercise_id, answer).ok, answer.__name__


def test_the_levels_judge_in_the_browser_where_there_is_no_fork(monkeypatch, run_cell):
    """Pyodide has no fork, exec or wait: the simulated kernel judges, with the same hints."""
    from layerlab.exercises import get
    from layerlab.live import probe

    monkeypatch.setattr(probe, "IN_BROWSER", True)
    for name in ("fork", "execvp", "execv", "waitpid", "waitstatus_to_exitcode", "_exit"):
        monkeypatch.delattr(os, name, raising=False)
    for exercise_id, mutants in {**LEVELS_WRONG, **CGROUP_WRONG}.items():
        assert run_cell(get(exercise_id).stub).status == "unsolved"
        assert run_cell(get(exercise_id).solution).ok
        for reason, answer in mutants.items():
            assert check(exercise_id, answer).reason == reason


@pytest.mark.parametrize("reason, answer", sorted(COMMIT_WRONG["08.8"].items()))
def test_the_commit_level_gets_the_same_hint_from_the_upper_dir_in_memory(
    monkeypatch, reason, answer
):
    """Live (a real upper dir, as root) and in memory, the answer reads the same things."""
    here = check("08.8", answer)
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    verdict = check("08.8", answer)
    assert (verdict.status, verdict.reason) == ("wrong", reason), str(verdict)
    assert str(verdict) == str(here)


def test_the_commit_level_reads_the_same_upper_dir_live_and_in_memory(monkeypatch):
    """Every call an answer can make gives the same result in both worlds, errors included."""
    from layerlab.exercises.ex08_commit import UPPER, commit_cases, observe_commit

    def everything(k, upper):
        seen = []

        def call(name, *args):
            try:
                value = getattr(k, name)(*args)
            except OSError as exc:
                return seen.append((name, args, type(exc).__name__, exc.errno, exc.filename))
            if name == "lstat":
                value = (value.st_mode, value.st_rdev, value.st_uid, value.st_gid, value.st_size)
            seen.append((name, args, value))

        def walk(path):
            for child in k.listdir(path):
                full = f"{path}/{child}"
                for name in ("lstat", "listxattr", "read_bytes"):
                    call(name, full)
                call("getxattr", full, "trusted.overlay.opaque")
                call("getxattr", full, "user.overlay.opaque")
                if stat.S_ISDIR(k.lstat(full).st_mode):
                    call("listdir", full)
                    walk(full)

        walk(upper)
        call("lstat", f"{upper}/no-such-file")
        call("listdir", "/etc")
        return {repr(seen): None}

    for case in commit_cases():
        here = observe_commit(everything, case)
        with monkeypatch.context() as patch:
            patch.setenv("LAYERLAB_LIVE", "0")
            assert observe_commit(everything, case) == here, case.name
    assert UPPER in next(iter(here))


def test_the_commit_level_judges_in_the_browser(monkeypatch, run_cell):
    """Pyodide has no char devices and no xattrs: the upper dir is read from memory."""
    from layerlab.exercises import get
    from layerlab.live import probe

    monkeypatch.setattr(probe, "IN_BROWSER", True)
    for name in ("listxattr", "getxattr", "mknod"):
        monkeypatch.delattr(os, name, raising=False)
    exercise = get("08.8")
    assert run_cell(exercise.stub).status == "unsolved"
    assert run_cell(exercise.solution).ok
    for reason, answer in COMMIT_WRONG["08.8"].items():
        assert check("08.8", answer).reason == reason


def test_the_commit_reference_matches_the_model_on_many_generated_upper_dirs(monkeypatch):
    """Beyond the cases the check uses: the reader and the expected layer agree everywhere."""
    from commit_level import RIGHT as answers

    from layerlab.exercises.ex08_commit import _judge, _members, commit_cases, observe_commit

    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    cases = commit_cases(count=20)
    assert len({case.changes for case in cases}) > 10  # the generator does vary
    for case in cases:
        for answer in answers["08.8"]:
            _judge(_members(observe_commit(answer, case)), case.upper(), case)


def makes_the_cgroup_twice(k, argv, hostname, cgroup, limit):
    k.mkdir(cgroup)
    k.mkdir(cgroup)


def writes_a_limit_in_bytes(k, argv, hostname, cgroup, limit):
    k.mkdir(cgroup)
    try:
        k.write_file(f"{cgroup}/pids.max", "64M")
    finally:
        k.rmdir(cgroup)


@pytest.mark.parametrize(
    "answer",
    [makes_the_cgroup_twice, writes_a_limit_in_bytes, CGROUP_WRONG["08.7"]["runtime-joined"]],
)
def test_the_kernel_refuses_a_cgroup_call_in_the_same_words_live_and_simulated(monkeypatch, answer):
    """EEXIST, EINVAL, EBUSY: what the learner reads names the same call, without a path."""
    from layerlab.exercises.ex08_cgroup import cgroup_cases, observe_cgroup

    case = cgroup_cases()[0]
    here = observe_cgroup(answer, case)[0].value
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    assert observe_cgroup(answer, case)[0].value == here
    assert here[:2] == ("wrong", "raised") and "/" not in here[2]
