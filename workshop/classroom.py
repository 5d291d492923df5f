"""A class of learners, driven through the workshop hub the way their browsers would.

Used by the hub's test (tests/workshop/) and the class load benchmark (bench/workshop.py).
Each learner signs up at /hub/signup, is approved by the instructor at /hub/authorize,
logs in with the login form, asks for an API token (as the /hub/token page does), starts a
server, pulls the course with the nbgitpuller link, and runs notebooks cell by cell through
Jupyter's REST API and kernel websocket: the same requests JupyterLab makes.

`Hub` starts the real hub (workshop/jupyterhub_config.py) with a private state directory on
loopback, and on the way out stops it, then deletes the Unix accounts it created and checks
that no learner left a process, a mount, a cgroup or a temp directory behind.

Only the standard library and tornado (which JupyterHub and Jupyter Server use) are needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse
from tornado.websocket import websocket_connect

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = os.environ.get("WORKSHOP_PREFIX", "/opt/layerlab-workshop")
UNIX_PREFIX = "jupyter-"
LEARNER_GROUP = "layerlab-learners"
COURSE_LINK = (
    f"repo=file://{PREFIX}/course.git&branch=main&targetpath=layerlab"
    "&urlpath=lab/tree/layerlab/notebooks/00-start-here.ipynb"
)
AsyncHTTPClient.configure(None, max_clients=200)


class ClassroomError(RuntimeError):
    """A step of the class went wrong; the message says which and for whom."""


def free_port_base() -> int:
    """A port P with P, P+1 and P+2 free on loopback (the proxy, the hub, the proxy API)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base > 65000:
            continue
        with contextlib.ExitStack() as stack:
            try:
                for port in (base, base + 1, base + 2):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise ClassroomError("no three consecutive free ports on 127.0.0.1")


class Browser:
    """Cookies and XSRF like a browser keeps them, for one person talking to the hub."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies: dict[str, str] = {}
        self.client = AsyncHTTPClient()

    async def fetch(
        self,
        method: str,
        path: str,
        form: dict | None = None,
        json_body: object = None,
        headers: dict | None = None,
        timeout: float = 120,
    ) -> HTTPResponse:
        """One request; redirects are not followed (the caller checks where they point)."""
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body)
            headers["Content-Type"] = "application/json"
        elif method in ("POST", "PUT", "PATCH"):
            body = ""
        request = HTTPRequest(
            self.base_url + path,
            method=method,
            body=body,
            headers=headers,
            follow_redirects=False,
            request_timeout=timeout,
            connect_timeout=timeout,
        )
        response = await self.client.fetch(request, raise_error=False)
        for header in response.headers.get_list("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        if response.code == 599:
            raise ClassroomError(f"{method} {path}: {response.error}")
        return response

    async def form_xsrf(self, path: str) -> str:
        page = await self.fetch("GET", path)
        found = re.search(rb'name="_xsrf" value="([^"]+)"', page.body or b"")
        if not found:
            raise ClassroomError(f"no _xsrf field in {path} (HTTP {page.code})")
        return found.group(1).decode()

    async def signup(self, name: str, password: str) -> None:
        xsrf = await self.form_xsrf("/hub/signup")
        form = {
            "_xsrf": xsrf,
            "username": name,
            "signup_password": password,
            "signup_password_confirmation": password,
        }
        page = await self.fetch("POST", "/hub/signup", form=form)
        alert = re.search(rb'class="alert (alert-\w+)"[^>]*>\s*(.*?)\s*<', page.body or b"", re.S)
        if page.code != 200 or not alert or alert.group(1) == b"alert-danger":
            said = alert.group(2).decode(errors="replace") if alert else "no message"
            raise ClassroomError(f"sign-up of {name} was refused (HTTP {page.code}): {said}")

    async def login(self, name: str, password: str) -> None:
        xsrf = await self.form_xsrf("/hub/login")
        form = {"_xsrf": xsrf, "username": name, "password": password}
        page = await self.fetch("POST", "/hub/login", form=form)
        if page.code != 302 or not any(k.startswith("jupyterhub-session") for k in self.cookies):
            raise ClassroomError(f"login of {name} failed (HTTP {page.code})")

    async def approve(self, name: str) -> None:
        """What the instructor's click on "Authorize" at /hub/authorize does."""
        page = await self.fetch("GET", f"/hub/authorize/{name}")
        if page.code != 302:
            raise ClassroomError(f"approving {name} failed (HTTP {page.code})")

    async def new_token(self, name: str) -> str:
        """An API token for `name`, asked for with the login cookie (the /hub/token page)."""
        page = await self.fetch(
            "POST",
            f"/hub/api/users/{name}/tokens",
            json_body={"note": "classroom", "expires_in": 4 * 3600},
            headers={"X-XSRFToken": self.cookies.get("_xsrf", "")},
        )
        if page.code not in (200, 201):
            raise ClassroomError(f"no token for {name} (HTTP {page.code}: {page.body[:200]!r})")
        return json.loads(page.body)["token"]


