"""Notebook 07's exercises judge outcomes: commits, configs and digests."""

from __future__ import annotations

import datetime

from exercise_contract import contract_tests

from layerlab.entries import File
from layerlab.exercises.ex07 import MONDAY
from layerlab.image import EMPTY_TAR_DIFF_ID


# -- 07.1 ---------------------------------------------------------------------------------
def write_motd(container):
    container.write("/etc/motd", "committed\n")


def write_hostname(container):
    container.write("/etc/hostname", "elsewhere\n")


def write_a_note(container):
    container.write("/tmp/note", "hello\n")


def do_nothing(container):
    return None


# -- 07.2 ---------------------------------------------------------------------------------
def replace_diff_ids(parent, diff_id, step):
    if diff_id is not None:
        parent["rootfs"]["diff_ids"] = [diff_id]
    parent["history"].append(step if diff_id else {**step, "empty_layer": True})
    return parent


def prepend_diff_id(parent, diff_id, step):
    if diff_id is not None:
        parent["rootfs"]["diff_ids"].insert(0, diff_id)
    parent["history"].append(step if diff_id else {**step, "empty_layer": True})
    return parent


def empty_tar_for_no_change(parent, diff_id, step):
    parent["rootfs"]["diff_ids"].append(diff_id or EMPTY_TAR_DIFF_ID)
    parent["history"].append(step)
    return parent


def forget_history(parent, diff_id, step):
    if diff_id is not None:
        parent["rootfs"]["diff_ids"].append(diff_id)
    return parent


def forget_empty_layer_flag(parent, diff_id, step):
    if diff_id is not None:
        parent["rootfs"]["diff_ids"].append(diff_id)
    parent["history"].append(step)
    return parent


def flag_every_step(parent, diff_id, step):
    if diff_id is not None:
        parent["rootfs"]["diff_ids"].append(diff_id)
    parent["history"].append({**step, "empty_layer": True})
    return parent


def new_config_from_scratch(parent, diff_id, step):
    return {
        "rootfs": {
            "type": "layers",
            "diff_ids": [*parent["rootfs"]["diff_ids"], *([diff_id] if diff_id else [])],
        },
        "history": [*parent["history"], step if diff_id else {**step, "empty_layer": True}],
    }


# -- 07.3 ---------------------------------------------------------------------------------
def commit_with_wall_clock_mtimes(container):
    container.write("/etc/motd", "built by CI\n")
    return container.commit()


def commit_with_a_fresh_created_time(container):
    container.write("/etc/motd", "built by CI\n")
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()  # differs on every run
    return container.commit(mtime=0, created=now)


def commit_without_a_change(container):
    return container.commit(mtime=0)


def commit_a_change_naming_the_container(container):
    container.write("/etc/motd", f"built on {container.name}\n")
    return container.commit(mtime=0)


WRONG = {
    "07.1": {
        "captured-bind": (write_hostname, write_hostname),
        "in-rw": (write_motd, write_a_note),
        "no-visible-change": (write_motd, do_nothing),
        "captured-nothing": (do_nothing, write_hostname),
        "shape": write_motd,  # passes one function
        "edited-init": (write_motd, lambda c: c.init.__setitem__("/.dockerenv", File.of("x"))),
    },
    "07.2": {
        "replaced": replace_diff_ids,
        "prepended": prepend_diff_id,
        "empty-tar": empty_tar_for_no_change,
        "no-history": forget_history,
        "no-empty-flag": forget_empty_layer_flag,
        "flag-with-layer": flag_every_step,
        "mismatch": new_config_from_scratch,
        "not-json": lambda parent, diff_id, step: {**parent, "created": object()},
    },
    "07.3": {
        "mtime": commit_with_wall_clock_mtimes,
        "created": commit_with_a_fresh_created_time,
        "no-layer": commit_without_a_change,
        "different-change": commit_a_change_naming_the_container,
        "shape": lambda container: container.commit(mtime=0).image,
    },
}


def config_by_json_round_trip(parent, diff_id, step):
    import json

    config = json.loads(json.dumps(parent))
    config["rootfs"]["diff_ids"] += [diff_id] if diff_id else []
    config["history"] += [step if diff_id else dict(step, empty_layer=True)]
    return config


def commit_with_a_fixed_clock(container):
    container.write("/etc/motd", b"built by CI\n")
    return container.commit(mtime=MONDAY)


RIGHT = {
    "07.1": [
        (lambda c: c.unlink("/etc/motd"), lambda c: c.append("/etc/hosts", "10.0.0.9 cache\n")),
        [write_a_note, lambda c: c.write("/etc/resolv.conf", "nameserver 9.9.9.9\n")],
    ],
    "07.2": [config_by_json_round_trip, lambda p, d, s: config_by_json_round_trip(p, d, s)],
    "07.3": [
        commit_with_a_fixed_clock,
        lambda c: (c.write("/etc/motd", "x\n"), c.commit(mtime=0))[1],
    ],
}


(
    test_every_exercise_has_mutants_and_right_answers_under_test,
    test_a_differently_written_right_answer_is_accepted,
    test_the_stub_is_not_solved_yet,
    test_a_wrong_answer_gets_the_hint_for_its_misconception,
    test_the_reference_solution_is_accepted,
) = contract_tests("07", WRONG, RIGHT)
