"""Notebook 05's exercises judge outcomes: the rw layer, the tar spelling, copy-up, EXDEV."""

from __future__ import annotations

import posixpath

from exercise_contract import contract_tests

from layerlab.entries import File, OpaqueDir, Whiteout
from layerlab.exercises.ex05 import COPY_UP_CANDIDATES, does_copy_up


# -- 05.1 ---------------------------------------------------------------------------------
def empty_the_file(container):
    container.write("/etc/motd", "")


def delete_from_the_image_layer(container):
    container.image_layers[0].remove_tree("/etc/motd")


def spell_the_whiteout_by_hand(container):
    container.rw["/etc/.wh.motd"] = File.of("")


def delete_a_different_file(container):
    container.unlink("/etc/passwd")


def delete_the_whole_directory_contents(container):
    container.unlink("/etc/motd")
    container.unlink("/etc/os-release")


# -- 05.2 ---------------------------------------------------------------------------------
def names_keeping_deleted_files(layer):
    return [path.lstrip("/") for path in layer]


def names_with_file_and_whiteout(layer):
    names = names_keeping_deleted_files(layer)
    for path in layer.whiteouts:
        parent, base = posixpath.split(path.lstrip("/"))
        names.append(posixpath.join(parent, ".wh." + base))
    return names


def names_opaque_as_whiteout(layer):
    names = []
    for path, entry in layer.items():
        parent, base = posixpath.split(path.lstrip("/"))
        if isinstance(entry, (Whiteout, OpaqueDir)):
            names.append(posixpath.join(parent, ".wh." + base))
        if not isinstance(entry, Whiteout):
            names.append(path.lstrip("/"))
    return names


def names_without_opaque_marker(layer):
    names = []
    for path, entry in layer.items():
        parent, base = posixpath.split(path.lstrip("/"))
        names.append(
            posixpath.join(parent, ".wh." + base)
            if isinstance(entry, Whiteout)
            else path.lstrip("/")
        )
    return names


def absolute_names(layer):
    return ["/" + name for name in names_with_markers(layer)]


def names_with_markers(layer):
    names = []
    for path, entry in layer.items():
        parent, base = posixpath.split(path.lstrip("/"))
        if isinstance(entry, Whiteout):
            names.append(posixpath.join(parent, ".wh." + base))
            continue
        names.append(path.lstrip("/"))
        if isinstance(entry, OpaqueDir):
            names.append(path.lstrip("/") + "/.wh..wh..opq")
    return names


# -- 05.4 ---------------------------------------------------------------------------------
def plain_rename(container):
    container.rename("/srv/app", "/srv/app2")


def copy_without_deleting(container):
    container.mkdir("/srv/app2")
    for name in container.listdir("/srv/app"):
        container.write(f"/srv/app2/{name}", container.read(f"/srv/app/{name}"))


def delete_without_copying(container):
    container.remove("/srv/app")


def rename_inside_the_image(container):
    layer = container.image_layers[-1]
    for path, entry in layer.items():
        layer[path.replace("/srv/app", "/srv/app2")] = entry
    layer.remove_tree("/srv/app")


WRONG = {
    "05.1": {
        "empty-file": empty_the_file,
        "edited-image": delete_from_the_image_layer,
        "literal-wh": spell_the_whiteout_by_hand,
        "still-there": delete_a_different_file,
        "collateral": delete_the_whole_directory_contents,
    },
    "05.2": {
        "whiteout-as-file": names_keeping_deleted_files,
        "both": names_with_file_and_whiteout,
        "opaque-as-whiteout": names_opaque_as_whiteout,
        "opaque-missing": names_without_opaque_marker,
        "absolute": absolute_names,
    },
    "05.3": {
        "none": set(),
        "metadata": {
            "open for writing, write nothing",
            "append a byte",
            "hardlink to it",
            "rename it",
        },
        "delete": {
            "open for writing, write nothing",
            "append a byte",
            "chmod",
            "chown",
            "hardlink to it",
            "rename it",
            "delete it",
        },
        "read": {"cat", "append a byte"},
        "symlink": set(COPY_UP_CANDIDATES) - {"cat", "stat", "delete it"},
        "open": {"append a byte", "chmod", "chown", "hardlink to it", "rename it"},
        "unknown": {"write"},
    },
    "05.4": {
        "exdev": plain_rename,
        "old-still-there": copy_without_deleting,
        "lost-files": delete_without_copying,
        "edited-image": rename_inside_the_image,
    },
}


(
    test_every_exercise_has_wrong_answers_under_test,
    test_the_stub_is_not_solved_yet,
    test_a_wrong_answer_gets_the_hint_for_its_misconception,
    test_the_reference_solution_is_accepted,
) = contract_tests("05", WRONG)


def test_the_copy_up_truth_comes_from_overlayfs_rules():
    """docs/semantics.md 12: open-for-write, metadata changes and hardlinking copy up; reads,
    symlinks and deletions do not. The checker asks the model, so pin the model's answer."""
    copied = {op for op in COPY_UP_CANDIDATES if does_copy_up(op)}
    assert copied == {
        "open for writing, write nothing",
        "append a byte",
        "chmod",
        "chown",
        "hardlink to it",
        "rename it",
    }


def test_deleting_through_the_container_leaves_the_shared_image_intact(run_cell):
    """The checker hands every attempt a fresh image: a learner's mistake cannot leak."""
    from layerlab.exercises import check

    check("05.1", delete_from_the_image_layer)
    assert run_cell(
        'def solve(container):\n    container.unlink("/etc/motd")\ncheck("05.1", solve)'
    ).ok
