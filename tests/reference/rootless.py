"""Drive `overlay_worker.py` as an ordinary user inside a user + mount namespace.

/root is mode 700, so uid 65534 can read neither the venv's python nor this checkout. We
copy the pure layerlab package and the worker into a world-readable temp dir, run them
with a python that user can execute, and remove everything afterwards.
"""

from __future__ import annotations

import os
import pickle
import select
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from overlay_kernel import Op, Outcome

import layerlab

NOBODY = 65534
TIMEOUT = 60  # seconds for one example; a hung mount must not hang the test run
HERE = Path(__file__).resolve().parent
SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
WORKER_FILES = ("overlay_worker.py", "overlay_kernel.py")


def _as_nobody(argv: list[str]) -> list[str]:
    return [*SETPRIV, "unshare", "-Urm", *argv]


def _readable_python(cwd: str) -> str | None:
    """The first python >= 3.10 that uid 65534 can run (the venv's lives under /root)."""
    for candidate in (getattr(sys, "_base_executable", ""), "/usr/bin/python3"):
        if not candidate or not os.path.exists(candidate):
            continue
        probe = subprocess.run(
            _as_nobody([candidate, "-c", "import sys; assert sys.version_info >= (3, 10)"]),
            cwd=cwd,
            capture_output=True,
            env=_env(cwd),
        )
        if probe.returncode == 0:
            return candidate
    return None


def _env(home: str) -> dict[str, str]:
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home, "LC_ALL": "C.UTF-8"}


class RootlessWorker:
    """A live worker process; `run()` sends one example and returns the kernel's Outcome."""

    rootless = True

    def __init__(self) -> None:
        self.top = tempfile.mkdtemp(prefix="layerlab-rootless-")
        self.proc: subprocess.Popen | None = None
        self.stderr_path = os.path.join(self.top, "worker.log")
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        os.chmod(self.top, 0o755)
        code = os.path.join(self.top, "code")
        shutil.copytree(
            Path(layerlab.__file__).parent,
            os.path.join(code, "layerlab"),
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        for name in WORKER_FILES:
            shutil.copy(HERE / name, os.path.join(code, name))
        for dirpath, _dirs, filenames in os.walk(code):
            os.chmod(dirpath, 0o755)
            for f in filenames:
                os.chmod(os.path.join(dirpath, f), 0o644)
        scratch = os.path.join(self.top, "scratch")
        os.mkdir(scratch, 0o755)
        os.chown(scratch, NOBODY, NOBODY)
        python = _readable_python(scratch)
        if python is None:
            raise RuntimeError("no python >= 3.10 that uid 65534 can execute")
        self.stderr = open(self.stderr_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            _as_nobody([python, "-B", os.path.join(code, "overlay_worker.py"), scratch]),
            cwd=scratch,
            env=_env(scratch),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )

    def run(self, lowers: list, ops: list[Op]) -> Outcome:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        data = pickle.dumps((lowers, ops))
        self.proc.stdin.write(len(data).to_bytes(8, "big") + data)
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
        if not ready:
            self.proc.kill()
            raise RuntimeError(f"rootless worker gave no answer in {TIMEOUT} s: {self.log()}")
        header = self.proc.stdout.read(8)
        if len(header) < 8:
            raise RuntimeError(f"rootless worker died: {self.log()}")
        status, value = pickle.loads(self.proc.stdout.read(int.from_bytes(header, "big")))
        if status != "ok":
            raise RuntimeError(f"rootless worker failed:\n{value}")
        return value

    def log(self) -> str:
        try:
            return Path(self.stderr_path).read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.stdin:
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stdout:
                self.proc.stdout.close()
            self.stderr.close()
        shutil.rmtree(self.top, ignore_errors=True)
