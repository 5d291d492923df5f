"""Start a real JupyterLab server for the browser tests, and always stop it again.

The server runs the Python we are given (the project venv; the Binder rehearsal brings its
own command) on a free 127.0.0.1 port with a random token, serving a *temporary
copy* of the notebooks: JupyterLab writes checkpoints, saves and kernel-side files there,
never into the committed notebooks. Its config, runtime, settings and workspace
directories are fresh temp directories too, so a developer's own JupyterLab settings
cannot change what the tests see, and nothing is left in anyone's home directory.

Stopping is the part that must never fail: kernels run in their own process sessions
(jupyter_client starts them with start_new_session), so killing the server's process
group alone could leave a kernel behind. `stop` first asks the server to shut down
(which also shuts its kernels down), then kills every process that descended from it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

#: Long enough for a cold start on a busy 2-core CI machine; a healthy start takes ~3 s.
START_TIMEOUT = 90.0

#: Options that keep JupyterLab offline and quiet: no news feed, no update check, no
#: extension manager asking PyPI, no browser of its own. `expose_app_in_browser` makes
#: `window.jupyterapp` available, which is how JupyterLab's own UI tests (Galata) read the
#: notebook model; we use it only to *read* outputs, never to drive the notebook.
LAB_OPTIONS = (
    "--no-browser",
    "--ServerApp.ip=127.0.0.1",
    "--ServerApp.port_retries=0",
    "--ServerApp.open_browser=False",
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",
    "--LabApp.expose_app_in_browser=True",
)

# Direct connections only: a proxy from the environment must not see localhost traffic.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A port nobody listens on right now (the server gets port_retries=0, so a race fails
    loudly instead of silently serving somewhere else)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab: where it is, how to authenticate, and its process."""

    base_url: str
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path
    #: pid -> start time of every process seen below the server, so `stop` can kill them
    #: without ever hitting a recycled pid.
    descendants: dict[int, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        """An absolute URL under the server, e.g. url("lab/tree/notebooks/x.ipynb")."""
        return self.base_url + path.lstrip("/")

    def lab_url(self, notebook: str) -> str:
        """The URL that opens `notebook` (relative to root_dir) in a fresh workspace.

        `reset` drops whatever the previous test left open, so exactly one notebook and
        one kernel are started per test.
        """
        return self.url(f"lab/tree/{notebook}?reset&token={self.token}")

    def api(self, method: str, path: str, timeout: float = 10.0) -> object:
        """Call the REST API with the token; returns the decoded JSON (or None)."""
        request = urllib.request.Request(
            self.url(path), method=method, headers={"Authorization": f"token {self.token}"}
        )
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def stored_notebook(self, path: str) -> dict:
        """The notebook file the server serves, as stored on disk (its committed outputs)."""
        reply = self.api("GET", f"api/contents/{path}?type=notebook&content=1")
        return reply["content"]

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def shutdown_kernels(self) -> None:
        """Close every notebook session, so the next test starts with a quiet machine.
        A server that no longer answers has no sessions to close (`stop` reaps it)."""
        with contextlib.suppress(urllib.error.URLError, OSError):
            for session in self.api("GET", "api/sessions") or []:
                self.api("DELETE", f"api/sessions/{session['id']}")

    def remember_processes(self) -> None:
        """Note the server's current children, so `stop` can reap them even if the
        server itself has died by then."""
        self.descendants.update(descendants_of(self.process.pid))

    def kernel_states(self) -> list[str]:
        """execution_state of every running kernel, as the server last heard it."""
        return [kernel["execution_state"] for kernel in self.api("GET", "api/kernels") or []]


def start(
    python: str,
    root_dir: Path,
    state_dir: Path,
    *,
    env: dict[str, str] | None = None,
) -> LabServer:
    """Start `python -m jupyterlab` serving `root_dir`; wait until its API answers.

    `state_dir` receives the server's config/runtime/settings/workspace directories and
    its log.
    """
    token = secrets.token_hex(24)
    port = free_port()
    dirs = {
        name: state_dir / name for name in ("config", "data", "runtime", "settings", "ws", "ipy")
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    # The "get notified about official Jupyter news?" toast would cover the bottom of
    # every screenshot; the course has nothing to do with it.
    (dirs["config"] / "labconfig").mkdir(exist_ok=True)
    (dirs["config"] / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    server_env = dict(os.environ if env is None else env)
    server_env.update(
        JUPYTER_TOKEN=token,  # in the environment, not on the command line `ps` shows
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["ws"]),
        IPYTHONDIR=str(dirs["ipy"]),
        PYTHONDONTWRITEBYTECODE="1",
    )
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        server_env.pop(proxy, None)
    command = [python, "-m", "jupyterlab", *LAB_OPTIONS, f"--ServerApp.port={port}"]
    command.append(f"--ServerApp.root_dir={root_dir}")
    if os.geteuid() == 0:
        command.append("--allow-root")
    server = launch(
        command,
        cwd=root_dir,
        env=server_env,
        port=port,
        token=token,
        log_path=state_dir / "jupyterlab.log",
    )
    wait_until_ready(server, START_TIMEOUT)
    return server


def launch(
    command: list[str], *, cwd: Path, env: dict[str, str], port: int, token: str, log_path: Path
) -> LabServer:
    """Start a server command in its own session, its output in `log_path`; no waiting."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return LabServer(f"http://127.0.0.1:{port}/", token, process, log_path)


def wait_until_ready(server: LabServer, timeout: float) -> None:
    """Wait until the REST API answers; on failure stop the server and say why."""
    try:
        _wait_until_ready(server, timeout)
    except BaseException:
        stop(server)
        raise


def _wait_until_ready(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with {server.process.returncode} before it answered:\n"
                + server.log_tail()
            )
        try:
            server.api("GET", "api/status", timeout=2)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n" + server.log_tail())


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses; the fields follow the last ')'.
    return stat.rsplit(")", 1)[1].split()


def _start_time(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def descendants_of(pid: int) -> dict[int, int]:
    """All living processes below `pid` (kernels included), as pid -> start time."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        fields = _stat(int(entry)) if entry.isdigit() else None
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            started = _start_time(child)
            if child not in found and started is not None:
                found[child] = started
                todo.append(child)
    return found


def stop(server: LabServer, timeout: float = 20.0) -> None:
    """Shut the server and all its kernels down; kill whatever is left. Never raises."""
    process = server.process
    server.descendants.update(descendants_of(process.pid))
    if process.poll() is None:
        with contextlib.suppress(Exception):
            server.api("POST", "api/shutdown", timeout=5)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    for pid, started in server.descendants.items():
        if _start_time(pid) == started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def leftover_processes(server: LabServer) -> list[int]:
    """Processes of this server still alive after `stop` (should be none); zombies and
    recycled pids do not count."""
    alive = []
    for pid, started in server.descendants.items():
        fields = _stat(pid)
        if fields and fields[0] != "Z" and int(fields[19]) == started:
            alive.append(pid)
    if server.process.poll() is None:
        alive.append(server.process.pid)
    return sorted(alive)
