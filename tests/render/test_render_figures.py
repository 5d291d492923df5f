"""Every renderer, checked the same four ways: DOT snapshot, a real Graphviz run,
byte-identical DOT whatever PYTHONHASHSEED is, and a table (never an error) without dot."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
from pathlib import Path

import graphviz
import pytest
import render_scenes

from layerlab.render import INSTALL_HINT, RenderError

FIGURES = render_scenes.all_figures()
HERE = Path(__file__).parent
ROOT = HERE.parent.parent

#: Labels each picture must show once Graphviz has drawn it.
EXPECTED_LABELS = {
    "stack_container": [
        "merged view",
        "container layer",
        "-init",
        "L0",
        "L1",
        "/etc/passwd",
        "WHITEOUT",
        "OPAQUE dir",
        "copy-up",
        "bind-mounted",
        "never committed",
    ],
    "stack_image": ["merged view", "L0", "L1", "ADD rootfs.tar /", "/app/a", "WHITEOUT"],
    "lookup_whiteout": ["open(/etc/passwd)", "WHITEOUT", "NOT ASKED", "ENOENT"],
    "lookup_opaque": ["OPAQUE", "/app is opaque here", "NOT ASKED"],
    "lookup_bind_mount": ["mount table", "bind mount", "NOT ASKED"],
    "graph": ["demo:1", "web:1", "docker commit", "container demo", "shared by"],
    "namespaces": ["pid namespace: ctr", "pid namespace: host", "sh (pid 1 inside)", "net: ctr"],
    "cgroups": ["/layerlab/demo", "64.0 MiB / 64.0 MiB", "OOM kills", "/layerlab/idle"],
    "timeline": ["step 0", "step 5", "copy-up", "changed here"],
    "frame": ["step 2", "/app/c", "copy-up"],
    "summary": ["layers, top first", "added", "wasted", "biggest waste", "deletions"],
}


def test_every_renderer_is_covered():
    assert set(EXPECTED_LABELS) == set(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_dot_matches_snapshot(name, snapshot):
    """The DOT is ours and stable; a change to a picture shows up as a reviewed diff."""
    snapshot(name, FIGURES[name].dot)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_real_dot_draws_the_expected_labels(name, dot):
    svg = FIGURES[name].svg()
    assert svg is not None, FIGURES[name].problem
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    text = html.unescape(svg).replace("\xa0", " ")  # Graphviz writes "-" as &#45;
    missing = [label for label in EXPECTED_LABELS[name] if label not in text]
    assert not missing, f"{name}: labels missing from the SVG: {missing}"


def test_png_and_dot_files_are_written_whole(dot, tmp_path):
    figure = FIGURES["stack_container"]
    assert figure.save(tmp_path / "s.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (figure.save(tmp_path / "s.dot")).read_text() == figure.dot
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.dot", "s.png"]  # no temp files


def test_notebook_bundle_is_svg_plus_a_stable_one_line_text(dot):
    """nbval compares text/plain; it must not hold a memory address or change between runs."""
    for name, figure in FIGURES.items():
        bundle = figure._repr_mimebundle_()
        assert set(bundle) == {"text/plain", "image/svg+xml"}, name
        plain = bundle["text/plain"]
        assert "\n" not in plain and " at 0x" not in plain, name
        assert plain == repr(render_scenes.all_figures()[name]), name


DETERMINISM_SCRIPT = """
import hashlib, json, sys
sys.path.insert(0, {here!r})
import render_scenes
print(json.dumps({{name: [hashlib.sha256(f.dot.encode()).hexdigest(), repr(f), str(f)]
                  for name, f in render_scenes.all_figures().items()}}))
