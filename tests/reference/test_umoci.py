"""layerlab against umoci, the OCI project's own unpacker (Debian package `umoci`).

* `layerlab flatten` of a random OCI image equals `umoci unpack` of the same layout:
  types, contents, modes, owners, link targets, xattrs, mtimes and hardlink groups.
* The layer `layerlab diff OLD NEW` writes turns OLD into NEW when umoci applies it.
* Where the two disagree by design (a layer writing below a lower symlink), a dedicated
  test pins both behaviours, so a change on either side is noticed.

The images are written by layerlab's own OCI writer, so umoci also checks that writer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from umoci_stacks import differences, layer_stacks, one_layer, snapshot

from layerlab.cli import main
from layerlab.commit import build_image
from layerlab.entries import Dir, File, Meta, Symlink
from layerlab.formats.oci import save_oci
from layerlab.layer import Layer
from layerlab.tar.flatten import flatten

pytestmark = pytest.mark.reference

# Few examples, fixed seed: the suite stays fast and a failure reproduces everywhere.
RANDOM = settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _as_root(need_root) -> None:
    need_root("umoci unpack keeps owners and makes device nodes only as root")


def _fresh(base: Path) -> Path:
    path = base / uuid.uuid4().hex[:8]
    path.mkdir()
    return path


def _umoci_unpack(umoci: str, layout: Path, work: Path) -> Path:
    bundle = work / "bundle"
    done = subprocess.run(
        [umoci, "unpack", "--image", f"{layout}:t", str(bundle)], capture_output=True, text=True
    )
    assert done.returncode == 0, f"umoci unpack failed: {done.stderr.strip()[-500:]}"
    return bundle / "rootfs"


def _without_dest(ours: dict, theirs: dict) -> None:
    """DEST itself is 0700 and ours, like umoci's bundle directory, whatever the image's
    root entry says (the safe default for untrusted images; tests/hostile checks it);
    umoci's rootfs inside the bundle is 0755. Compare everything below it."""
    assert ours.pop("/")[0] == "drwx------"
    theirs.pop("/")


def _save(layers: list[Layer], work: Path, compression: str | None) -> Path:
    layout = work / "oci"
    save_oci(build_image(layers), layout, tag="t", compression=compression)
    return layout


@RANDOM
@given(layers=layer_stacks(), compression=st.sampled_from([None, "gzip"]))
def test_flatten_equals_umoci_unpack(layers, compression, umoci, tmp_path) -> None:
    """Whiteouts, opaque dirs, type changes, symlinks and hardlinks apply as umoci applies them."""
    work = _fresh(tmp_path)
    for layer in layers:
        note(str(layer))
    layout = _save(layers, work, compression)
    theirs = snapshot(_umoci_unpack(umoci, layout, work))
    assert main(["flatten", "--no-progress", f"{layout}:t", str(work / "flat")]) == 0
    ours = snapshot(work / "flat")
    _without_dest(ours, theirs)
    assert ours == theirs, "\n".join(differences(ours, theirs))
    shutil.rmtree(work)


@RANDOM
@given(data=st.data())
def test_diff_layer_reproduces_new_when_umoci_applies_it(data, umoci, tmp_path) -> None:
    """OLD + (layerlab diff OLD NEW) == NEW, applied by umoci on an image holding OLD."""
    work = _fresh(tmp_path)
    old_layers = data.draw(layer_stacks(max_layers=2), label="old")
    old_view = build_image(old_layers).view()
    change = data.draw(one_layer(old_view), label="change")
    flatten(old_layers, work / "old", progress=False)
    flatten([*old_layers, change], work / "new", progress=False)

    assert main(["diff", str(work / "old"), str(work / "new"), "-o", str(work / "d.tar")]) == 0
    layout = _save(old_layers, work, None)
    subprocess.run(
        [umoci, "raw", "add-layer", "--image", f"{layout}:t", str(work / "d.tar")],
        check=True,
        capture_output=True,
    )
    theirs = snapshot(_umoci_unpack(umoci, layout, work), mtimes=False)
    ours = snapshot(work / "new", mtimes=False)
    del theirs["/"], ours["/"]
    assert theirs == ours, "\n".join(differences(ours, theirs))
    shutil.rmtree(work)


def test_writing_below_a_lower_symlink_is_where_umoci_and_overlay_disagree(umoci, tmp_path):
    """docs/semantics.md, "Where implementations disagree": a layer adds lib/foo, lower lib is a
    symlink to usr/lib. umoci writes through the link (usr/lib/foo); overlay storage and
    Docker make lib a real directory, and so does layerlab (a container sees that)."""
    lower = Layer({"/usr": Dir(), "/usr/lib": Dir(), "/lib": Symlink(Meta(mode=0o777), "usr/lib")})
    upper = Layer({"/lib/foo": File.of("foo")})
    layout = _save([lower, upper], tmp_path, None)
    theirs = _umoci_unpack(umoci, layout, tmp_path)
    assert os.path.islink(theirs / "lib")
    assert (theirs / "usr/lib/foo").read_text() == "foo"

    ours = tmp_path / "flat"
    flatten([lower, upper], ours, progress=False)
    assert (ours / "lib").is_dir() and not (ours / "lib").is_symlink()
    assert (ours / "lib/foo").read_text() == "foo"
    assert not (ours / "usr/lib/foo").exists()


def test_an_unlisted_existing_parent_is_where_umoci_and_docker_storage_disagree(umoci, tmp_path):
    """A layer adds /d/new without an entry for /d, and a lower /d is 0700 and owned by 1000.
    umoci keeps the lower /d; Docker's per-layer storage creates /d in the new layer as a
    0755 root dir, which overlayfs shows, and so does layerlab."""
    lower = Layer({"/d": Dir(Meta(mode=0o700, uid=1000, gid=1000)), "/d/old": File.of("o")})
    upper = Layer({"/d/new": File.of("n")})
    theirs = snapshot(_umoci_unpack(umoci, _save([lower, upper], tmp_path, None), tmp_path))
    flatten([lower, upper], tmp_path / "flat", progress=False)
    ours = snapshot(tmp_path / "flat")
    assert theirs["/d"][:3] == ("drwx------", 1000, 1000)
    assert ours["/d"][:3] == ("drwxr-xr-x", 0, 0)
    del theirs["/d"], ours["/d"]
    _without_dest(ours, theirs)
    assert ours == theirs, "\n".join(differences(ours, theirs))


def test_missing_parents_become_root_owned_0755_dirs_in_both(umoci, tmp_path) -> None:
    """OCI layer spec / semantics rule 5: a layer with only new/deep/x creates new and deep."""
    layers = [Layer({"/x": File.of("x")}), Layer({"/new/deep/x": File.of("x", mode=0o600)})]
    theirs = snapshot(_umoci_unpack(umoci, _save(layers, tmp_path, None), tmp_path))
    flatten(layers, tmp_path / "flat", progress=False)
    ours = snapshot(tmp_path / "flat")
    assert ours["/new"][:3] == ("drwxr-xr-x", 0, 0)
    _without_dest(ours, theirs)
    assert ours == theirs, "\n".join(differences(ours, theirs))