@dataclass
class CellRun:
    notebook: str
    index: int
    seconds: float
    ok: bool
    error: str = ""
    text: str = ""


@dataclass
class Learner:
    """One learner of the class, from sign-up to their last cell."""

    hub: Hub
    name: str
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    token: str = ""
    spawn_seconds: float = 0.0
    cells: list[CellRun] = field(default_factory=list)

    @property
    def unix_name(self) -> str:
        return UNIX_PREFIX + self.name

    async def join(self, instructor: Browser) -> None:
        """Sign up, get approved, log in and get a token: a learner's first five minutes."""
        browser = Browser(self.hub.url)
        await browser.signup(self.name, self.password)
        await instructor.approve(self.name)
        await browser.login(self.name, self.password)
        self.token = await browser.new_token(self.name)

    async def api(self, method: str, path: str, body: object = None, timeout: float = 120):
        response = await Browser(self.hub.url).fetch(
            method,
            path,
            json_body=body,
            headers={"Authorization": f"token {self.token}"},
            timeout=timeout,
        )
        if response.code >= 400:
            raise ClassroomError(
                f"{self.name}: {method} {path}: HTTP {response.code} {response.body[:300]!r}"
            )
        return json.loads(response.body) if response.body else None

    async def spawn(self, timeout: float = 300) -> None:
        started = time.monotonic()
        while True:  # the hub answers 429 while too many servers are starting: try again
            response = await Browser(self.hub.url).fetch(
                "POST",
                f"/hub/api/users/{self.name}/server",
                headers={"Authorization": f"token {self.token}"},
            )
            if response.code != 429:
                break
            if time.monotonic() - started > timeout:
                raise ClassroomError(f"{self.name}: the hub stayed too busy to spawn")
            await asyncio.sleep(float(response.headers.get("Retry-After", "5")))
        if response.code >= 400:
            raise ClassroomError(f"{self.name}: spawn refused: HTTP {response.code}")
        while time.monotonic() - started < timeout:
            model = await self.api("GET", f"/hub/api/users/{self.name}")
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                self.spawn_seconds = time.monotonic() - started
                return
            if not model.get("servers") and not model.get("pending"):
                raise ClassroomError(f"{self.name}: the server stopped while starting")
            await asyncio.sleep(0.5)
        raise ClassroomError(f"{self.name}: server not ready after {timeout:.0f} s")

    async def pull_course(self) -> None:
        """Follow the nbgitpuller link's API: clone the course into ~/layerlab."""
        response = await self.api_text("GET", f"/user/{self.name}/git-pull/api?{COURSE_LINK}")
        if '"phase": "finished"' not in response:
            raise ClassroomError(f"{self.name}: nbgitpuller did not finish: {response[-500:]}")

    async def api_text(self, method: str, path: str) -> str:
        response = await Browser(self.hub.url).fetch(
            method, path, headers={"Authorization": f"token {self.token}"}, timeout=300
        )
        if response.code >= 400:
            raise ClassroomError(f"{self.name}: {method} {path}: HTTP {response.code}")
        return response.body.decode()

    async def run_notebook(self, path: str, cell_timeout: float = 300) -> list[CellRun]:
        """Run every code cell of `path` (relative to the learner's home) in a fresh kernel."""
        base = f"/user/{self.name}/api"
        model = await self.api("GET", f"{base}/contents/{urllib.parse.quote(path)}?content=1")
        sources = [
            "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for cell in model["content"]["cells"]
            if cell["cell_type"] == "code"
        ]
        session = await self.api(
            "POST",
            f"{base}/sessions",
            {"path": path, "type": "notebook", "name": "", "kernel": {"name": "python3"}},
        )
        runs: list[CellRun] = []
        try:
            runs = await self._execute(session["kernel"]["id"], path, sources, cell_timeout)
        finally:
            with contextlib.suppress(ClassroomError):
                await self.api("DELETE", f"{base}/sessions/{session['id']}")
        self.cells.extend(runs)
        return runs

    async def run_code(self, code: str) -> str:
        """Run one piece of code in a throwaway kernel and return its output."""
        base = f"/user/{self.name}/api"
        kernel = await self.api("POST", f"{base}/kernels", {"name": "python3"})
        try:
            (run,) = await self._execute(kernel["id"], "(code)", [code], 120)
        finally:
            with contextlib.suppress(ClassroomError):
                await self.api("DELETE", f"{base}/kernels/{kernel['id']}")
        if not run.ok:
            raise ClassroomError(f"{self.name}: code failed: {run.error}")
        return run.text

    async def _execute(
        self, kernel_id: str, notebook: str, sources: list[str], cell_timeout: float
    ) -> list[CellRun]:
        url = self.hub.url.replace("http", "ws", 1)
        request = HTTPRequest(
            f"{url}/user/{self.name}/api/kernels/{kernel_id}/channels",
            headers={"Authorization": f"token {self.token}"},
            connect_timeout=120,
            request_timeout=120,
        )
        socket_ = await websocket_connect(request, max_message_size=256 << 20)
        session = uuid.uuid4().hex
        runs = []
        try:
            for index, source in enumerate(sources):
                runs.append(
                    await self._cell(socket_, session, notebook, index, source, cell_timeout)
                )
        finally:
            socket_.close()
        return runs

    async def _cell(self, ws, session: str, notebook: str, index: int, source: str, timeout):
        msg_id = uuid.uuid4().hex
        message = {
            "header": {
                "msg_id": msg_id,
                "msg_type": "execute_request",
                "username": self.name,
                "session": session,
                "version": "5.3",
                "date": "",
            },
            "parent_header": {},
            "metadata": {},
            "content": {
                "code": source,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            "channel": "shell",
            "buffers": [],
        }
        started = time.monotonic()
        await ws.write_message(json.dumps(message))
        reply_status, idle, error, text = None, False, "", []
        while reply_status is None or not idle:
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                return CellRun(notebook, index, time.monotonic() - started, False, "timeout")
            raw = await asyncio.wait_for(ws.read_message(), left)
            if raw is None:
                return CellRun(notebook, index, time.monotonic() - started, False, "ws closed")
            if isinstance(raw, bytes):
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "execute_reply":
                reply_status = content.get("status")
                if reply_status != "ok":
                    error = error or f"{content.get('ename')}: {content.get('evalue')}"
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
            elif kind == "error":
                error = f"{content.get('ename')}: {content.get('evalue')}"
            elif kind == "stream":
                text.append(content.get("text", ""))
            elif kind in ("execute_result", "display_data"):
                text.append(content.get("data", {}).get("text/plain", ""))
        seconds = time.monotonic() - started
        return CellRun(
            notebook, index, seconds, reply_status == "ok" and not error, error, "".join(text)
        )


@dataclass
class Leftovers:
    """What the class left on the machine after the hub stopped; all empty when clean."""

    processes: list[str]
    mounts: list[str]
    cgroups: list[str]
    temp_dirs: list[str]

    def clean(self) -> bool:
        return not (self.processes or self.mounts or self.cgroups or self.temp_dirs)


def cgroup_dirs(prefix: str = "layerlab-") -> list[str]:
    """Every cgroup directory whose name starts with `prefix`, in any mounted hierarchy."""
    found = []
    with open("/proc/self/mountinfo") as table:
        lines = table.read().splitlines()
    for line in lines:
        left, _, right = line.partition(" - ")
        if right.split()[:1] in (["cgroup"], ["cgroup2"]):
            point = left.split()[4]
            with contextlib.suppress(OSError):
                found += [os.path.join(point, n) for n in os.listdir(point) if n.startswith(prefix)]
    return sorted(found)


def _mounts() -> set[str]:
    with open("/proc/self/mountinfo") as table:
        return {
            " ".join(line.split()[3:5]) + " " + line.partition(" - ")[2].split()[0]
            for line in table
        }


def _temp_entries() -> set[str]:
    found = set()
    for tmp in ("/tmp", "/var/tmp", "/dev/shm"):
        with contextlib.suppress(OSError):
            found |= {os.path.join(tmp, n) for n in os.listdir(tmp)}
    return found


class Hub:
    """The workshop hub, started for a class on loopback, removed with its learners after."""

    def __init__(self, name_prefix: str, mem_limit: str = "1G", pids_limit: int = 512) -> None:
        self.name_prefix = name_prefix
        self.port = free_port_base()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = tempfile.mkdtemp(prefix="layerlab-workshop-state.")
        self.log_path = os.path.join(self.state, "hub.log")
        self.env = dict(
            os.environ,
            WORKSHOP_PREFIX=PREFIX,
            WORKSHOP_STATE=self.state,
            WORKSHOP_PORT=str(self.port),
            WORKSHOP_IP="127.0.0.1",
            WORKSHOP_ADMIN=f"{name_prefix}admin",
            WORKSHOP_MEM_LIMIT=mem_limit,
            WORKSHOP_PIDS_LIMIT=str(pids_limit),
        )
        self.admin = self.env["WORKSHOP_ADMIN"]
        self.keep_log: str | None = None  # where to copy the hub's log before it is removed
        self.process: subprocess.Popen | None = None
        self.leftovers: Leftovers | None = None
        self._before_mounts = _mounts()
        self._before_temp = _temp_entries()
        self._before_cgroups = set(cgroup_dirs())

    def start(self, timeout: float = 120) -> None:
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [f"{PREFIX}/venv/bin/jupyterhub", "-f", os.path.join(HERE, "jupyterhub_config.py")],
                cwd=self.state,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ClassroomError(f"the hub exited at start; see {self.log_path}:\n{self.log()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1),
            ):
                if "JupyterHub is now running" in self.log():
                    return
            time.sleep(0.5)
        raise ClassroomError(f"the hub did not start in {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        with open(self.log_path, errors="replace") as log:
            return log.read()[-4000:]

    def learner_accounts(self) -> list[str]:
        return sorted(
            entry.pw_name
            for entry in pwd.getpwall()
            if entry.pw_name.startswith(UNIX_PREFIX + self.name_prefix)
        )

    def cgroup_of(self, name: str) -> list[str]:
        return [d for d in cgroup_dirs(f"layerlab-hub-{name}-")]

    def stop(self) -> Leftovers:
        """Stop the hub (it stops every server), then account for what is left, then clean."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        accounts = self.learner_accounts()
        uids = {pwd.getpwnam(a).pw_uid: a for a in accounts}
        processes = []
        session = self.process.pid if self.process is not None else None
        for pid in _processes_of(uids) + _session_members(session):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as cmd:
                processes.append(cmd.read().replace(b"\0", b" ").decode(errors="replace"))
        # The machine may be shared (other test runs, other engines): only what belongs to
        # this class counts, i.e. owned by a learner, inside a learner's home, or named
        # after one of this hub's servers.
        homes = tuple(pwd.getpwnam(a).pw_dir + "/" for a in accounts)
        temp = sorted(p for p in _temp_entries() - self._before_temp if _owner(p) in uids)
        mounts = sorted(
            m
            for m in _mounts() - self._before_mounts
            if m.split()[1].startswith(homes) or _owner(m.split()[1]) in uids
        )
        ours = f"layerlab-hub-{self.name_prefix}"
        self.leftovers = Leftovers(
            processes=processes,
            mounts=mounts,
            cgroups=[d for d in cgroup_dirs(ours) if d not in self._before_cgroups],
            temp_dirs=temp,
        )
        for pid in _session_members(session):  # a proxy the hub did not stop, say
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._remove_accounts(accounts, uids)
        if self.keep_log:
            shutil.copyfile(self.log_path, self.keep_log)
        shutil.rmtree(self.state, ignore_errors=True)
        return self.leftovers

    def _remove_accounts(self, accounts: list[str], uids: dict[int, str]) -> None:
        for pid in _processes_of(uids):  # anything a learner left running dies with the account
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for path in _temp_entries() - self._before_temp:
            if _owner(path) in uids:
                shutil.rmtree(path, ignore_errors=True)
        for account in accounts:
            subprocess.run(["userdel", "--remove", account], check=False, capture_output=True)
        with contextlib.suppress(KeyError):
            if not grp.getgrnam(LEARNER_GROUP).gr_mem:
                subprocess.run(["groupdel", LEARNER_GROUP], check=False, capture_output=True)

    def __enter__(self) -> Hub:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _processes_of(uids: dict[int, str]) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{pid}").st_uid in uids:
                found.append(int(pid))
    return found


def _session_members(session: int | None) -> list[int]:
    """Processes still in the hub's session: the proxy, the culler, servers it lost."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")) if session else ():
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
            if int(fields[3]) == session and fields[0] != "Z":
                found.append(int(pid))
    return found


def _owner(path: str) -> int:
    try:
        return os.lstat(path).st_uid
    except OSError:
        return -1


async def instructor_session(hub: Hub) -> Browser:
    """The instructor signs up first (admins are approved at sign-up) and logs in."""
    browser = Browser(hub.url)
    password = secrets.token_urlsafe(12)
    await browser.signup(hub.admin, password)
    await browser.login(hub.admin, password)
    return browser


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank: a value that was really measured."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]
