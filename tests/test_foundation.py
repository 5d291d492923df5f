"""The foundation's promises: two commands from a clone to a running course and a green suite.

Each test pins one thing a newcomer, a workshop instructor on Binder, a conda user or
CI relies on, and fails when it breaks.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from needs import need_tool, unavailable
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
SUPPORT = REPO / "tests" / "support"
START_NOTEBOOK = "notebooks/00-start-here.ipynb"

# The same Python package under its conda-forge name. On conda-forge, `graphviz` is the
# C program (`dot`), and the Python bindings (PyPI `graphviz`) are `python-graphviz`.
CONDA_NAME = {"graphviz": "python-graphviz"}
# In environment.yml but not Python dependencies of layerlab: the interpreter, the
# `dot` program and a CJK font (what apt.txt gives Binder) and pip for the `-e .` line.
CONDA_ONLY = {"python", "graphviz", "font-ttf-noto-cjk", "pip"}


# --- dependencies cannot drift between pyproject.toml, environment.yml and binder/ ----------


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _requirements(lines: list[str]) -> dict[str, SpecifierSet]:
    reqs = [Requirement(line) for line in lines]
    return {canonicalize_name(r.name): r.specifier for r in reqs if not r.marker}


def _conda_dependencies() -> tuple[dict[str, SpecifierSet], list[str]]:
    """environment.yml's conda packages (name -> spec) and its pip lines."""
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(dep["pip"])
            continue
        name, spec = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", dep).groups()
        conda[name] = SpecifierSet(spec)
    return conda, pip


