"""The Kubernetes singleuser image: built here from Debian's packages, then run.

workshop/kubernetes/build-image makes the base with debootstrap and `docker import` (no
registry is reachable) and builds workshop/kubernetes/Dockerfile on it. The image must
then execute the start notebook as its unprivileged user (uid 1000, as Zero to
JupyterHub runs it), with no network, and say which live labs a pod like it can run.

Building costs minutes (debootstrap alone is 2 to 5 on our machines), more than CI's
budget allows on every run, so this runs with `make test-image`, which sets
LAYERLAB_IMAGE_TEST=1; without it the test is skipped and says so.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from needs import need_root, need_tool

REPO = Path(__file__).resolve().parents[2]
TAG = "layerlab/singleuser:test"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("LAYERLAB_IMAGE_TEST") != "1",
        reason="builds an image for minutes; run it with `make test-image`",
    ),
]


@pytest.fixture(scope="module")
def image(docker):
    need_root("debootstrap and docker import need root")
    need_tool("debootstrap")
    subprocess.run([str(REPO / "workshop/kubernetes/build-image"), TAG], check=True)
    yield TAG
    subprocess.run([docker, "image", "rm", "--force", TAG], capture_output=True)


def run_in(docker: str, image: str, script: str, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [docker, "run", "--rm", "--network", "none", *options, image, "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_image_runs_the_start_notebook_as_an_unprivileged_user(docker, image):
    done = run_in(
        docker,
        image,
        "id -u && cp -r /opt/layerlab ~/layerlab && cd ~/layerlab/notebooks && "
        "jupyter nbconvert --to notebook --execute 00-start-here.ipynb "
        "--output /tmp/start.ipynb --ExecutePreprocessor.timeout=300 >&2 && cat /tmp/start.ipynb",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    uid, _, notebook = done.stdout.partition("\n")
    assert uid == "1000"
    cells = [c for c in json.loads(notebook)["cells"] if c["cell_type"] == "code"]
    errors = [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert cells and not errors, errors
    assert all(c.get("execution_count") for c in cells), "a cell did not run"


def probe(docker: str, image: str, *options: str) -> dict[str, dict]:
    done = run_in(docker, image, "layerlab probe --json", *options)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_which_labs_a_pod_like_it_runs_live(docker, image):
    """Default container security: the rootless labs fall back to the simulation. With
    seccomp and AppArmor unconfined and /proc unmasked (the pod settings in values.yaml,
    here as Docker's options), a learner gets user namespaces; and rootless overlayfs once
    /tmp is a tmpfs rather than the container's own overlay root (values.yaml mounts one)."""
    default = probe(docker, image)
    assert not default["cgroups"]["available"], "uid 1000 in a container must not make cgroups"
    assert not default["user_namespaces"]["available"], default["user_namespaces"]["reason"]
    unconfined = [
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "apparmor=unconfined",
        "--security-opt",
        "systempaths=unconfined",
    ]
    opened = probe(docker, image, *unconfined)
    assert opened["user_namespaces"]["available"], opened["user_namespaces"]["reason"]
    with_tmpfs = probe(docker, image, *unconfined, "--tmpfs", "/tmp:exec")
    live = {name for name, cap in with_tmpfs.items() if cap["available"]}
    assert {"user_namespaces", "overlayfs_rootless", "pivot_root"} <= live, (
        with_tmpfs,
        opened["overlayfs_rootless"]["reason"],
    )
    assert "cgroups" not in live
