"""`layerlab render IMAGE -o out.svg|.png|.dot` and `--text`, through `cli_render`."""

from __future__ import annotations

import pytest
import render_scenes

from layerlab.cli import main
from layerlab.commit import build_image
from layerlab.entries import File
from layerlab.formats.docker_archive import save_docker_archive
from layerlab.formats.oci import save_oci
from layerlab.layer import Layer
from layerlab.render import RenderError, cli_render, overview
from layerlab.safety import LayerlabError


@pytest.fixture(params=["oci", "docker-archive"])
def image_on_disk(request, tmp_path):
    """The demo image as `docker save` or an OCI layout writes it."""
    image = render_scenes.image()
    if request.param == "oci":
        save_oci(image, tmp_path / "layout", tag="demo")
        return image, str(tmp_path / "layout")
    save_docker_archive(image, tmp_path / "demo.tar", tag="demo:1")
    return image, str(tmp_path / "demo.tar")


@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_layerlab_render_writes_a_picture(image_on_disk, suffix, tmp_path, capsys, dot):
    image, ref = image_on_disk
    out = tmp_path / f"stack.{suffix}"
    assert main(["render", ref, "-o", str(out)]) == 0
    data = out.read_bytes()
    if suffix == "png":
        assert data.startswith(b"\x89PNG")
    else:
        text = data.decode().replace("&#45;", "-")
        assert all(diff_id[7:19] in text for diff_id in image.diff_ids)
        assert "merged view" in text and "WHITEOUT" in text


def test_layerlab_render_text_prints_the_tree(image_on_disk, capsys):
    image, ref = image_on_disk
    assert main(["render", ref, "--text"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stack: 2 image layers, 8 paths")
    assert f"L1  {image.diff_ids[1][7:19]}  -- RUN rm /etc/passwd && build app" in out
    assert "✗ WHITEOUT (.wh.passwd)" in out


def test_layerlab_render_dot_needs_no_graphviz(image_on_disk, tmp_path):
    _, ref = image_on_disk
    out = tmp_path / "stack.dot"
    assert main(["render", ref, "-o", str(out)]) == 0
    assert out.read_text().startswith("digraph stack {")


def test_unknown_format_is_a_one_line_error_and_writes_nothing(image_on_disk, tmp_path, capsys):
    _, ref = image_on_disk
    assert main(["render", ref, "-o", str(tmp_path / "stack.pdf")]) == 1
    err = capsys.readouterr().err
    assert (
        err == "layerlab: error: cannot write 'stack.pdf': use a name ending in .svg, "
        ".png or .dot\n"
    )
    assert not list(tmp_path.glob("*stack*"))  # no file, no temp file


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(RenderError, match="does not exist"):
        cli_render(render_scenes.image(), tmp_path / "no" / "x.dot", False)
    assert not (tmp_path / "no").exists()


def test_nothing_to_do_is_refused():
    with pytest.raises(LayerlabError, match="give -o FILE"):
        cli_render(render_scenes.image(), None, False)


def test_a_failed_drawing_leaves_the_old_file_and_no_temp_files(tmp_path, monkeypatch):
    target = tmp_path / "old.svg"
    target.write_text("old picture")
    monkeypatch.setattr("layerlab.render.figure.Figure.pipe", lambda self, fmt="svg": None)
    with pytest.raises(RenderError):
        cli_render(render_scenes.image(), target, False)
    assert [p.name for p in tmp_path.iterdir()] == ["old.svg"]
    assert target.read_text() == "old picture"


def test_big_images_render_as_the_summary():
    small = overview(render_scenes.image())
    files = {f"/usr/lib/f{i:03d}": File.of(str(i)) for i in range(200)}
    big = overview(build_image([Layer(files, created_by="ADD lib /")]))
    assert small.kind == "stack diagram" and big.kind == "image summary"
