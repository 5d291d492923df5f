"""Exercises of notebook 04, layers and union mounts: chain IDs, top-down lookup, sharing."""

from __future__ import annotations

import hashlib
import numbers
import posixpath
import random
from collections.abc import Callable, Sequence

from ..entries import File, OpaqueDir, Whiteout
from ..i18n import N_, _
from ..image import chain_ids
from ..layer import Layer
from ..samples import ubuntu_image
from ..union import UnionView
from .framework import Exercise, NotSolved, Wrong, attempt, register
from .judging import as_int, as_text

__all__ = ["lookup_stack", "LOOKUP_QUESTIONS"]


# -- 04.1 the chain ID of the third layer -------------------------------------------------
def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _bare(digest: str) -> str:
    return digest.split(":", 1)[-1]


def diff_id_lists(count: int = 6, seed: str = "04.1") -> list[list[str]]:
    """ubuntu's DiffIDs, then generated stacks (seeded) of three to seven layers."""
    rng = random.Random(seed)
    lists = [list(ubuntu_image().diff_ids)]
    for _n in range(count):
        lists.append([_sha(f"layer {rng.random()}") for _n in range(rng.randint(3, 7))])
    return lists


def check_chain_id(solve: object) -> str:
    for diff_ids in diff_id_lists():
        answer = attempt(solve, list(diff_ids), returns=True)
        if answer is None or answer is Ellipsis:
            raise NotSolved()
        answer = as_text(answer)
        if not isinstance(answer, str):
            raise Wrong(
                "not-a-string",
                _("return the chain ID as a string like 'sha256:...', not a {type}").format(
                    type=type(answer).__name__
                ),
            )
        if answer != chain_ids(diff_ids)[2]:
            _diagnose_chain(answer, diff_ids)
    return _(
        "ChainID(L0..L2) = sha256(ChainID(L0..L1) + ' ' + DiffID(L2)): it names the "
        "third layer together with the two below it."
    )


def _diagnose_chain(answer: str, diff_ids: list[str]) -> None:
    chain = chain_ids(diff_ids)
    d0, d1, d2 = diff_ids[:3]
    if answer == d2:
        raise Wrong(
            "diff-id",
            _(
                "that is the third layer's DiffID, which names the layer on "
                "its own. A chain ID names the layer *and everything below it*."
            ),
        )
    if answer == chain[-1] and len(chain) > 3:
        raise Wrong(
            "top-layer",
            _(
                "that is the chain ID of the top layer. The question is about the third one "
                "from the bottom, diff_ids[2], whatever the image's height."
            ),
        )
    if answer in (chain[1], chain[3:4] and chain[3]):
        if answer == chain[1]:
            hint = _(
                "that is the chain ID of the second layer. Layers count "
                "from the bottom: the third one is diff_ids[2]."
            )
        else:
            hint = _(
                "that is the chain ID of the fourth layer. Layers count "
                "from the bottom: the third one is diff_ids[2]."
            )
        raise Wrong("off-by-one", hint)
    if answer == _bare(chain[2]):
        raise Wrong(
            "bare-hex",
            _(
                "right hash, but an ID always carries its algorithm: "
                "return 'sha256:' + the hex digest."
            ),
        )
    if answer in (_sha(f"{d0} {d1} {d2}"), _sha(f"{d0}{d1}{d2}")):
        raise Wrong(
            "flat",
            _(
                "chain IDs nest: hash the chain ID of the first two layers with the "
                "third DiffID, not all three DiffIDs in one string."
            ),
        )
    bare_chain = _sha(f"{_bare(d0)} {_bare(d1)}")
    if answer in (
        _sha(f"{_bare(bare_chain)} {_bare(d2)}"),
        _sha(f"{bare_chain} {_bare(d2)}"),
        _sha(f"{_bare(chain[1])} {_bare(d2)}"),
    ):
        raise Wrong(
            "no-prefix",
            _(
                "the hashed string keeps the 'sha256:' prefixes: "
                "sha256('sha256:<chain> sha256:<diff>')."
            ),
        )
    if answer in (_sha(f"{chain[1]}{d2}"), _sha(f"{chain[1]} {d2}\n")):
        raise Wrong(
            "separator",
            _(
                "the two IDs are joined by exactly one space, and nothing else: "
                "f'{chain} {diff_id}'."
            ),
        )
    raise Wrong(
        "mismatch",
        _(
            "not the chain ID. Start with ChainID(L0) = DiffID(L0), then "
            "ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + ' ' + DiffID(Ln))."
        ),
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
        (base, base[:3]),  # a shorter second image
        ([], base),  # an empty image (FROM scratch, no layer yet)
        (base[:1], [base[1], base[0]]),  # the same layers in another order
    ]


