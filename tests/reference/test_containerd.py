"""containerd's image store, as notebook 04 shows it, against a real containerd.

Each test starts a private containerd (`layerlab.live.containerd.private_containerd`: its
own root, state and socket in a temp dir, always stopped and removed), imports an image
that layerlab wrote, and compares what containerd did with what the course predicts: the
snapshot keys and parents, the numbered `snapshots/<n>/fs` directories with their
whiteouts and opaque dirs, the container's overlay mount, and the image ID.
"""

from __future__ import annotations

import glob
import os
import tempfile

import pytest
from docker_engine import Engine
from needs import need_root, need_tool

from layerlab.container import Container
from layerlab.live import containerd
from layerlab.live.engine_facts import CONTAINERD_OVERLAYFS_ROOT
from layerlab.live.kernel.cleanup import TEMP_PREFIX
from layerlab.samples import app_image, ubuntu_image

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    need_root("running a private containerd")
    need_tool("containerd")
    need_tool("ctr")


def _leftovers() -> list[str]:
    return glob.glob(os.path.join(tempfile.gettempdir(), f"{TEMP_PREFIX}containerd*"))


def test_the_lab_runs_live_and_containerd_lays_out_what_the_course_predicts():
    """ubuntu: five committed snapshots keyed by chain ID, an init snapshot, an active one."""
    before = _leftovers()
    container = Container(ubuntu_image(), name="demo")
    lab = containerd.containerd_lab(container, limit=10)
    assert lab.live, lab.reason
    assert lab.matches
    assert lab.layout() == containerd.predicted_layout(container, limit=10)
    assert lab.mount == containerd.predicted_mount(container)
    assert _leftovers() == before


def test_whiteouts_and_opaque_dirs_land_in_the_snapshot_dirs_as_overlayfs_spells_them():
    """A committed image with a whiteout and an opaque dir: containerd's unpack writes char
    0/0 and trusted.overlay.opaque, exactly the course's listing."""
    base = app_image()
    work = Container(base, name="work")
    work.unlink("/etc/motd")
    work.remove("/srv/app")
    work.mkdir("/srv/app")
    work.write("/srv/app/new.txt", "new\n")
    image = work.commit().image
    container = Container(image, name="next")
    lab = containerd.containerd_lab(container, limit=50)
    assert lab.live, lab.reason
    assert lab.matches, lab.layout()
    assert "motd  (char device 0/0: whiteout)" in lab.layout()
    assert "app/  [xattr overlay.opaque=y: opaque]" in lab.layout()


def test_the_image_id_is_the_manifest_digest_not_the_config_digest():
    """`ctr images ls` names the image by what its name points at: the manifest."""
    image = ubuntu_image()
    with containerd.private_containerd() as client, tempfile.TemporaryDirectory() as tmp:
        digest = containerd._import(client, image, tmp)
        assert digest == containerd.manifest_digest(image)
        assert digest != image.id
        keys = [line.split()[0] for line in client("snapshots", "ls").splitlines()[1:]]
        assert sorted(keys) == sorted(image.chain_ids)
        assert os.path.isfile(os.path.join(client.snapshotter, "metadata.db"))
        assert client.snapshotter.endswith(CONTAINERD_OVERLAYFS_ROOT)


def test_a_private_containerd_is_gone_after_an_exception():
    """However the block ends, the daemon stops and its directories go."""
    before = _leftovers()
    with pytest.raises(RuntimeError), containerd.private_containerd() as client:
        socket = client.address
        assert os.path.exists(socket)
        raise RuntimeError("boom")
    assert not os.path.exists(socket)
    assert _leftovers() == before


def test_docker_info_of_the_classic_store_names_overlay2_without_a_driver_type(docker: str):
    """The course's way to tell the stores apart: the classic store says overlay2 and has
    no `driver-type`; the containerd store says `driver-type io.containerd.snapshotter.v1`
    (cited in notebook 04's sources; the Debian engine here predates that store)."""
    engine = Engine(docker)
    assert engine("info", "--format", "{{.Driver}}") == "overlay2"
    status = engine("info", "--format", "{{json .DriverStatus}}")
    assert "driver-type" not in status
