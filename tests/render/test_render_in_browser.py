"""The browser (Pyodide) switches, tested on CPython by pretending to be in a browser.

In JupyterLite layerlab must simulate every live feature, saying why, and draw pictures
with the WebAssembly Graphviz instead of `dot`, from the very same DOT source. The real
thing runs in tests/browser/test_site.py; here each switch is checked on its own.
"""

from __future__ import annotations

import os

import pytest

from layerlab.entries import File
from layerlab.layer import Layer
from layerlab.live.kernel import probe
from layerlab.render import browser, stack


class FakeGraphviz:
    """Stands in for @hpcc-js/wasm-graphviz's Graphviz object: records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def layout(self, source: str, fmt: str, engine: str) -> str:
        self.calls.append((source, fmt, engine))
        return '<svg xmlns="http://www.w3.org/2000/svg"><g class="graph"/></svg>'


@pytest.fixture
def in_browser(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(browser, "IN_BROWSER", True)
    monkeypatch.setattr(browser, "_engine", None)
    monkeypatch.setattr(browser, "_failure", None)
    monkeypatch.setattr(browser, "_loading", None)
    monkeypatch.setattr(browser, "start_loading", lambda: None)  # no JS to load here
    return browser


def figure():
    return stack([Layer({"/etc/motd": File(b"hi\n")}, name="base")])


def test_the_probe_says_running_in_the_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "IN_BROWSER", True)
    monkeypatch.setenv("LAYERLAB_LIVE", "1")
    report = probe.probe(refresh=True)
    try:
        assert set(report) == set(probe.FEATURES)
        assert not any(report.values())
        assert all(cap.reason.startswith("running in the browser") for cap in report.values())
        assert probe.missing("overlayfs").startswith("running in the browser")
        assert not probe.live_enabled()
    finally:
        monkeypatch.undo()
        probe.probe(refresh=True)


def test_pictures_come_from_the_wasm_graphviz_with_the_same_dot(in_browser) -> None:
    fake = FakeGraphviz()
    in_browser._engine = fake
    shown = figure()
    bundle = shown._repr_mimebundle_()
    assert '<g class="graph"/>' in bundle["image/svg+xml"]
    assert fake.calls == [(figure().dot, "svg", "dot")]  # one DOT source in every world


def test_still_loading_shows_the_table_and_says_run_again(in_browser) -> None:
    class Pending:
        def done(self) -> bool:
            return False

    in_browser._loading = Pending()
    bundle = figure()._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert "still loading; run this cell again" in bundle["text/html"]


def test_a_failed_load_and_png_are_one_line_problems(in_browser) -> None:
    in_browser._failure = "the browser's Graphviz could not be loaded (TypeError: x)"
    shown = figure()
    assert shown.pipe("svg") is None and shown.problem == in_browser._failure
    in_browser._engine = FakeGraphviz()
    assert shown.pipe("png") is None
    assert "draws SVG only" in shown.problem


def test_outputs_are_written_with_the_kernels_empty_fcntl(monkeypatch, tmp_path) -> None:
    """JupyterLite's kernel swaps fcntl for an empty module (pyodide_kernel/mocks.py), and
    a page has one Python: saving an image must not need flock there (notebook 04's
    containerd cell saves an OCI layout)."""
    import types

    from layerlab import host, output
    from layerlab.formats import oci
    from layerlab.samples import ubuntu_image

    monkeypatch.setattr(host, "IN_BROWSER", True)
    monkeypatch.setattr(output, "fcntl", types.ModuleType("fcntl"))
    monkeypatch.delattr("os.geteuid")  # Pyodide's os has none
    monkeypatch.delattr("os.getegid")
    digest = oci.save_oci(ubuntu_image(), tmp_path / "layout", tag="latest")
    assert digest.startswith("sha256:") and (tmp_path / "layout" / "index.json").is_file()
    assert host.euid() == os.getuid() and host.egid() == os.getgid()


def test_the_cgroup_table_in_the_browser_is_a_labelled_v2_machine(monkeypatch) -> None:
    """A page has no /proc/self/mountinfo (notebook 02): the table shows the pure v2
    machine the notebook prints, says it is simulated and why, and keeps its stored line."""
    from layerlab.live import machine

    monkeypatch.setattr(machine, "IN_BROWSER", True)
    monkeypatch.setattr(probe, "IN_BROWSER", True)
    monkeypatch.setattr(machine, "detect_layout", _no_proc(machine.detect_layout))
    table = machine.cgroup_layout_table()
    assert "SIMULATED (running in the browser" in table.value
    assert "cgroup layout v2" in table.value and "/sys/fs/cgroup" in table.value
    assert repr(table) == repr(machine.MachineTable("cgroup layout", ""))


def _no_proc(detect):
    """detect_layout as in a page: reading this machine's files fails."""

    def detect_without_proc(**texts):
        if not texts:
            raise FileNotFoundError(2, "No such file or directory", "/proc/self/mountinfo")
        return detect(**texts)

    return detect_without_proc


#: What a JupyterLite kernel lacks: modules Pyodide does not build (checked in its 314.0.6
#: runtime), and the empty stand-ins the kernel puts in sys.modules
#: (pyodide_kernel/mocks.py of jupyterlite-pyodide-kernel 0.8.6).
PYODIDE_LACKS = ("pwd", "grp", "resource", "readline", "curses", "syslog")
KERNEL_EMPTIES = ("fcntl", "resource", "termios")

_IMPORT_ALL = f"""
import importlib, pkgutil, sys, types
for name in {PYODIDE_LACKS!r}:
    sys.modules[name] = None  # import fails, as in Pyodide
for name in {KERNEL_EMPTIES!r}:
    sys.modules[name] = types.ModuleType(name)
import layerlab
failed = []
for module in pkgutil.walk_packages(layerlab.__path__, "layerlab."):
    if module.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(module.name)
    except Exception as error:
        failed.append(f"{{module.name}}: {{type(error).__name__}}: {{error}}")
print("\\n".join(failed))
"""


def test_every_module_imports_with_what_a_jupyterlite_kernel_has() -> None:
    """Notebooks import live modules in JupyterLite too (05 imports podman_rootless), so a
    module-level `import pwd` or `fcntl.flock` use breaks a whole notebook there."""
    import subprocess
    import sys

    shown = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL], capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == "", shown.stdout
