"""The cleanup helpers themselves: never delete through a mount, never lose a Ctrl-C."""

from __future__ import annotations

import os
import signal

import pytest
from livetools import WORLD

from layerlab.live.kernel import cleanup, syscalls
from layerlab.live.kernel.child import run

pytestmark = pytest.mark.live


def _mount_then_remove(base: str) -> tuple[str, bool]:
    """Inside a private mount namespace: a tmpfs at base/sub, then remove_tree(base)."""
    sub = os.path.join(base, "sub")
    syscalls.mount("tmpfs", sub, "tmpfs", 0, "size=64k")
    with open(os.path.join(sub, "precious"), "w") as handle:
        handle.write("on another filesystem")
    try:
        cleanup.remove_tree(base)
    except OSError as exc:
        return syscalls.errno_text(exc), os.path.exists(os.path.join(sub, "precious"))
    return "removed", False


@pytest.mark.skipif(WORLD == "simulated", reason="mounts a real tmpfs")
def test_remove_tree_refuses_to_delete_through_a_mount() -> None:
    """A mount left inside a temp dir (a bug) must stop the cleanup, not be emptied by it."""
    with cleanup.temp_dir("guard") as base:
        os.mkdir(os.path.join(base, "sub"))
        refusal, kept = run(_mount_then_remove, base, namespaces=["mnt"])
    assert refusal.startswith("EBUSY")
    assert kept


def test_remove_tree_removes_unreadable_directories(tmp_path) -> None:
    """overlayfs leaves work/work with mode 000: removal must still succeed."""
    locked = tmp_path / "work" / "work"
    locked.mkdir(parents=True)
    (locked / "inside").write_text("x")
    locked.chmod(0)
    (tmp_path / "work").chmod(0o500)
    cleanup.remove_tree(str(tmp_path / "work"))
    assert not (tmp_path / "work").exists()


def test_ctrl_c_during_cleanup_is_delivered_after_it() -> None:
    """A second stop-button press must not cut a cgroup removal short."""
    done = []
    with pytest.raises(KeyboardInterrupt), cleanup.shield_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        done.append("cleanup finished")
    assert done == ["cleanup finished"]


def test_temp_dir_is_removed_on_error() -> None:
    with pytest.raises(RuntimeError), cleanup.temp_dir("err") as path:
        open(os.path.join(path, "half-written"), "w").close()
        raise RuntimeError("boom")
    assert not os.path.exists(path)