def _shared_by_chain(a: Sequence[str], b: Sequence[str]) -> int:
    return sum(1 for x, y in zip(chain_ids(a), chain_ids(b), strict=False) if x == y)


def check_sharing(solve: object) -> str:
    cases = sharing_cases()
    answers = []
    for a, b in cases:
        answer = attempt(solve, list(a), list(b), returns=True)
        if answer is None or answer is Ellipsis:
            raise NotSolved()
        answers.append(as_int(answer, what=_("how many layers are shared")))

    def matches(model: Callable[[list[str], list[str]], int]) -> bool:
        return all(answer == model(a, b) for answer, (a, b) in zip(answers, cases, strict=True))

    if matches(_shared_by_chain):
        return _(
            "two images share exactly the layers whose chain IDs are equal: a common "
            "prefix of the stack, stored once on disk."
        )
    if matches(lambda a, b: len(set(a) & set(b))):
        raise Wrong(
            "by-diff-id",
            _(
                "you counted equal DiffIDs. A layer is stored (and shared) "
                "by its chain ID: the same DiffID on top of different layers is a different "
                "filesystem, so once two stacks differ nothing above is shared."
            ),
        )
    if matches(lambda a, b: len(a) if list(a) == list(b) else 0):
        raise Wrong(
            "all-or-nothing",
            _(
                "two images need not be equal to share layers: a common bottom (the same base "
                "image, the same first build steps) is shared, layer by layer."
            ),
        )
    if matches(lambda a, b: max(_shared_by_chain(a, b) - 1, 0)):
        raise Wrong(
            "off-by-one",
            _(
                "you return the index of the last shared layer; the question is how many "
                "layers are shared (one more)."
            ),
        )
    if matches(lambda a, b: min(len(a), len(b))):
        raise Wrong(
            "min-length",
            _(
                "the shorter image's height is only an upper bound: two images share layers "
                "only up to the first one that differs."
            ),
        )
    if matches(lambda a, b: sum(1 for x, y in zip(a, b, strict=False) if x == y)):
        raise Wrong(
            "positionwise",
            _(
                "equal DiffIDs at the same position are not enough: "
                "everything below must be equal too. Compare chain IDs."
            ),
        )
    for answer, (a, b) in zip(answers, cases, strict=True):
        if answer != _shared_by_chain(a, b):
            raise Wrong(
                "mismatch",
                _(
                    "for images of {a} and {b} layers you said {answer}, but they share {shared}."
                ).format(a=len(a), b=len(b), answer=answer, shared=_shared_by_chain(a, b)),
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
    """Four layers, bottom first, with versions, a whiteout and a resurrection, a whited-out
    directory and an opaque one."""
    return [
        Layer(
            {
                "/etc/motd": File.of("v0\n"),
                "/bin/sh": File.of("sh\n"),
                "/tmp/cache": File.of("old\n"),
                "/etc/issue": File.of("v0\n"),
                "/var/lib/old.db": File.of("old\n"),
                "/srv/site/index.html": File.of("v0\n"),
            },
            name="L0",
        ),
        Layer(
            {
                "/etc/motd": File.of("v1\n"),
                "/tmp/cache": File.of("newer\n"),
                "/var/lib": OpaqueDir(),
                "/var/lib/new.db": File.of("new\n"),
            },
            name="L1",
        ),
        Layer(
            {"/tmp/cache": Whiteout(), "/etc/issue": Whiteout(), "/srv/site": Whiteout()}, name="L2"
        ),
        Layer({"/etc/issue": File.of("back\n"), "/opt/tool": File.of("t\n")}, name="L3"),
    ]


#: The paths the checker asks about, each with what it shows.
LOOKUP_QUESTIONS = (
    "/etc/motd",
    "/bin/sh",
    "/tmp/cache",
    "/etc/issue",
    "/opt/tool",
    "/nope",
    "/srv/site/index.html",  # its directory is whited out above it
    "/var/lib/old.db",  # an opaque directory above hides it
    "/var/lib/new.db",  # the opaque directory's own child
    "/var/lib",
)


def check_lookup(solve: object) -> str:
    layers = lookup_stack()
    view = UnionView(layers)
    answers = {}
    for path in LOOKUP_QUESTIONS:
        answer = attempt(solve, lookup_stack(), path)
        if isinstance(answer, numbers.Integral) and not isinstance(answer, bool):
            answer = int(answer)
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
                _(
                    "for {path} you returned a {type}; "
                    "return the layer's index (0 is the bottom) or None"
                ).format(path=path, type=type(answer).__name__),
            )
        below_whiteout = [
            i for i, layer in enumerate(layers) if isinstance(layer.get(path), Whiteout)
        ]
        if isinstance(answer, int) and answer in below_whiteout:
            raise Wrong(
                "whiteout-found",
                _(
                    "layer {layer} has a whiteout for {path}: that "
                    "entry means 'deleted here'. The lookup stops at it and finds nothing."
                ).format(layer=answer, path=path),
            )
        if isinstance(answer, int) and below_whiteout and answer < max(below_whiteout):
            raise Wrong(
                "whiteout-skipped",
                _(
                    "layer {layer} whites out {path}, so "
                    "no layer below it may answer: stop at the whiteout."
                ).format(layer=max(below_whiteout), path=path),
            )
        hidden_by = [
            (i, parent)
            for i, layer in enumerate(layers)
            for parent in _parents(path)
            if isinstance(layer.get(parent), (Whiteout, OpaqueDir))
        ]
        if truth is None and isinstance(answer, int) and hidden_by:
            i, parent = hidden_by[-1]
            if isinstance(layers[i].get(parent), Whiteout):
                raise Wrong(
                    "whited-out-parent",
                    _(
                        "layer {layer} whites out {parent}, and a whiteout deletes the whole "
                        "subtree: {path} is gone too, though no layer whites it out by name. "
                        "Look at the path's parents as well."
                    ).format(layer=i, parent=parent, path=path),
                )
            raise Wrong(
                "opaque",
                _(
                    "{parent} is an opaque directory in layer {layer}: it hides every lower "
                    "child, so {path} from layer {answer} is not visible. Look at the path's "
                    "parents too."
                ).format(parent=parent, layer=i, path=path, answer=answer),
            )
        holders = [i for i, layer in enumerate(layers) if isinstance(layer.get(path), File)]
        if isinstance(answer, int) and holders and answer == holders[0] != holders[-1]:
            raise Wrong(
                "bottom-up",
                _(
                    "{path} is in layers {layers}; you returned the lowest. "
                    "The kernel asks from the top down, and the first layer that has the "
                    "path wins."
                ).format(path=path, layers=holders),
            )
        shown = _("nothing") if truth is None else _("layer {layer}").format(layer=truth)
        raise Wrong(
            "mismatch",
            _("for {path} you said {answer!r}, but the union shows {shown}.").format(
                path=path, answer=answer, shown=shown
            ),
        )
    return _(
        "top-down, stopping at the first layer that has the path, and at whiteouts: "
        "the same answers as the kernel's lookup (UnionView.trace)."
    )


