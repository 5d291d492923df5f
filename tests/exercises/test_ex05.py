"""Notebook 05's exercises judge outcomes: the rw layer, the tar spelling, copy-up, EXDEV."""

from __future__ import annotations

import posixpath

from exercise_contract import contract_tests

from layerlab import UnionView
from layerlab.entries import Dir, File, OpaqueDir, Symlink, Whiteout
from layerlab.exercises.ex05 import COPY_UP_CANDIDATES, does_copy_up


# -- 05.1 ---------------------------------------------------------------------------------
def empty_the_file(container, path):
    """Thinks an empty file is a deleted one."""
    container.rw[path] = File.of("")


def delete_from_the_image_layer(container, path):
    """Thinks the image layers are the container's to edit."""
    for layer in container.image_layers:
        layer.remove_tree(path)


def spell_the_whiteout_by_hand(container, path):
    """Writes the tar spelling into the upper dir."""
    parent, base = posixpath.split(path)
    container.rw[parent] = container.view().lookup(parent).entry
    container.rw[f"{parent}/.wh.{base}"] = File.of("")


def just_drop_the_upper_copy(container, path):
    """Thinks deleting is removing the file from the rw layer."""
    if path in container.rw:
        del container.rw[path]


def whiteout_without_parents(container, path):
    """Forgets that the whiteout needs its directory in the upper layer."""
    container.rw[path] = Whiteout()


def parents_as_fresh_dirs(container, path):
    """Re-makes the parents instead of copying them up: modes are lost."""
    parent = posixpath.dirname(path)
    while parent != "/":
        container.rw.get(parent) or container.rw.__setitem__(parent, Dir())
        parent = posixpath.dirname(parent)
    if path in container.rw:
        del container.rw[path]
    if UnionView(container.layers[:-1]).exists(path):
        container.rw[path] = Whiteout()


def whiteout_always(container, path):
    """A whiteout for every deletion, even of a file no lower layer has."""
    parent = posixpath.dirname(path)
    while parent != "/":
        if parent not in container.rw:
            container.rw[parent] = container.view().lookup(parent).entry
        parent = posixpath.dirname(parent)
    container.rw[path] = Whiteout()


def opaque_parent(container, path):
    """Hides the lower file by making its directory opaque."""
    parent = posixpath.dirname(path)
    whiteout_always(container, path)
    entry = container.rw[parent]
    container.rw[parent] = OpaqueDir(entry.meta)
    if path in container.rw:
        del container.rw[path]


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
def plain_rename(container, old, new):
    """Thinks rename(2) moves any directory."""
    container.rename(old, new)


def copy_without_deleting(container, old, new):
    """Copies and forgets the original."""
    copy_tree(container, old, new)


def delete_without_copying(container, old, new):
    """Deletes first, then has nothing to copy."""
    container.remove(old)


def copy_tree(container, old, new, *, modes=True, links=True, owners=True):
    for node in container.view().walk(old):
        copy, entry = new + node.path[len(old) :], node.entry
        if isinstance(entry, Dir):
            container.mkdir(copy, entry.meta.mode if modes else 0o755)
        elif isinstance(entry, Symlink) and links:
            container.symlink(entry.target, copy)
            continue
        else:
            container.write(copy, container.read(node.path))
            if modes:
                container.chmod(copy, entry.meta.mode)
        if owners:
            container.chown(copy, entry.meta.uid, entry.meta.gid)


def copy_without_modes(container, old, new):
    """Copies bytes only, as `cat > new` would."""
    copy_tree(container, old, new, modes=False)
    container.remove(old)


def copy_following_links(container, old, new):
    """Reads through symlinks and writes plain files."""
    copy_tree(container, old, new, links=False)
    container.remove(old)


def copy_without_owners(container, old, new):
    """Copies as root and forgets chown."""
    copy_tree(container, old, new, owners=False)
    container.remove(old)


def let_mv_do_it(container, old, new):
    """Calls the finished mv."""
    container.move(old, new)