def _binder_requirements() -> dict[str, str]:
    """binder/requirements.txt as name -> pinned version."""
    pins = {}
    for line in (REPO / "binder/requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier  # exactly one specifier per line: the pin
            assert spec.operator == "==", f"binder/requirements.txt must pin {req.name} with =="
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def test_environment_yml_declares_what_pyproject_declares():
    """conda users get the runtime dependencies, the lab extra and nbval, same ranges."""
    project = _pyproject()["project"]
    wanted = _requirements(project["dependencies"] + project["optional-dependencies"]["lab"])
    test_extra = _requirements(project["optional-dependencies"]["test"])
    wanted["nbval"] = test_extra["nbval"]  # so conda users can check notebooks too

    conda, pip = _conda_dependencies()
    python_packages = {name: spec for name, spec in conda.items() if name not in CONDA_ONLY}
    expected = {CONDA_NAME.get(name, name): spec for name, spec in wanted.items()}
    assert python_packages == expected
    assert conda["python"] == SpecifierSet(project["requires-python"])
    assert "graphviz" in conda, "conda users need the dot program (conda-forge graphviz)"
    assert pip == ["-e ."], "the package itself comes from the checkout"


def test_binder_requirements_pin_what_pyproject_declares():
    """Binder installs exactly the runtime + lab dependencies, each pin inside pyproject's range."""
    project = _pyproject()["project"]
    wanted = _requirements(project["dependencies"] + project["optional-dependencies"]["lab"])
    pins = _binder_requirements()
    assert set(pins) == set(wanted)
    for name, version in pins.items():
        assert version in wanted[name], f"binder: {name}=={version}, pyproject: {wanted[name]}"

    runtime = (REPO / "binder/runtime.txt").read_text().strip()
    python = re.fullmatch(r"python-(\d+\.\d+)", runtime).group(1)
    assert f"{python}.0" in SpecifierSet(project["requires-python"])
    # `dot`, and a CJK font for the Chinese edition's pictures (issue 15)
    assert (REPO / "binder/apt.txt").read_text().split() == ["graphviz", "fonts-noto-cjk"]


def test_binder_postbuild_installs_the_package_without_dependencies():
    """repo2docker runs postBuild from the repo root; deps come pinned from requirements.txt."""
    post_build = REPO / "binder/postBuild"
    assert os.access(post_build, os.X_OK)
    commands = [
        line
        for line in post_build.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert commands[0] == "set -e"
    assert commands[1:] == ["python -m pip install --no-deps -e ."]


@pytest.mark.slow
def test_binder_rehearsal_runs_the_start_notebook_as_a_learner():
    """Binder rehearsal: a venv from binder/ files only, then the start notebook, not as root.

    What mybinder.org does, minus the container image: apt.txt (checked installed),
    requirements.txt, postBuild from the repo root, then the notebook. LAYERLAB_LIVE=0
    because Binder allows no namespaces or mounts.
    """
    if os.geteuid() != 0:
        unavailable("the Binder rehearsal creates an unprivileged user, which needs root")
    for package in (REPO / "binder/apt.txt").read_text().split():
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
        )
        if "install ok installed" not in status.stdout:
            unavailable(f"binder/apt.txt names {package}, which is not installed here")
    script = (
        "set -e; echo world=$PWD uid=$(id -u) >&2; pip check >&2; "
        f"LAYERLAB_LIVE=0 jupyter nbconvert --to notebook --execute --stdout {START_NOTEBOOK}"
    )
    run = subprocess.run(
        [SUPPORT / "rootless-world", "--binder", "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    world, uid = re.search(r"world=(\S+) uid=(\d+)", run.stderr).groups()
    assert int(uid) != 0
    assert not Path(world).exists(), "the rehearsal's world directory must be removed"

    executed = json.loads(run.stdout)
    committed = json.loads((REPO / START_NOTEBOOK).read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert len(code) == sum(c["cell_type"] == "code" for c in committed["cells"]) > 0
    assert all(c["execution_count"] for c in code), "every code cell ran"
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]


# --- make lab ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except urllib.error.URLError:
        return 0, ""  # nothing listens (yet)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_make_lab_serves_lab_and_the_start_notebook(tmp_path):
    """`make lab` on $PORT with $JUPYTER_TOKEN serves /lab and the start notebook, then stops."""
    make = need_tool("make")
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(PORT=str(port), JUPYTER_TOKEN=token, JUPYTER_RUNTIME_DIR=str(tmp_path))
    log = (tmp_path / "lab.log").open("w")
    lab = subprocess.Popen(
        [make, "--no-print-directory", "lab"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as a whole below
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # a first run installs the lab extra
        while _get(f"{base}/api/status?token={token}")[0] != 200:
            assert lab.poll() is None, (tmp_path / "lab.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "JupyterLab did not come up"
            time.sleep(0.5)

        status, page = _get(f"{base}/lab?token={token}")
        assert status == 200 and "<title>JupyterLab</title>" in page

        status, page = _get(f"{base}/lab/tree/{START_NOTEBOOK}?token={token}")
        assert status == 200 and "JupyterLab" in page

        status, body = _get(f"{base}/api/contents/{START_NOTEBOOK}?token={token}")
        assert status == 200
        served = json.loads(body)
        committed = json.loads((REPO / START_NOTEBOOK).read_text())
        assert served["type"] == "notebook"
        assert served["content"]["cells"][0]["source"] == "".join(committed["cells"][0]["source"])

        assert _get(f"{base}/api/contents/{START_NOTEBOOK}")[0] == 403, "the token is required"
        assert f"127.0.0.1:{port}/lab?token=" in (tmp_path / "lab.log").read_text()
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
        log.close()

    deadline = time.monotonic() + 15
    while True:  # no process of the group, and nothing on the port, is left behind
        try:
            os.killpg(lab.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a `make lab` process outlived the test"
        time.sleep(0.2)
    assert not _port_open(port)

    again = subprocess.run(
        [make, "--dry-run", "--no-print-directory", "lab"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "pip install" not in again.stdout, "a second `make lab` must not reinstall"


# --- missing reference tools: skip on a laptop, fail under CI=true -----------------------


def test_need_tool_returns_the_path_of_an_installed_tool(tmp_path, monkeypatch):
    fake = tmp_path / "umoci"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert need_tool("umoci") == str(fake)


def _run_pytest_needing_umoci(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess:
    """Run a one-test suite that needs umoci, with umoci absent from PATH."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "test_needs_umoci.py").write_text(
        "from needs import need_tool\n\ndef test_flatten_against_umoci():\n    need_tool('umoci')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(PATH=str(tmp_path / "bin"), PYTHONPATH=str(REPO / "tests"))
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # plain pytest: nbval's imports take seconds
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_missing_tool_fails_the_run_under_ci(tmp_path):
    run = _run_pytest_needing_umoci(tmp_path, ci=True)
    assert run.returncode == 1, run.stdout
    assert "1 failed" in run.stdout
    assert "CI=true, so this cannot skip: umoci is not installed" in run.stdout
    assert "sudo apt-get install umoci" in run.stdout


def test_a_missing_tool_skips_with_the_reason_on_a_laptop(tmp_path):
    run = _run_pytest_needing_umoci(tmp_path, ci=False)
    assert run.returncode == 0, run.stdout
    assert "1 skipped" in run.stdout
    assert "umoci is not installed; install it with: sudo apt-get install umoci" in run.stdout


def _system_tools(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess:
    """`make test`'s tool check with an empty PATH and apt disabled: everything is missing."""
    env = {"PATH": str(tmp_path), "LAYERLAB_NO_APT": "1"}
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        ["/bin/bash", SUPPORT / "system-tools", "test"], env=env, capture_output=True, text=True
    )


def test_make_test_stops_before_testing_when_ci_lacks_a_reference_tool(tmp_path):
    run = _system_tools(tmp_path, ci=True)
    assert run.returncode == 1
    assert "CI=true and these packages are missing" in run.stderr
    for package in ("umoci", "skopeo", "docker.io", "graphviz", "busybox-static", "attr"):
        assert package in run.stderr


def test_make_test_only_warns_about_missing_tools_on_a_laptop(tmp_path):
    run = _system_tools(tmp_path, ci=False)
    assert run.returncode == 0
    assert "sudo apt-get install" in run.stdout and "umoci" in run.stdout


# --- the private Docker engine is always stopped -------------------------------------------


@pytest.mark.reference
def test_private_dockerd_is_stopped_and_removed_even_when_the_command_fails():
    """with-dockerd starts its own engine when none answers, and leaves nothing behind."""
    if os.geteuid() != 0:
        unavailable("starting a private dockerd needs root")
    need_tool("dockerd")
    need_tool("docker")
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock")
    # Python only raises KeyboardInterrupt if SIGINT was not ignored when it started.
    ctrl_c_works = (
        "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    )
    run = subprocess.run(
        [
            SUPPORT / "with-dockerd",
            "sh",
            "-c",
            "docker version --format '{{.Server.Os}}' && "
            f"{sys.executable} -c '{ctrl_c_works}' && exit 3",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 3, run.stderr  # the command's own status comes back
    assert run.stdout.splitlines()[-2:] == ["linux", "True"]  # an engine answered; Ctrl-C works
    socket_path = re.search(r"DOCKER_HOST=unix://(\S+)", run.stdout).group(1)
    run_dir = Path(socket_path).parent
    assert not run_dir.exists()
    leftovers = subprocess.run(["pgrep", "-f", str(run_dir)], capture_output=True, text=True)
    assert leftovers.stdout == "", "dockerd or containerd outlived with-dockerd"
    assert str(run_dir) not in Path("/proc/self/mountinfo").read_text()
    data_root = re.search(r"data-root (\S+)", run.stdout).group(1)
    assert not Path(data_root).exists()


def _descendants(pid: int) -> dict[int, str]:
    """Every process below `pid`, with its command line."""
    parents, lines = {}, {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{name}/stat").read_text().rpartition(")")[2].split()
            lines[int(name)] = Path(f"/proc/{name}/cmdline").read_text().replace("\0", " ")
        except OSError:
            continue
        parents[int(name)] = int(stat[1])
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = lines[child]
                todo.append(child)
    return found


@pytest.mark.reference
@pytest.mark.slow
def test_kernel_vm_stops_the_vm_and_removes_its_files_on_ctrl_c():
    """kernel-vm: Ctrl-C while the command runs inside the VM; qemu is gone, so is its job dir."""
    if os.geteuid() != 0:
        unavailable("kernel-vm shares the host's files with the VM as root")
    need_tool("qemu-system-x86_64")
    vm = subprocess.Popen(
        [SUPPORT / "kernel-vm", "sh", "-c", "echo layerlab-vm-ready; sleep 600"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        for line in vm.stdout:  # the first boot also fetches the kernel: minutes, not hours
            if "layerlab-vm-ready" in line:
                break
        qemu = {p: c for p, c in _descendants(vm.pid).items() if "qemu-system" in c}
        assert qemu, "no qemu below kernel-vm"
        job = re.search(r"path=(/var/tmp/layerlab-vm\.\w+)", next(iter(qemu.values()))).group(1)
        assert Path(job).is_dir()
        vm.send_signal(signal.SIGINT)
        assert vm.wait(timeout=60) == 130
    finally:
        vm.kill()
        vm.wait()
    assert not Path(job).exists()
    assert not any(Path(f"/proc/{pid}").exists() for pid in qemu), "qemu outlived kernel-vm"


# --- the README tells the truth about the commands -----------------------------------------


def test_ci_runs_nothing_the_readme_does_not_say():
    readme = (REPO / "README.md").read_text()
    lines = (REPO / ".ci/run").read_text().splitlines()
    boilerplate = ("#", "set -euo pipefail", "cd ")  # comments, strict mode, go to repo root
    commands = [line.strip() for line in lines[1:] if line.strip()]
    commands = [c for c in commands if not c.startswith(boilerplate)]
    assert commands, ".ci/run must run something"
    for command in commands:
        assert command in readme, f".ci/run runs `{command}`, which README.md does not mention"


def test_readme_lists_every_notebook_and_the_binder_link():
    readme = (REPO / "README.md").read_text()
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        assert f"`{notebook.stem}`" in readme, f"README.md does not list {notebook.name}"
    assert "make lab" in readme and "make test" in readme
    assert "urlpath=lab/tree/notebooks/00-start-here.ipynb" in readme
