"""Exercises of notebook 07, commit: what it captures, the new config, reproducible digests."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

from ..commit import CommitResult
from ..container import Container
from ..i18n import N_, _
from ..image import EMPTY_TAR_DIFF_ID, canonical_json, sha256_digest
from ..layer import Layer
from ..samples import ubuntu_image
from .framework import Exercise, NotSolved, Wrong, attempt, register
from .judging import as_items, require_image_untouched, snapshot

__all__ = ["MONDAY", "TUESDAY"]


# -- 07.1 a change commit captures, and one it does not ----------------------------------
def _changed(container: Container) -> bool:
    """Does the container see anything different from a fresh one of the same name?"""
    fresh = Container(container.image_layers, name=container.name, hostname=container.hostname)
    return len(container.rw) > 0 or container.mounts != fresh.mounts


def check_capture(answer: object) -> str:
    if callable(answer) or isinstance(answer, (str, bytes)) or not hasattr(answer, "__iter__"):
        raise Wrong("shape", _("pass both functions: check('07.1', (captured, not_captured))"))
    pair = as_items(answer, what=_("both functions"), example="(captured, not_captured)")
    if len(pair) != 2:
        raise Wrong("shape", _("pass both functions: check('07.1', (captured, not_captured))"))
    captured, not_captured = pair
    image = ubuntu_image()
    first, second = Container(image, name="first"), Container(image, name="second")
    before = snapshot(first.image_layers)
    attempt(captured, first, name="captured")
    attempt(not_captured, second, name="not_captured")
    require_image_untouched(before, first)
    require_image_untouched(before, second)
    for container, name in ((first, "captured"), (second, "not_captured")):
        if container.init != Container(image, name=container.name).init:
            raise Wrong(
                "edited-init",
                _(
                    "{name}() edited the init layer object itself. Docker writes that layer "
                    "once, when it creates the container; a process in the container changes "
                    "files through the rw layer or Docker's bind mounts, never the init layer."
                ).format(name=name),
            )
    if not _changed(first) and not _changed(second):
        raise NotSolved()
    if not _changed(first):
        raise Wrong("captured-nothing", _("captured() changed nothing the container can see."))
    if first.commit().layer is None:
        raise Wrong(
            "captured-bind",
            _(
                "captured() only changed Docker's own files (hostname, "
                "hosts, resolv.conf). They are bind mounts, so commit never sees them: "
                "change or create an ordinary file."
            ),
        )
    if not _changed(second):
        raise Wrong(
            "no-visible-change",
            _(
                "not_captured() changed nothing the container can see. "
                "Make a change that the container sees but that commit leaves out."
            ),
        )
    layer = second.commit().layer
    if layer is not None:
        raise Wrong(
            "in-rw",
            _(
                "not_captured() changed {path} in the rw layer, and "
                "commit captures all of the rw layer. Which files does Docker keep outside "
                "it, in the container's own directory?"
            ).format(path=layer.paths()[-1]),
        )
    return _(
        "captured() changed the rw layer, which commit turns into a new layer; "
        "not_captured() wrote to a bind-mounted file the rw layer never sees."
    )


CAPTURE_STUB = '''
def captured(container):
    """Make a change that commit captures."""
    ...  # YOUR CODE HERE

def not_captured(container):
    """Make a change the container sees but commit leaves out."""
    ...  # YOUR CODE HERE

check("07.1", (captured, not_captured))
'''

CAPTURE_SOLUTION = '''
def captured(container):
    """Make a change that commit captures."""
    container.write("/etc/motd", "committed\\n")         # goes to the rw layer

def not_captured(container):
    """Make a change the container sees but commit leaves out."""
    container.write("/etc/hostname", "not-committed\\n")  # a bind mount, not the rw layer

check("07.1", (captured, not_captured))
'''


# -- 07.2 the config of the committed image -----------------------------------------------
#: When the commit happens: later than the parent's `created`, as in any real commit.
COMMIT_TIME = "2018-06-01T12:00:00Z"
#: What Docker 20.10's commit adds that layerlab's model has no data for: which container
#: the image came from (engine_facts.COMMIT_WRITES). An answer may carry them.
DOCKER_ONLY_FIELDS = ("container", "container_config", "docker_version")


def _commit_cases() -> list[tuple[dict[str, Any], str | None, dict[str, str], bytes]]:
    """(parent config, new DiffID or None, history entry, the config commit really wrote)."""
    image = ubuntu_image()
    changed = Container(image, name="changed")
    changed.write("/etc/motd", "hello\n")
    step = {"created": COMMIT_TIME, "created_by": "layerlab commit"}
    cases = []
    for container in (changed, Container(image, name="untouched")):
        result = container.commit(created_by=step["created_by"], created=step["created"])
        cases.append((image.config, result.diff_id, step, result.image.config_bytes))
    return cases


def _diagnose_config(answer: dict[str, Any], parent: dict[str, Any], diff_id: str | None) -> None:
    parent_ids = parent["rootfs"]["diff_ids"]
    ids = answer.get("rootfs", {}).get("diff_ids")
    history = answer.get("history", [])
    if diff_id is not None:
        if ids == [diff_id]:
            raise Wrong(
                "replaced",
                _(
                    "rootfs.diff_ids lists the whole stack, bottom first: "
                    "append the new DiffID, don't replace the list."
                ),
            )
        if ids == [diff_id, *parent_ids]:
            raise Wrong(
                "prepended",
                _(
                    "the new layer goes on top, which is the *end* of "
                    "rootfs.diff_ids (the list is bottom first)."
                ),
            )
        if ids == parent_ids:
            raise Wrong("no-diff-id", _("the new layer's DiffID is missing from rootfs.diff_ids."))
    elif ids is not None and ids[len(parent_ids) :] in ([EMPTY_TAR_DIFF_ID], [None]):
        raise Wrong(
            "empty-tar",
            _(
                "a commit that changed nothing adds no layer at all, not an "
                "empty one: rootfs.diff_ids stays as it was."
            ),
        )
    if len(history) == len(parent.get("history", [])):
        raise Wrong(
            "no-history",
            _("every commit adds one history entry (what `docker history` shows): append `step`."),
        )
    last = history[-1] if history else {}
    if diff_id is None and not last.get("empty_layer"):
        raise Wrong(
            "no-empty-flag",
            _(
                "a history entry without a layer is marked "
                "empty_layer: true; readers pair the other entries with diff_ids, so it "
                "must be."
            ),
        )
    if diff_id is not None and last.get("empty_layer"):
        raise Wrong(
            "flag-with-layer",
            _("this commit did add a layer, so its history entry must not say empty_layer."),
        )


def _mismatch(answer: dict[str, Any], parent: dict[str, Any], step: dict, truth: bytes) -> Wrong:
    if answer.get("created") == parent.get("created") != step.get("created"):
        return Wrong(
            "created",
            _(
                "the config still says when the parent was made. `docker commit` stamps the "
                "new config with the commit's time: set `created` to the step's."
            ),
        )
    expected = json.loads(truth)
    differing = sorted(
        k
        for k in set(answer) | set(expected)
        if canonical_json(answer.get(k)) != canonical_json(expected.get(k))
    )
    return Wrong(
        "mismatch",
        _(
            "your config differs from commit's in {fields}; "
            "start from a copy of the parent's config."
        ).format(fields=differing or _("layout")),
    )


def check_config(solve: object) -> str:
    ids, with_docker_fields, mismatches = [], False, []
    for parent, diff_id, step, truth in _commit_cases():
        answer = attempt(solve, copy.deepcopy(parent), diff_id, dict(step))
        if answer is None or answer is Ellipsis:
            raise NotSolved()
        if not isinstance(answer, dict):
            raise Wrong(
                "not-dict",
                _("return the new config as a dict, not a {type}").format(
                    type=type(answer).__name__
                ),
            )
        docker_fields = {k for k in DOCKER_ONLY_FIELDS if k in answer}
        mine = {k: v for k, v in answer.items() if k not in docker_fields}
        try:
            written = canonical_json(mine)
        except (TypeError, ValueError) as exc:
            raise Wrong(
                "not-json",
                _(
                    "your config cannot be written as JSON ({error}): use dicts, "
                    "lists, strings and numbers only"
                ).format(error=exc),
            ) from None
        if written == truth:
            ids.append(sha256_digest(truth))
            with_docker_fields = with_docker_fields or bool(docker_fields)
            continue
        _diagnose_config(answer, parent, diff_id)
        mismatches.append(_mismatch(mine, parent, step, truth))
    if mismatches:  # no case showed a structural mistake: name the first difference
        raise mismatches[0]
    if with_docker_fields:
        return _(
            "both configs are what commit writes, plus the fields Docker adds about the "
            "container ({fields}); without them the image IDs would "
            "be commit's ({first}... and {second}...)."
        ).format(fields=", ".join(DOCKER_ONLY_FIELDS), first=ids[0][:19], second=ids[1][:19])
    return _(
        "both configs are byte for byte what commit writes, so the image IDs agree "
        "({first}... and {second}...)."
    ).format(first=ids[0][:19], second=ids[1][:19])


CONFIG_STUB = '''
def solve(parent_config, diff_id, step):
    """Return the committed image's config. diff_id is the new layer's DiffID, or None
    when the container changed nothing; step is the commit's history entry."""
    ...  # YOUR CODE HERE

