"""Exercises of notebook 04, layers and union mounts: chain IDs, top-down lookup, sharing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from ..entries import File, Whiteout
from ..image import chain_ids
from ..layer import Layer
from ..union import UnionView
from .framework import Exercise, NotSolved, Wrong, attempt, register
from .images import ubuntu_image

__all__ = ["lookup_stack", "LOOKUP_QUESTIONS"]


# -- 04.1 the chain ID of the third layer -------------------------------------------------
def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _bare(digest: str) -> str:
    return digest.split(":", 1)[-1]


def check_chain_id(solve: object) -> str:
    diff_ids = ubuntu_image().diff_ids
    answer = attempt(solve, list(diff_ids))
    if answer is None or answer is Ellipsis:
        raise NotSolved()
    chain = chain_ids(diff_ids)
    if not isinstance(answer, str):
        raise Wrong(
            "not-a-string",
            f"return the chain ID as a string like 'sha256:...', not a {type(answer).__name__}",
        )
    if answer == chain[2]:
        return (
            "ChainID(L0..L2) = sha256(ChainID(L0..L1) + ' ' + DiffID(L2)): it names the "
            "third layer together with the two below it."
        )
    d0, d1, d2 = diff_ids[:3]
    if answer == d2:
        raise Wrong(
            "diff-id",
            "that is the third layer's DiffID, which names the layer on "
            "its own. A chain ID names the layer *and everything below it*.",
        )
    if answer in (chain[1], chain[3]):
        which = "second" if answer == chain[1] else "fourth"
        raise Wrong(
            "off-by-one",
            f"that is the chain ID of the {which} layer. Layers count "
            "from the bottom: the third one is diff_ids[2].",
        )
    if answer == _bare(chain[2]):
        raise Wrong(
            "bare-hex",
            "right hash, but an ID always carries its algorithm: "
            "return 'sha256:' + the hex digest.",
        )
    if answer in (_sha(f"{d0} {d1} {d2}"), _sha(f"{d0}{d1}{d2}")):
        raise Wrong(
            "flat",
            "chain IDs nest: hash the chain ID of the first two layers with the "
            "third DiffID, not all three DiffIDs in one string.",
        )
    bare_chain = _sha(f"{_bare(d0)} {_bare(d1)}")
    if answer in (
        _sha(f"{_bare(bare_chain)} {_bare(d2)}"),
        _sha(f"{bare_chain} {_bare(d2)}"),
        _sha(f"{_bare(chain[1])} {_bare(d2)}"),
    ):
        raise Wrong(
            "no-prefix",
            "the hashed string keeps the 'sha256:' prefixes: "
            "sha256('sha256:<chain> sha256:<diff>').",
        )
    if answer in (_sha(f"{chain[1]}{d2}"), _sha(f"{chain[1]} {d2}\n")):
        raise Wrong(
            "separator",
            "the two IDs are joined by exactly one space, and nothing else: f'{chain} {diff_id}'.",
        )
    raise Wrong(
        "mismatch",
        "not the chain ID. Start with ChainID(L0) = DiffID(L0), then "
        "ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + ' ' + DiffID(Ln)).",
    )


CHAIN_STUB = '''
def solve(diff_ids):
    """Return the chain ID of the third layer (diff_ids[2] and the two below it)."""
    ...  # YOUR CODE HERE

check("04.1", solve)
'''

CHAIN_SOLUTION = '''
import hashlib

def solve(diff_ids):
    """Return the chain ID of the third layer (diff_ids[2] and the two below it)."""
    chain = diff_ids[0]                       # ChainID(L0) = DiffID(L0)
    for diff_id in diff_ids[1:3]:             # fold in L1, then L2
        chain = "sha256:" + hashlib.sha256(f"{chain} {diff_id}".encode()).hexdigest()
    return chain

check("04.1", solve)
'''


# -- 04.2 which layers two images share ---------------------------------------------------
def _variant(diff_ids: Sequence[str], position: int, text: str) -> list[str]:
    out = list(diff_ids)
    out[position] = _sha(text)
    return out


def sharing_cases() -> list[tuple[list[str], list[str]]]:
    """Pairs of DiffID lists: the same base, a rebuilt step, a different base."""
    base = ubuntu_image().diff_ids
    return [
        (base, base),
        (base, _variant(base, 3, "a different run layer")),  # shares L0..L2
        (base, _variant(base, 0, "debian instead")),  # same DiffIDs above, new base
        (base[:3], base),  # a prefix
        (base, [*base[:2], base[3], base[2], base[4]]),  # two steps swapped
    ]


def _shared_by_chain(a: Sequence[str], b: Sequence[str]) -> int:
    return sum(1 for x, y in zip(chain_ids(a), chain_ids(b), strict=False) if x == y)


def check_sharing(solve: object) -> str:
    cases = sharing_cases()
    answers = []
    for a, b in cases:
        answer = attempt(solve, list(a), list(b))
        if answer is None or answer is Ellipsis:
            raise NotSolved()
        if not isinstance(answer, int):
            raise Wrong(
                "not-int",
                f"return how many layers are shared, as an int, not a {type(answer).__name__}",
            )
        answers.append(answer)

    def matches(model: Callable[[list[str], list[str]], int]) -> bool:
        return all(answer == model(a, b) for answer, (a, b) in zip(answers, cases, strict=True))

    if matches(_shared_by_chain):
        return (
            "two images share exactly the layers whose chain IDs are equal: a common "
            "prefix of the stack, stored once on disk."
        )
    if matches(lambda a, b: len(set(a) & set(b))):
        raise Wrong(
            "by-diff-id",
            "you counted equal DiffIDs. A layer is stored (and shared) "
            "by its chain ID: the same DiffID on top of different layers is a different "
            "filesystem, so once two stacks differ nothing above is shared.",
        )
    if matches(lambda a, b: sum(1 for x, y in zip(a, b, strict=False) if x == y)):
        raise Wrong(
            "positionwise",
            "equal DiffIDs at the same position are not enough: "
            "everything below must be equal too. Compare chain IDs.",
        )
    for answer, (a, b) in zip(answers, cases, strict=True):
        if answer != _shared_by_chain(a, b):
            raise Wrong(
                "mismatch",
                f"for images of {len(a)} and {len(b)} layers you said "
                f"{answer}, but they share {_shared_by_chain(a, b)}.",
            )
    raise AssertionError("unreachable")


SHARING_STUB = '''
def solve(diff_ids_a, diff_ids_b):
    """Return how many storage layers two images share (count from the bottom)."""
    ...  # YOUR CODE HERE

check("04.2", solve)
'''

SHARING_SOLUTION = '''
from layerlab import chain_ids

def solve(diff_ids_a, diff_ids_b):
    """Return how many storage layers two images share (count from the bottom)."""
    shared = 0
    for a, b in zip(chain_ids(diff_ids_a), chain_ids(diff_ids_b)):
        if a != b:
            break
        shared += 1
    return shared

check("04.2", solve)
'''


# -- 04.3 a top-down lookup ---------------------------------------------------------------
def lookup_stack() -> list[Layer]:
    """Four layers, bottom first, with versions, a whiteout and a resurrection."""
    return [
        Layer(
            {
                "/etc/motd": File.of("v0\n"),
                "/bin/sh": File.of("sh\n"),
                "/tmp/cache": File.of("old\n"),
                "/etc/issue": File.of("v0\n"),
            },
            name="L0",
        ),
        Layer({"/etc/motd": File.of("v1\n"), "/tmp/cache": File.of("newer\n")}, name="L1"),
        Layer({"/tmp/cache": Whiteout(), "/etc/issue": Whiteout()}, name="L2"),
        Layer({"/etc/issue": File.of("back\n"), "/opt/tool": File.of("t\n")}, name="L3"),
    ]


#: The paths the checker asks about, each with what it shows.
LOOKUP_QUESTIONS = ("/etc/motd", "/bin/sh", "/tmp/cache", "/etc/issue", "/opt/tool", "/nope")


def check_lookup(solve: object) -> str:
    layers = lookup_stack()
    view = UnionView(layers)
    answers = {}
    for path in LOOKUP_QUESTIONS:
        answer = attempt(solve, lookup_stack(), path)
        if answer is Ellipsis:
            raise NotSolved()
        answers[path] = answer
    if all(a is None for a in answers.values()):
        raise NotSolved()
    for path, answer in answers.items():
        node = view.lookup(path)
        truth = node.layer if node is not None else None
        if answer == truth and (answer is None or isinstance(answer, int)):
            continue
        if answer is not None and not isinstance(answer, int):
            raise Wrong(
                "not-index",
                f"for {path} you returned a {type(answer).__name__}; "
                "return the layer's index (0 is the bottom) or None",
            )
        below_whiteout = [
            i for i, layer in enumerate(layers) if isinstance(layer.get(path), Whiteout)
        ]
        if isinstance(answer, int) and answer in below_whiteout:
            raise Wrong(
                "whiteout-found",
                f"layer {answer} has a whiteout for {path}: that "
                "entry means 'deleted here'. The lookup stops at it and finds nothing.",
            )
        if isinstance(answer, int) and below_whiteout and answer < max(below_whiteout):
            raise Wrong(
                "whiteout-skipped",
                f"layer {max(below_whiteout)} whites out {path}, so "
                "no layer below it may answer: stop at the whiteout.",
            )
        holders = [i for i, layer in enumerate(layers) if isinstance(layer.get(path), File)]
        if isinstance(answer, int) and holders and answer == holders[0] != holders[-1]:
            raise Wrong(
                "bottom-up",
                f"{path} is in layers {holders}; you returned the lowest. "
                "The kernel asks from the top down, and the first layer that has the "
                "path wins.",
            )
        raise Wrong(
            "mismatch",
            f"for {path} you said {answer!r}, but the union shows "
            f"{'nothing' if truth is None else f'layer {truth}'}.",
        )
    return (
        "top-down, stopping at the first layer that has the path, and at whiteouts: "
        "the same answers as the kernel's lookup (UnionView.trace)."
    )


LOOKUP_STUB = '''
def solve(layers, path):
    """Return the index of the layer that provides `path` (0 = bottom), or None."""
    ...  # YOUR CODE HERE

check("04.3", solve)
'''

LOOKUP_SOLUTION = '''
from layerlab import Whiteout

def solve(layers, path):
    """Return the index of the layer that provides `path` (0 = bottom), or None."""
    for index in reversed(range(len(layers))):   # top layer first
        entry = layers[index].get(path)
        if isinstance(entry, Whiteout):
            return None                          # deleted here: stop looking
        if entry is not None:
            return index                         # the first layer that has it wins
    return None

check("04.3", solve)
'''


register(
    Exercise("04.1", "the chain ID of the third layer", CHAIN_STUB, CHAIN_SOLUTION, check_chain_id),
    Exercise(
        "04.2", "which layers two images share", SHARING_STUB, SHARING_SOLUTION, check_sharing
    ),
    Exercise("04.3", "a top-down lookup", LOOKUP_STUB, LOOKUP_SOLUTION, check_lookup),
)
