"""Notebook 04's exercises judge outcomes: chain IDs, a top-down lookup, shared layers."""

from __future__ import annotations

import hashlib

from exercise_contract import contract_tests

from layerlab.entries import Whiteout


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def chain_without_prefixes(diff_ids):
    bare = [d.split(":")[1] for d in diff_ids]
    chain = bare[0]
    for diff_id in bare[1:3]:
        chain = hashlib.sha256(f"{chain} {diff_id}".encode()).hexdigest()
    return "sha256:" + chain


def chain_of_two(diff_ids):
    return sha(f"{diff_ids[0]} {diff_ids[1]}")


def bottom_up(layers, path):
    for index, layer in enumerate(layers):
        if layer.get(path) is not None and not isinstance(layer.get(path), Whiteout):
            return index
    return None


def top_down_forgetting_whiteouts(layers, path):
    for index in reversed(range(len(layers))):
        if path in layers[index]:
            return index
    return None


def top_down_skipping_whiteouts(layers, path):
    for index in reversed(range(len(layers))):
        entry = layers[index].get(path)
        if entry is not None and not isinstance(entry, Whiteout):
            return index
    return None


def first_layer_entry(layers, path):
    for layer in reversed(layers):
        if path in layer:
            return layer[path]
    return None


def lookup_by_name_only(layers, path):
    """The old reference: a whiteout or opaque dir on a parent goes unnoticed."""
    for index in reversed(range(len(layers))):
        entry = layers[index].get(path)
        if isinstance(entry, Whiteout):
            return None
        if entry is not None:
            return index
    return None


def lookup_ignoring_opaque(layers, path):
    """Knows parent whiteouts, but not opaque directories."""
    import posixpath

    for index in reversed(range(len(layers))):
        entry = layers[index].get(path)
        if isinstance(entry, Whiteout):
            return None
        if entry is not None:
            return index
        parent = posixpath.dirname(path)
        while parent != "/":
            if isinstance(layers[index].get(parent), Whiteout):
                return None
            parent = posixpath.dirname(parent)
    return None


WRONG = {
    "04.1": {
        "diff-id": lambda diff_ids: diff_ids[2],
        "flat": lambda diff_ids: sha(" ".join(diff_ids[:3])),
        "no-prefix": chain_without_prefixes,
        "off-by-one": chain_of_two,
        "bare-hex": lambda diff_ids: sha(f"{chain_of_two(diff_ids)} {diff_ids[2]}")[7:],
        "not-a-function": "sha256:abc",  # pastes a digest instead of computing it
        "top-layer": lambda diff_ids: __import__("layerlab").chain_ids(diff_ids)[-1],
    },
    "04.3": {
        "bottom-up": bottom_up,
        "whiteout-found": top_down_forgetting_whiteouts,
        "whiteout-skipped": top_down_skipping_whiteouts,
        "not-index": first_layer_entry,
        "whited-out-parent": lookup_by_name_only,
        "opaque": lookup_ignoring_opaque,
    },
    "04.2": {
        "by-diff-id": lambda a, b: len(set(a) & set(b)),
        "positionwise": lambda a, b: sum(1 for x, y in zip(a, b, strict=False) if x == y),
        # thinks the shorter image is always contained in the longer
        "min-length": lambda a, b: min(len(a), len(b)),
        # returns the shared layers, not how many
        "not-an-int": lambda a, b: [x for x, y in zip(a, b, strict=False) if x == y],
        # thinks only identical images share
        "all-or-nothing": lambda a, b: len(a) if a == b else 0,
        # returns the index of the last shared layer
        "off-by-one": lambda a, b: max(
            sum(1 for x, y in zip(chain(a), chain(b), strict=False) if x == y) - 1, 0
        ),
    },
}


def chain(diff_ids):
    from layerlab import chain_ids

    return chain_ids(diff_ids)


def chain_by_reduce(diff_ids):
    from functools import reduce

    return reduce(lambda c, d: sha(f"{c} {d}"), diff_ids[1:3], diff_ids[0])


def shared_by_takewhile(a, b):
    from itertools import takewhile

    return len(
        list(takewhile(lambda pair: pair[0] == pair[1], zip(chain(a), chain(b), strict=False)))
    )


def lookup_with_the_union(layers, path):
    from layerlab import UnionView

    node = UnionView(layers).lookup(path)
    return None if node is None else node.layer


RIGHT = {
    "04.1": [chain_by_reduce, lambda d: " " + chain(d)[2] + "\n"],
    "04.2": [
        shared_by_takewhile,
        lambda a, b: sum(x == y for x, y in zip(chain(a), chain(b), strict=False)),
    ],
    "04.3": [lookup_with_the_union, lambda layers, path: lookup_with_the_union(layers, path)],
}


(
    test_every_exercise_has_mutants_and_right_answers_under_test,
    test_a_differently_written_right_answer_is_accepted,
    test_the_stub_is_not_solved_yet,
    test_a_wrong_answer_gets_the_hint_for_its_misconception,
    test_the_reference_solution_is_accepted,
) = contract_tests("04", WRONG, RIGHT)


def test_a_crashing_answer_is_judged_not_raised():
    from layerlab.exercises import check

    verdict = check("04.3", lambda layers, path: layers[99])
    assert verdict.status == "wrong" and verdict.reason == "raised"
    assert "IndexError" in verdict.message