check("07.2", solve)
'''

CONFIG_SOLUTION = '''
import copy

def solve(parent_config, diff_id, step):
    """Return the committed image's config. diff_id is the new layer's DiffID, or None
    when the container changed nothing; step is the commit's history entry."""
    config = copy.deepcopy(parent_config)
    config["created"] = step["created"]               # commit stamps its own time
    step = dict(step)
    if diff_id is None:
        step["empty_layer"] = True                     # history, but no layer
    else:
        config["rootfs"]["diff_ids"].append(diff_id)   # the new layer goes on top
    config["history"].append(step)
    return config

check("07.2", solve)
'''


# -- 07.3 reproducible commits ------------------------------------------------------------
#: The clocks of two runs of the same job, one day apart (seconds since 1970).
MONDAY, TUESDAY = 1_700_000_000, 1_700_086_400


def _without_mtimes(layer: Layer) -> Layer:
    return Layer((p, replace(e, meta=e.meta.with_(mtime=0))) for p, e in layer.items())


def check_reproducible(solve: object) -> str:
    image = ubuntu_image()
    runs = [
        Container(image, name="monday", clock=MONDAY),
        Container(image, name="tuesday", clock=TUESDAY),
    ]
    results = [attempt(solve, container) for container in runs]
    if all(r is None or r is Ellipsis for r in results):
        raise NotSolved()
    if not all(isinstance(r, CommitResult) for r in results):
        raise Wrong("shape", _("return what container.commit(...) returns"))
    first, second = results
    if first.layer is None or second.layer is None:
        raise Wrong(
            "no-layer",
            _(
                "make a change before committing: a commit without a layer "
                "is trivially the same every time."
            ),
        )
    if first.diff_id != second.diff_id:
        if _without_mtimes(first.layer) == _without_mtimes(second.layer):
            raise Wrong(
                "mtime",
                _(
                    "the two runs made the same change on different days, so the "
                    "files' mtimes in the tar differ, and with them the DiffID. Give commit "
                    "a fixed mtime (the idea behind SOURCE_DATE_EPOCH)."
                ),
            )
        raise Wrong(
            "different-change",
            _(
                "the two runs changed different things (does your "
                "change depend on the container, its name or the time?)."
            ),
        )
    if first.image.id != second.image.id:
        raise Wrong(
            "created",
            _(
                "same layer, but the image configs differ: something in the "
                "config, like `created` or a comment, changes from run to run."
            ),
        )
    return _(
        "both runs give DiffID {diff_id}... and image ID {image_id}...: same change, same digests."
    ).format(diff_id=first.diff_id[:19], image_id=first.image.id[:19])


REPRO_STUB = '''
def solve(container):
    """Change /etc/motd and commit, so that every run gives the same digests."""
    ...  # YOUR CODE HERE

check("07.3", solve)
'''

REPRO_SOLUTION = '''
def solve(container):
    """Change /etc/motd and commit, so that every run gives the same digests."""
    container.write("/etc/motd", "built by CI\\n")
    return container.commit(mtime=0)    # fixed file times; `created` is fixed by default

check("07.3", solve)
'''

register(
    Exercise(
        "07.1",
        N_("a change commit captures, and one it leaves out"),
        CAPTURE_STUB,
        CAPTURE_SOLUTION,
        check_capture,
    ),
    Exercise(
        "07.2", N_("the config of the committed image"), CONFIG_STUB, CONFIG_SOLUTION, check_config
    ),
    Exercise("07.3", N_("reproducible commits"), REPRO_STUB, REPRO_SOLUTION, check_reproducible),
)
