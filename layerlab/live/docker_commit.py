"""Notebook 07's lab: the same commit, once in layerlab and once in a real Docker engine.

A small busybox image is imported into Docker, a container runs one shell script on it
(`--network none`), and `docker commit` captures it; `docker save` hands the result back,
and layerlab reads it like any archive. The same steps run on a layerlab `Container` over
the very same base layers. The lab then compares what a learner cares about: the member
names of the committed layer, and the merged tree of the new image.

Without an engine (the probe says no, or `LAYERLAB_LIVE=0`), the lab shows a run recorded
on Docker 20.10 with overlay2, labelled as such, with the same facts: the model's side is
still computed, so the comparison stays honest. The test suite re-runs the live lab and
checks the recording against it.

Nothing is left behind: the container, both images and the temp dir are removed on every
way out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tarfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..commit import build_image
from ..container import Container
from ..entries import File, Symlink
from ..image import Image, LayerRef
from ..layer import Layer
from ..tar.write import layer_names, write_changeset
from ..union import UnionView
from .kernel.cleanup import temp_dir
from .kernel.probe import missing
from .kernel.result import LiveResult, derived, fact, live_world

__all__ = [
    "STEPS",
    "RECORDED_DOCKER_LAYER",
    "CommitComparison",
    "compare_with_docker",
    "busybox_base",
]

#: Each step as the shell runs it in Docker, and as the same operation on the model.
STEPS: tuple[tuple[str, Callable[[Container], object]], ...] = (
    (
        "echo 'hello from a container' > /etc/motd",
        lambda c: c.write("/etc/motd", "hello from a container\n"),
    ),
    ("rm /etc/issue", lambda c: c.unlink("/etc/issue")),
    ("mkdir /srv/site", lambda c: c.mkdir("/srv/site")),
    (
        "echo '<h1>hi</h1>' > /srv/site/index.html",
        lambda c: c.write("/srv/site/index.html", "<h1>hi</h1>\n"),
    ),
    ("rm -r /data", lambda c: c.remove("/data")),
    ("mkdir /data", lambda c: c.mkdir("/data")),
    ("echo z > /data/z", lambda c: c.write("/data/z", "z\n")),
    ("rm /.dockerenv", lambda c: c.unlink("/.dockerenv")),
    ("echo web > /etc/hostname", lambda c: c.write("/etc/hostname", "web\n")),
    ("echo '10.0.0.5 db' >> /etc/hosts", lambda c: c.append("/etc/hosts", "10.0.0.5 db\n")),
)

#: The member names of the layer `docker commit` made from STEPS, recorded with Docker
#: 20.10.24 (overlay2) on Debian 12; tests/exercises/test_docker_lab.py re-checks them.
RECORDED_DOCKER_LAYER: tuple[str, ...] = (
    ".wh..dockerenv",
    "data",
    "data/.wh..wh..opq",
    "data/z",
    "etc",
    "etc/.wh.issue",
    "etc/motd",
    "srv",
    "srv/site",
    "srv/site/index.html",
)

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "rm", "mkdir", "cat", "ls")


def busybox_base(busybox: bytes = b"busybox stand-in\n") -> Layer:
    """The base image's one layer: busybox with a few applets, and files to change."""
    layer = Layer(
        {
            BUSYBOX: File.of(busybox, 0o755),
            "/etc/motd": File.of("welcome\n"),
            "/etc/issue": File.of("busybox\n"),
            "/data/old.txt": File.of("old data\n"),
            "/data/keep/notes.txt": File.of("notes\n"),
            "/srv/README": File.of("served files go here\n"),
        },
        created_by="ADD busybox-rootfs.tar /",
    )
    for applet in APPLETS:
        layer[f"/bin/{applet}"] = Symlink(target="busybox")
    return layer


def tree(view: UnionView) -> dict[str, str]:
    """What a process sees, path by path: kind, and contents or link target."""
    out = {}
    for node in view.walk():
        entry = node.entry
        if isinstance(entry, File):
            out[node.path] = f"file {entry.content.digest}"
        elif isinstance(entry, Symlink):
            out[node.path] = f"symlink {entry.target}"
        else:
            out[node.path] = entry.kind.replace("opaque ", "")
    return out