def _parents(path: str) -> list[str]:
    parents = []
    while path != "/":
        path = posixpath.dirname(path)
        if path != "/":
            parents.append(path)
    return parents


LOOKUP_STUB = '''
def solve(layers, path):
    """Return the index of the layer that provides `path` (0 = bottom), or None."""
    ...  # YOUR CODE HERE

check("04.3", solve)
'''

LOOKUP_SOLUTION = '''
import posixpath
from layerlab import Dir, OpaqueDir, Whiteout

def solve(layers, path):
    """Return the index of the layer that provides `path` (0 = bottom), or None."""
    for index in reversed(range(len(layers))):   # top layer first
        entry = layers[index].get(path)
        if isinstance(entry, Whiteout):
            return None                          # deleted here: stop looking
        if entry is not None:
            return index                         # the first layer that has it wins
        parent = posixpath.dirname(path)         # may this layer hide the lower ones?
        while parent != "/":
            above = layers[index].get(parent)
            if isinstance(above, OpaqueDir) or (above is not None and not isinstance(above, Dir)):
                return None                      # an opaque dir, a whiteout or a file above
            parent = posixpath.dirname(parent)
    return None

check("04.3", solve)
'''


register(
    Exercise(
        "04.1", N_("the chain ID of the third layer"), CHAIN_STUB, CHAIN_SOLUTION, check_chain_id
    ),
    Exercise(
        "04.2", N_("which layers two images share"), SHARING_STUB, SHARING_SOLUTION, check_sharing
    ),
    Exercise("04.3", N_("a top-down lookup"), LOOKUP_STUB, LOOKUP_SOLUTION, check_lookup),
)