"""


def _run(script: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_dot_is_byte_identical_under_different_hash_seeds():
    """Sets of strings iterate in hash order; the DOT must never depend on it. Four seeds
    run side by side, so even a two-element set shows its order changing (odds 7 in 8)."""
    script = DETERMINISM_SCRIPT.format(here=str(HERE))
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        for seed in ("1", "2", "3", "4242")
    ]
    outputs = []
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        outputs.append(json.loads(out))
    assert all(output == outputs[0] for output in outputs)


FALLBACK_SCRIPT = """
import json, sys, tempfile, os
sys.path.insert(0, {here!r})
import render_scenes
from layerlab.render import RenderError, cli_render, dot_available
from layerlab.render.widgets import CowPlayer, ImageCompare, StackExplorer
report = {{"dot_available": dot_available(), "figures": {{}}}}
for name, f in render_scenes.all_figures().items():
    bundle = f._repr_mimebundle_()
    out = tempfile.mkdtemp()
    try:
        f.save(os.path.join(out, "x.svg"))
        refused = ""
    except RenderError as error:
        refused = str(error)
    f.save(os.path.join(out, "x.dot"))
    report["figures"][name] = {{"keys": sorted(bundle), "html": bundle.get("text/html", ""),
                               "text": str(f), "svg": f.svg(), "refused": refused,
                               "left": sorted(os.listdir(out))}}
c = render_scenes.container()
widgets = [StackExplorer(c), CowPlayer(c), ImageCompare(render_scenes.image(),
                                                        render_scenes.sibling_image())]
report["widgets"] = [w.picture.value for w in widgets]
try:
    cli_render(render_scenes.image(), os.path.join(tempfile.mkdtemp(), "x.png"), False)
    report["cli"] = ""
except RenderError as error:
    report["cli"] = str(error)
print(json.dumps(report))
"""


def test_without_dot_every_renderer_falls_back_and_says_how_to_install(tmp_path):
    """Binder images and fresh laptops often lack the dot binary: tables, never errors."""
    script = FALLBACK_SCRIPT.format(here=str(HERE))
    report = json.loads(_run(script, PATH=str(tmp_path)))  # an empty dir: no dot anywhere
    assert report["dot_available"] is False
    install = [
        "sudo apt-get install graphviz",
        "brew install graphviz",
        "conda install -c conda-forge graphviz",
    ]
    assert set(report["figures"]) == set(FIGURES)
    for name, got in report["figures"].items():
        assert got["keys"] == ["text/html", "text/plain"], name
        assert "layerlab-fallback" in got["html"] and "<table" in got["html"], name
        assert all(hint in got["html"] for hint in install), name
        assert got["svg"] is None and got["text"] == str(FIGURES[name]), name
        assert "sudo apt-get install graphviz" in got["refused"], name
        assert got["left"] == ["x.dot"], name  # the refused .svg left nothing behind
    for picture in report["widgets"]:
        assert "layerlab-dot-missing" in picture and "brew install graphviz" in picture
    assert "apt-get install graphviz" in report["cli"]


def test_dot_that_fails_to_start_falls_back_too(monkeypatch):
    """dot on PATH but not runnable (graphviz.ExecutableNotFound): still a table."""
    figure = render_scenes.all_figures()["stack_image"]

    def broken(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(graphviz.Digraph, "pipe", broken)
    bundle = figure._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert figure.problem == INSTALL_HINT
    assert "brew install graphviz" in bundle["text/html"]
    with pytest.raises(RenderError, match="apt-get install graphviz"):
        figure.save("never-written.svg")
    assert not Path("never-written.svg").exists()


def test_a_graphviz_error_is_reported_not_raised(monkeypatch):
    figure = render_scenes.all_figures()["stack_image"]

    def fails(*args, **kwargs):
        raise graphviz.CalledProcessError(1, ["dot"], stderr=b"Error: syntax error in line 1")

    monkeypatch.setattr(graphviz.Digraph, "pipe", fails)
    bundle = figure._repr_mimebundle_()
    assert "syntax error in line 1" in bundle["text/html"]
    assert figure.problem.startswith("Graphviz could not draw this")