WRONG = {
    "05.1": {
        "empty-file": empty_the_file,
        "edited-image": delete_from_the_image_layer,
        "literal-wh": spell_the_whiteout_by_hand,
        "lower-shows-through": just_drop_the_upper_copy,
        "no-parent": whiteout_without_parents,
        "parent-mode": parents_as_fresh_dirs,
        "needless-whiteout": whiteout_always,
        "opaque": opaque_parent,
        "used-unlink": lambda container, path: container.unlink(path),  # the copy-one-line answer
    },
    "05.2": {
        "whiteout-as-file": names_keeping_deleted_files,
        "both": names_with_file_and_whiteout,
        "opaque-as-whiteout": names_opaque_as_whiteout,
        "opaque-missing": names_without_opaque_marker,
        "absolute": absolute_names,
        "not-names": lambda layer: [len(layer)],  # counts instead of naming
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
        "lost-modes": copy_without_modes,
        "symlink-followed": copy_following_links,
        "lost-owner": copy_without_owners,
        "used-move": let_mv_do_it,
    },
}


def unlink_with_a_view_of_the_image(container, path):
    from layerlab import UnionView

    below = UnionView(container.image_layers + [container.init])
    names = path.strip("/").split("/")
    for depth in range(1, len(names)):
        parent = "/" + "/".join(names[:depth])
        container.rw[parent] = container.rw.get(parent) or below.lookup(parent).entry
    container.rw.remove_tree(path)
    if below.exists(path):
        container.rw[path] = Whiteout()


def tar_names_sorted(layer):
    out = set()
    for path, entry in layer.items():
        parent, base = posixpath.split(path[1:])
        if isinstance(entry, Whiteout):
            out.add(f"{parent}/.wh.{base}".lstrip("/"))
        else:
            out.add(path[1:] + ("/" if entry.is_dir else ""))
            if isinstance(entry, OpaqueDir):
                out.add(f"{path[1:]}/.wh..wh..opq")
    return out


def mv_recursive(container, old, new):
    import errno

    try:
        container.rename(old, new)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        entry = container.view().lookup(old).entry
        container.mkdir(new, entry.meta.mode)
        container.chown(new, entry.meta.uid, entry.meta.gid)
        for name in container.listdir(old):
            child = container.view().lookup(f"{old}/{name}").entry
            if isinstance(child, Dir):
                mv_recursive(container, f"{old}/{name}", f"{new}/{name}")
                continue
            if isinstance(child, Symlink):
                container.symlink(child.target, f"{new}/{name}")
            else:
                container.write(f"{new}/{name}", container.read(f"{old}/{name}"))
                container.chmod(f"{new}/{name}", child.meta.mode)
                container.chown(f"{new}/{name}", child.meta.uid, child.meta.gid)
        container.remove(old)


RIGHT = {
    "05.1": [unlink_with_a_view_of_the_image, lambda c, p: unlink_with_a_view_of_the_image(c, p)],
    "05.2": [tar_names_sorted, lambda layer: (n for n in sorted(tar_names_sorted(layer)))],
    "05.3": [
        [
            "open for writing, write nothing",
            "append a byte",
            "chmod",
            "chown",
            "hardlink to it",
            "rename it",
        ],
        (op for op in COPY_UP_CANDIDATES if does_copy_up(op)),
    ],
    "05.4": [mv_recursive, lambda c, o, n: copy_tree(c, o, n) or c.remove(o)],
}


(
    test_every_exercise_has_mutants_and_right_answers_under_test,
    test_a_differently_written_right_answer_is_accepted,
    test_the_stub_is_not_solved_yet,
    test_a_wrong_answer_gets_the_hint_for_its_misconception,
    test_the_reference_solution_is_accepted,
) = contract_tests("05", WRONG, RIGHT)


def test_the_copy_up_truth_comes_from_overlayfs_rules():
    """semantics.md 12: open-for-write, metadata changes and hardlinking copy up; reads,
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


def test_an_edited_image_does_not_leak_into_the_next_attempt(run_cell):
    """The checker hands every attempt a fresh image: a learner's mistake cannot leak."""
    from layerlab.exercises import check, get

    check("05.1", delete_from_the_image_layer)
    assert run_cell(get("05.1").solution).ok
