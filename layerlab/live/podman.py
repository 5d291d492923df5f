"""A real Podman, driven through its CLI, with storage of its own that nothing else sees.

Notebook 06's lab and tests/reference/test_podman.py run it as root
(`podman_capability`); notebooks 01 and 05 run it as an ordinary user
(`rootless_podman_capability`). Both ask the capability probe first.

Podman has no daemon: every command reads the storage its configuration names. Each
`Podman` gets a fresh directory under /var/tmp with its own containers.conf and
storage.conf (graph root, run root, tmp and static dirs, file locks instead of the shared
/dev/shm lock, network config), so parallel runs never share a container, a lock or a
layer with each other or with a user's Podman. Containers run with `--network none` and
explicit rlimits: without them runc fails to set its default limits in the course's VMs
("error setting rlimit type 7"). As root they run in a cgroup parent named after the
run; rootless, Podman keeps a pause process holding its user namespace, with its pid
file in our own tmp dir (libpod/runtime.go, `GetRootlessPauseProcessPidPathGivenDir`).

`close` removes everything: containers, images, every mount under the directory, the
cgroup parent or the pause process, and the directory itself. It never raises;
`private_podman()` calls it on every way out, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from .. import host
from ..layer import Layer
from ..tar.write import write_changeset
from .kernel.cleanup import shield_interrupts, temp_dir
from .kernel.probe import live_enabled, missing

#: What `podman run` needs here; see the module docstring.
RUN_OPTIONS = (
    "--network",
    "none",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
)

CGROUP_ROOTS = ("/sys/fs/cgroup",)


def podman_capability() -> tuple[bool, str]:
    """Can this process run Podman containers for a lab? (yes/no, why) in one line."""
    if not live_enabled():
        return False, "LAYERLAB_LIVE=0: live labs are switched off"
    if shutil.which("podman") is None:
        return False, "podman is not installed (sudo apt-get install podman)"
    if host.euid() != 0:
        return False, "the lab runs Podman as root with a private storage; this is not root"
    why = missing("overlayfs")  # the probe first: Podman's storage is overlayfs
    if why is not None:
        return False, why
    return True, "podman is installed and this is root"


def rootless_podman_capability() -> tuple[bool, str]:
    """Can this process run rootless Podman for a lab? It asks the probe first."""
    if shutil.which("podman") is None:
        return False, "podman is not installed (sudo apt-get install podman)"
    why = missing("user_namespaces", "overlayfs_rootless")
    if why is not None:
        return False, why
    if host.euid() == 0:
        return False, "this runs as root; rootless Podman is what an ordinary user runs"
    return True, "podman is installed and this user may create user namespaces"


@contextlib.contextmanager
def private_podman(podman: str | None = None) -> Iterator[Podman]:
    """A `Podman` with its own storage, removed with everything in it when the block ends."""
    engine = Podman(podman or shutil.which("podman") or "podman")
    try:
        yield engine
    finally:
        with shield_interrupts():
            engine.close()


@contextlib.contextmanager
def committed_run(base: Layer, what: str, script: str, *options: str) -> Iterator[tuple[Path, str]]:
    """`base` imported into a private Podman, `sh -c SCRIPT` run on it, the container
    committed and saved: (the saved OCI archive, what the script printed). Both labs that
    ask a real Podman do exactly this; the archive lives until the block ends."""
    with temp_dir(f"podman-{what}") as tmp, private_podman() as podman:
        tar = io.BytesIO()
        write_changeset(base, tar)
        name, output = podman.run(
            podman.import_rootfs(tar.getvalue(), "base"), what, script, *options
        )
        yield podman.save(podman.commit(name, "committed"), Path(tmp) / "saved.tar"), output


def _mounts_under(root: str) -> list[str]:
    """Mount points at or below `root`, deepest first (from /proc/self/mountinfo)."""
    points = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            point = line.split()[4].replace("\\040", " ")
            if point == root or point.startswith(root + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


class Podman:
    """`podman` with a private storage, config and cgroup parent for one test run."""

    def __init__(self, podman: str) -> None:
        self.podman = podman
        self.run_name = f"layerlab-ref-{uuid.uuid4().hex[:10]}"
        self.home = Path(tempfile.mkdtemp(prefix="layerlab-podman.", dir="/var/tmp"))
        self.cgroup_parent = f"/{self.run_name}"
        conf, storage = self.home / "containers.conf", self.home / "storage.conf"
        conf.write_text(
            "[engine]\n"
            f'tmp_dir = "{self.home}/tmp"\n'
            f'static_dir = "{self.home}/static"\n'
            f'volume_path = "{self.home}/volumes"\n'
            'lock_type = "file"\n'
            'events_logger = "none"\n'
            'cgroup_manager = "cgroupfs"\n'
            "[network]\n"
            f'network_config_dir = "{self.home}/net"\n'
        )
        storage.write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{self.home}/root"\n'
            f'runroot = "{self.home}/run"\n'
        )
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(conf),
            "CONTAINERS_STORAGE_CONF": str(storage),
        }
        #: As an ordinary user Podman also keeps files under XDG_RUNTIME_DIR: ours is private.
        self.rootless = host.euid() != 0
        if self.rootless:
            runtime_dir = self.home / "xdg"
            runtime_dir.mkdir(mode=0o700)
            self.env["XDG_RUNTIME_DIR"] = str(runtime_dir)
            self.env["HOME"] = str(self.home)  # nothing reaches the user's own home

    def __call__(self, *args: str, stdin: bytes | None = None, check: bool = True) -> str:
        done = subprocess.run(
            [self.podman, *args], input=stdin, capture_output=True, timeout=120, env=self.env
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args[:3])} failed: "
                f"{done.stderr.decode(errors='replace').strip()}"
            )
        return done.stdout.decode().strip()

    def import_rootfs(self, tar: bytes, what: str) -> str:
        name = f"localhost/{self.run_name}:{what}"
        self("import", "-", name, stdin=tar)
        return name

    def run(self, image: str, what: str, script: str, *options: str) -> tuple[str, str]:
        """`podman run` of `sh -c SCRIPT`, kept for commit: (container name, its output)."""
        name = f"{self.run_name}-{what}"
        output = self(
            "run",
            "--name",
            name,
            *RUN_OPTIONS,
            *options,
            *self._cgroup_options(),
            image,
            "sh",
            "-c",
            script,
        )
        return name, output

    def try_run(self, image: str, what: str) -> subprocess.CompletedProcess[bytes]:
        """`podman run IMAGE true` whatever happens: for a start the runtime refuses."""
        return subprocess.run(
            [
                self.podman,
                "run",
                "--name",
                f"{self.run_name}-{what}",
                *RUN_OPTIONS,
                *self._cgroup_options(),
                image,
                "true",
            ],
            capture_output=True,
            timeout=120,
            env=self.env,
        )

    def _cgroup_options(self) -> tuple[str, ...]:
        """Root: a cgroup parent of our own. Rootless Podman makes no cgroup on v1."""
        return () if self.rootless else ("--cgroup-parent", self.cgroup_parent)

    def commit(self, container: str, what: str) -> str:
        name = f"localhost/{self.run_name}:{what}"
        self("commit", "-q", container, name)
        return name

    def save(self, image: str, dest: Path, fmt: str = "oci-archive") -> Path:
        self("save", "-q", "--format", fmt, "-o", str(dest), image)
        return dest

    def inspect_image(self, image: str) -> dict:
        return json.loads(self("image", "inspect", image))[0]

    def close(self) -> None:
        """Remove this run's containers, images, mounts, cgroups and files. Never raises."""
        cleanup = [("rm", "-af"), ("rmi", "-af")]
        if self.rootless:  # files of sub-uids: removed from inside the user namespace
            cleanup.append(("unshare", "rm", "-rf", str(self.home / "root")))
        for args in cleanup:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self(*args, check=False)
        if self.rootless:
            _stop_pause_process(self.home / "tmp" / "pause.pid")  # libpod's tmp_dir
        for point in _mounts_under(str(self.home)):
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=60)
        for root in CGROUP_ROOTS:
            for parent in Path(root).glob(f"*{self.cgroup_parent}"):
                for cgroup in sorted(parent.rglob("*"), key=lambda p: len(str(p)), reverse=True):
                    if cgroup.is_dir():
                        _rmdir(cgroup)
                _rmdir(parent)
            _rmdir(Path(root + self.cgroup_parent))
        shutil.rmtree(self.home, ignore_errors=True)


def _rmdir(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def _stop_pause_process(pid_file: Path) -> None:
    """Stop rootless Podman's pause process; its mount namespace goes with it."""
    with contextlib.suppress(OSError, ValueError):  # ProcessLookupError: it is gone
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGKILL)
        for _ in range(50):  # not our child: wait until init has reaped it
            os.kill(pid, 0)
            time.sleep(0.1)
