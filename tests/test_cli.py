"""The `layerlab` command as a user runs it: outputs, exit codes 0/1/2/130, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from layerlab.cli import main
from layerlab.commit import build_image
from layerlab.entries import Dir, File, Meta, OpaqueDir, Symlink, Whiteout
from layerlab.formats.docker_archive import save_docker_archive
from layerlab.formats.oci import save_oci
from layerlab.layer import Layer
from layerlab.tar import tree_writer

IMAGE = build_image(
    [
        Layer({"/etc": Dir(), "/etc/os-release": File.of("ID=demo\n"), "/tmp/junk": File.of("j")}),
        Layer(
            {
                "/tmp": OpaqueDir(Meta(mode=0o1777)),
                "/etc/os-release": Whiteout(),
                "/bin/sh": Symlink(target="busybox"),
            }
        ),
    ],
    tag="demo:1",
)


@pytest.fixture(scope="module")
def oci(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("img") / "oci"
    save_oci(IMAGE, path, tag="demo")
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "layerlab", *args], capture_output=True, text=True, timeout=120
    )


def test_python_dash_m_shows_help_and_exits_0():
    done = run("--help")
    assert done.returncode == 0
    for command in ("inspect", "flatten", "diff", "render", "probe"):
        assert command in done.stdout


def test_usage_errors_exit_2():
    assert run("flatten").returncode == 2
    assert run("nonsense").returncode == 2


def test_inspect_prints_docker_image_inspect_shape(oci, capsys):
    assert main(["inspect", f"{oci}:demo"]) == 0
    [shown] = json.loads(capsys.readouterr().out)
    assert shown["Id"] == IMAGE.id and shown["RepoTags"] == ["demo"]
    assert shown["RootFS"] == {"Type": "layers", "Layers": IMAGE.diff_ids}
    assert len(shown["History"]) == 2 and isinstance(shown["Size"], int)


def test_inspect_detects_a_docker_save_tar(tmp_path, capsys):
    save_docker_archive(IMAGE, tmp_path / "image.tar")
    assert main(["inspect", str(tmp_path / "image.tar")]) == 0
    assert json.loads(capsys.readouterr().out)[0]["RepoTags"] == ["demo:1"]


def test_flatten_writes_the_merged_tree(oci, tmp_path, capsys):
    assert main(["flatten", str(oci), str(tmp_path / "root")]) == 0
    assert "files" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "root")) == ["bin", "etc", "tmp"]
    assert os.listdir(tmp_path / "root/tmp") == []


def test_missing_image_is_a_one_line_error_with_exit_1(tmp_path):
    done = run("inspect", str(tmp_path / "nope"))
    assert done.returncode == 1
    assert (
        done.stderr == f"layerlab: error: {tmp_path / 'nope'} does not exist; give an OCI "
        "layout directory or a docker save tar\n"
    )
    assert "Traceback" not in done.stderr


def test_a_directory_that_is_not_an_image_says_so(tmp_path, capsys):
    assert main(["inspect", str(tmp_path)]) == 1
    assert "neither an OCI layout" in capsys.readouterr().err


def test_diff_writes_a_layer_and_refuses_to_overwrite(tmp_path, capsys):
    old, new = tmp_path / "old", tmp_path / "new"
    for root in (old, new):
        (root / "d").mkdir(parents=True)
        (root / "d/keep").write_text("k")
    (old / "gone").write_text("g")
    (new / "added").write_text("a")
    out = tmp_path / "layer.tar"
    assert main(["diff", str(old), str(new), "-o", str(out)]) == 0
    assert capsys.readouterr().out.startswith("sha256:")
    with tarfile.open(out) as layer:
        names = layer.getnames()
    assert ".wh.gone" in names and "added" in names and "d/keep" not in names
    assert main(["diff", str(old), str(new), "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err


def test_render_text_draws_the_stack(oci, capsys):
    assert main(["render", str(oci), "--text"]) == 0
    assert "tmp" in capsys.readouterr().out


def test_render_needs_an_output(oci, capsys):
    assert main(["render", str(oci)]) == 1
    assert capsys.readouterr().err.startswith("layerlab: error: ")


def test_probe_json_is_json():
    done = run("probe", "--json")
    assert done.returncode == 0
    assert isinstance(json.loads(done.stdout), dict)


def _interrupt_after(monkeypatch, count: int, exc: BaseException) -> None:
    real = tree_writer.TreeWriter.file
    calls = {"n": 0}

    def file(self, path, entry):
        calls["n"] += 1
        if calls["n"] > count:
            raise exc
        real(self, path, entry)

    monkeypatch.setattr(tree_writer.TreeWriter, "file", file)


MANY = build_image([Layer({f"/f{i}": File.of(str(i)) for i in range(50)})])


def test_ctrl_c_exits_130_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    save_oci(MANY, tmp_path / "oci")
    _interrupt_after(monkeypatch, 10, KeyboardInterrupt())
    assert main(["flatten", str(tmp_path / "oci"), str(tmp_path / "root")]) == 130
    assert sorted(os.listdir(tmp_path)) == ["oci"]
    assert "interrupted" in capsys.readouterr().err


def test_sigterm_unwinds_through_cleanup(tmp_path, monkeypatch):
    save_oci(MANY, tmp_path / "oci")

    def terminate(self, path, entry):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(tree_writer.TreeWriter, "file", terminate)
    with pytest.raises(SystemExit) as stop:
        main(["flatten", str(tmp_path / "oci"), str(tmp_path / "root")])
    assert stop.value.code == 128 + signal.SIGTERM
    assert sorted(os.listdir(tmp_path)) == ["oci"]


def test_unexpected_errors_are_one_line_too(tmp_path, monkeypatch, capsys):
    save_oci(MANY, tmp_path / "oci")
    _interrupt_after(monkeypatch, 0, RuntimeError("bug\nwith newline"))
    assert main(["flatten", str(tmp_path / "oci"), str(tmp_path / "root")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("layerlab: error: internal error (RuntimeError: bug with newline)")
    assert err.count("\n") == 1 and not (tmp_path / "root").exists()


def test_the_cli_module_imports_nothing_heavy():
    """`import layerlab` must stay fast: heavy modules load inside the commands."""
    code = (
        "import sys, layerlab, layerlab.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('graphviz', 'ipywidgets', 'tarfile', 'hypothesis') or m.startswith('layerlab.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['layerlab.cli']"
