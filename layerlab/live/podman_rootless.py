"""Notebooks 01 and 05: what rootless Podman does as an ordinary user.

One run of rootless Podman (`layerlab.live.podman`, a private storage) shows the two
things the course's own rootless runtime does too: a user namespace in which the
container's root is the user's own uid, and overlayfs mounted inside it with `userxattr`
(kernel 5.11 and later; older kernels need fuse-overlayfs). Podman maps more uids when
`/etc/subuid` reserves a range for the user and the setuid helper `newuidmap` (Debian's
`uidmap` package) is there to apply it; otherwise it maps the user's uid alone.

Live as an ordinary user when the probe allows user namespaces and rootless overlayfs
and Podman is installed; elsewhere (root, `LAYERLAB_LIVE=0`) the run recorded as an
unprivileged user on Debian 12 with Podman 4.3.1, labelled as such.
tests/live/test_podman_rootless.py re-runs it as uid 65534 and checks the recording.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..container import Container
from ..i18n import N_
from ..tar.write import layer_names
from .docker_commit import BUSYBOX, busybox_base
from .kernel.result import LiveResult, derived, live_world
from .podman import committed_run, rootless_podman_capability

__all__ = ["RootlessPodmanUsers", "RootlessPodmanOverlay", "rootless_podman", "measure"]

#: What the container runs: its uid map and its root mount, then one change to commit.
SCRIPT = "cat /proc/self/uid_map; grep ' / / ' /proc/self/mountinfo; echo hi > /etc/motd"

#: measure()'s answer, recorded as uid 65534 on Debian 12 (kernel 6.x, Podman 4.3.1,
#: no uidmap package, no /etc/subuid entry); tests/live/test_podman_rootless.py re-checks it.
RECORDED: dict[str, object] = {
    "root_is_you": True,
    "uids_mapped": 1,
    "subuid_range": 0,
    "newuidmap": False,
    "fstype": "overlay",
    "userxattr": True,
    "committed": (),
    "overlay_xattrs": (
        "etc/motd: user.overlay.origin",
        "etc: user.overlay.impure",
        "etc: user.overlay.origin",
    ),
}


def _subuid_range(user: str) -> int:
    """How many subordinate uids /etc/subuid reserves for `user` (0 without a line)."""
    try:
        lines = Path("/etc/subuid").read_text().splitlines()
    except OSError:
        return 0
    total = 0
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] in (user, str(os.getuid())) and parts[2].isdigit():
            total += int(parts[2])
    return total


def measure() -> dict[str, object]:
    """Run rootless Podman once, as this user, and say what it did."""
    import pwd  # not in Pyodide: notebook 05 imports this module in JupyterLite too

    busybox = Path(BUSYBOX).read_bytes()
    user = pwd.getpwuid(os.getuid()).pw_name
    with committed_run(busybox_base(busybox), "rootless", SCRIPT) as (saved, output):
        committed, leaked = _top_layer_members(saved)
    lines = output.splitlines()
    maps = [line.split() for line in lines if len(line.split()) == 3]
    root = next(line for line in lines if " / / " in line)
    fstype, _, options = root.split(" - ", 1)[1].split(" ", 2)
    return {
        "root_is_you": any(m[0] == "0" and m[1] == str(os.getuid()) for m in maps),
        "uids_mapped": sum(int(m[2]) for m in maps),
        "subuid_range": _subuid_range(user),
        "newuidmap": shutil.which("newuidmap") is not None,
        "fstype": fstype,
        "userxattr": "userxattr" in options.split(","),
        "committed": committed,
        "overlay_xattrs": leaked,
    }


def _top_layer_members(archive: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The last layer's member names, and `path: xattr` for each overlayfs xattr in it.

    Read with tarfile, not layerlab's loader: that loader refuses a layer carrying
    overlayfs's own markers, and rootless Podman 4.3 writes `user.overlay.*` into its
    commits.
    """
    with tarfile.open(archive) as outer:

        def blob(digest: str) -> bytes:
            member = outer.extractfile("blobs/sha256/" + digest.split(":", 1)[1])
            assert member is not None
            return member.read()

        index = json.loads(outer.extractfile("index.json").read())  # type: ignore[union-attr]
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        data = blob(manifest["layers"][-1]["digest"])
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as layer:
        members = layer.getmembers()
    names = tuple(sorted(m.name.rstrip("/") for m in members))
    leaked = tuple(
        sorted(
            f"{m.name.rstrip('/')}: {key.removeprefix('SCHILY.xattr.')}"
            for m in members
            for key in m.pax_headers
            if key.startswith("SCHILY.xattr.") and ".overlay." in key
        )
    )
    return names, leaked