def model_commit(base: Image) -> tuple[Image, Layer | None]:
    """Run STEPS on a layerlab container of `base` and commit it."""
    container = Container(base, name="web", hostname="web")
    for _, step in STEPS:
        step(container)
    result = container.commit()
    return result.image, result.layer


@dataclass(frozen=True, kw_only=True)
class CommitComparison(LiveResult):
    """Docker's committed layer next to layerlab's, and whether the new images agree."""

    title: ClassVar[str] = "the same commit in layerlab and in a real Docker engine"
    lesson: ClassVar[str] = (
        "Both commits hold the rw layer only: the bind-mounted hostname and hosts writes "
        "are in neither, the deleted /.dockerenv is a whiteout in both."
    )
    docker_layer: tuple[str, ...] = fact("docker commit's layer", show=list)
    layerlab_layer: tuple[str, ...] = fact("layerlab commit's layer", show=list)
    same_names = derived("same member names", lambda r: r.docker_layer == r.layerlab_layer)
    same_tree: bool = fact("same merged tree in the new image")


def compare_with_docker() -> CommitComparison:
    """Run the lab in Docker when an engine answers, else show the recorded run."""
    why = missing("docker")
    docker = shutil.which("docker")
    if why is None and docker is None:
        why = "docker: an engine answers, but the docker command is not installed"
    if why is None:
        assert docker is not None
        try:
            return _live(docker)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            why = f"docker: the live run failed ({' '.join(str(exc).split())[:160]})"
    _, layer = model_commit(build_image([busybox_base()], tag="busybox:lab"))
    return CommitComparison(
        live=False,
        world="simulated",
        reason=f"{why}; showing a run recorded with Docker 20.10 (overlay2)",
        docker_layer=RECORDED_DOCKER_LAYER,
        layerlab_layer=layer_names(layer),
        same_tree=True,
    )


def _run(docker: str, *args: str, timeout: float = 120) -> str:
    done = subprocess.run([docker, *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise OSError(f"docker {args[0]} failed: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


def _live(docker: str) -> CommitComparison:
    from ..formats.docker_archive import load_docker_archive

    tag = f"layerlab-lab-{uuid.uuid4().hex[:12]}"
    base_ref, new_ref, name = f"{tag}:base", f"{tag}:committed", tag
    busybox = Path(BUSYBOX).read_bytes()
    with temp_dir("docker-lab") as tmp:
        base_tar = os.path.join(tmp, "base.tar")
        with open(base_tar, "wb") as out:
            write_changeset(busybox_base(busybox), out)
        try:
            _run(docker, "import", base_tar, base_ref)
            script = " && ".join(command for command, _ in STEPS)
            _run(
                docker,
                "create",
                "--name",
                name,
                "--network",
                "none",
                "--hostname",
                "web",
                base_ref,
                "sh",
                "-c",
                script,
            )
            _run(docker, "start", "--attach", name)
            _run(docker, "commit", name, new_ref)
            _run(docker, "save", "-o", os.path.join(tmp, "saved.tar"), new_ref)
        finally:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                _run(docker, "rm", "--force", name, timeout=60)
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                _run(docker, "rmi", "--force", new_ref, base_ref, timeout=60)
        saved = load_docker_archive(os.path.join(tmp, "saved.tar"))
        parent_config = dict(saved.config)
        parent_config["rootfs"] = {"type": "layers", "diff_ids": saved.diff_ids[:-1]}
        parent_config["history"] = saved.history[:-1]
        model_image, model_layer = model_commit(Image(parent_config, saved.layers[:-1]))
        return CommitComparison(
            live=True,
            world=live_world(),
            docker_layer=_blob_names(saved.layers[-1]),
            layerlab_layer=layer_names(model_layer),
            same_tree=tree(saved.view()) == tree(model_image.view()),
        )


def _blob_names(ref: LayerRef) -> tuple[str, ...]:
    """The member names exactly as Docker wrote them into the layer tar."""
    if ref.open_blob is None:
        raise ValueError("the saved layer has no blob to read")
    with ref.open_blob() as blob, tarfile.open(fileobj=blob, mode="r:*") as tar:
        return tuple(sorted(name.rstrip("/") for name in tar.getnames()))