def model_commit() -> tuple[str, ...]:
    """layerlab's Podman profile, running the same change on the same base."""
    container = Container([busybox_base()], engine="podman")
    container.write("/etc/motd", "hi\n")
    return layer_names(container.commit().layer)


@dataclass(frozen=True, kw_only=True)
class RootlessPodmanUsers(LiveResult):
    """Notebook 01: the user namespace rootless Podman puts its container in."""

    title: ClassVar[str] = N_("rootless Podman: a user namespace, as an ordinary user")
    lesson: ClassVar[str] = N_(
        "Podman's container root is your own uid, as in user_mapping() above. With a range "
        "for you in /etc/subuid and newuidmap to apply it, uids 1 and up inside would come "
        "from that range (Exercise 01.3); without, your uid is mapped alone."
    )
    measured: dict
    root_is_you = derived(
        N_("uid 0 in the container is your uid outside"), lambda r: r.measured["root_is_you"]
    )
    uids_mapped = derived(N_("uids mapped into the container"), lambda r: r.measured["uids_mapped"])
    subuid_range = derived(
        N_("subordinate uids for you in /etc/subuid"), lambda r: r.measured["subuid_range"]
    )
    newuidmap = derived(
        N_("newuidmap installed (package uidmap)"), lambda r: r.measured["newuidmap"]
    )


@dataclass(frozen=True, kw_only=True)
class RootlessPodmanOverlay(LiveResult):
    """Notebook 05: the overlay mount and the commit of rootless Podman."""

    title: ClassVar[str] = N_("rootless Podman: overlayfs inside a user namespace")
    lesson: ClassVar[str] = N_(
        "Podman mounts the kernel's overlayfs with userxattr inside its user namespace, as "
        "overlay_lab does rootless; no fuse-overlayfs is needed on this kernel. Its commit "
        "holds the same placeholders as a root Podman's (notebook 06)."
    )
    measured: dict
    model: tuple[str, ...]
    fstype = derived(N_("the container's / is mounted as"), lambda r: r.measured["fstype"])
    userxattr = derived(N_("with the mount option userxattr"), lambda r: r.measured["userxattr"])
    committed = derived(
        N_("podman commit's layer after echo hi > /etc/motd"),
        lambda r: list(r.measured["committed"]),
    )
    same_as_model = derived(
        N_("the same as layerlab's Container(engine='podman')"),
        lambda r: r.measured["committed"] == r.model,
    )
    overlay_xattrs = derived(
        N_("overlayfs's own xattrs written into that layer"),
        lambda r: list(r.measured["overlay_xattrs"]),
    )


def rootless_podman() -> tuple[RootlessPodmanUsers, RootlessPodmanOverlay]:
    """Both views of one rootless Podman run: live where allowed, else the recording."""
    ok, why = rootless_podman_capability()
    measured, live = dict(RECORDED, committed=model_commit()), False
    if ok:
        try:
            measured, live = measure(), True
        except (OSError, subprocess.SubprocessError, AssertionError, ValueError) as exc:
            why = f"rootless podman: the live run failed ({' '.join(str(exc).split())[:160]})"
    world = live_world() if live else "simulated"
    reason = "" if live else f"{why}; showing a run recorded as an ordinary user (Podman 4.3.1)"
    return (
        RootlessPodmanUsers(live=live, world=world, reason=reason, measured=measured),
        RootlessPodmanOverlay(
            live=live, world=world, reason=reason, measured=measured, model=model_commit()
        ),
    )
