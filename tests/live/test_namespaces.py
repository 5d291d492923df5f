"""Namespace labs: what `unshare` shows a learner, in every world, and nothing left behind."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import pytest
from livetools import WORLD, Interrupter

from layerlab.live import namespaces as ns
from layerlab.live.kernel.child import LiveTimeout
from layerlab.live.kernel.result import SIMULATED_BANNER, LiveError, LiveResult

pytestmark = pytest.mark.live

LIVE = WORLD != "simulated"
DEMOS = {
    "links": ns.namespace_links,
    "pid": ns.pid_isolation,
    "hostname": ns.hostname_isolation,
    "network": ns.network_isolation,
    "mount": ns.mount_isolation,
    "user": ns.user_mapping,
}


def check_world(result: LiveResult) -> None:
    """Live where this world allows it; otherwise labelled SIMULATED, with a reason."""
    assert result.world == WORLD
    assert result.live is LIVE
    if not LIVE:
        assert str(result).startswith(SIMULATED_BANNER)
        assert result.reason
        assert "SIMULATED" in result._repr_html_()


def test_every_namespace_link_differs() -> None:
    """/proc/self/ns/*: a child in new namespaces of all seven kinds points elsewhere."""
    result = ns.namespace_links()
    check_world(result)
    assert result.differs == dict.fromkeys(ns.LINKS, True)


def test_first_process_is_pid_1_and_sees_only_itself() -> None:
    """unshare --pid --fork --mount-proc: the child is PID 1 and /proc lists one process."""
    result = ns.pid_isolation()
    check_world(result)
    assert (result.pid_inside, result.processes_visible) == (1, 1)


def test_hostname_changes_only_inside() -> None:
    """unshare --uts: sethostname inside; the host's hostname, looked at meanwhile, stays."""
    before = socket.gethostname()
    result = ns.hostname_isolation("lab-box")
    check_world(result)
    assert result.hostname_inside == "lab-box"
    assert result.host_unchanged
    assert socket.gethostname() == before


def test_new_network_namespace_has_only_lo(need_tool) -> None:
    """unshare --net: only the loopback device, as `ip link` inside shows too."""
    result = ns.network_isolation()
    check_world(result)
    assert result.interfaces == ["lo"]
    if LIVE:
        userns = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
        shown = subprocess.run(
            [need_tool("unshare"), *userns, "--net", need_tool("ip"), "-o", "link"],
            capture_output=True,
            text=True,
            check=True,
        )
        names = [line.split(":")[1].strip() for line in shown.stdout.splitlines()]
        assert names == result.interfaces


def test_mount_inside_is_invisible_to_the_host() -> None:
    """unshare --mount: a tmpfs mounted inside; the host sees neither it nor its file."""
    result = ns.mount_isolation()
    check_world(result)
    assert result.inside_sees_file
    assert not result.host_sees_file
    assert not result.host_sees_mount


def test_root_inside_is_you_outside() -> None:
    """unshare --user --map-root-user: uid 0 inside, uid_map '0 <you> 1', files owned by you."""
    result = ns.user_mapping()
    check_world(result)
    assert (result.uid_inside, result.gid_inside) == (0, 0)
    assert result.maps_to_your_uid
    assert result.file_owned_by_you
    if LIVE:
        assert result.outer_uid == os.geteuid()


@pytest.mark.parametrize("name", DEMOS)
def test_printed_form_is_stable(name: str) -> None:
    """Notebooks commit outputs: the same text twice, with no PID, temp path or hostname."""
    result = DEMOS[name]()
    first, second = str(result), str(DEMOS[name]())
    assert first == second
    assert repr(result) == first  # what a notebook shows for a result ending a cell
    assert tempfile.gettempdir() + "/" not in first
    assert not re.search(r"\d{4,}", first), first  # no PIDs, inode numbers, namespace ids
    host = socket.gethostname()
    assert len(host) < 4 or host not in first


@pytest.mark.skipif(not LIVE, reason="compares live with simulated")
@pytest.mark.parametrize("name", DEMOS)
def test_simulation_shows_what_the_kernel_shows(name: str, monkeypatch) -> None:
    """The simulated result has the live result's class, fields and facts: it does not lie."""
    live = DEMOS[name]()
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    simulated = DEMOS[name]()
    assert type(simulated) is type(live)
    for field in dataclasses.fields(live):
        assert type(getattr(simulated, field.name)) is type(getattr(live, field.name)), field.name
    assert simulated.facts() == live.facts()
    assert str(simulated).startswith(SIMULATED_BANNER)
    assert "LAYERLAB_LIVE=0" in str(simulated)


@pytest.mark.skipif(not LIVE, reason="runs a real child")
def test_run_command_runs_in_the_new_namespaces() -> None:
    """A command's output comes back; in the new PID namespace the shell is PID 2, after PID 1."""
    done = ns.run_command(["sh", "-c", "echo $$; hostname box && hostname"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "box"]


@pytest.mark.skipif(not LIVE, reason="runs a real child")
def test_refusal_inside_the_child_is_a_live_error_with_errno() -> None:
    with pytest.raises(LiveError, match="ENOENT") as caught:
        ns.run_in_namespaces(os.listdir, "/no/such/dir")
    assert caught.value.errno == 2


def test_unknown_namespace_is_refused_before_forking() -> None:
    with pytest.raises(ValueError, match="unknown namespace"):
        ns.run_in_namespaces(os.getpid, namespaces=["time-travel"])


def _start_family_and_wait() -> None:
    """Fork a child that forks a grandchild and exits (orphaning it), then wait forever."""
    if os.fork() == 0:
        if os.fork() == 0:
            time.sleep(60)
        os._exit(0)
    time.sleep(60)


@pytest.mark.skipif(not LIVE, reason="runs a real child")
def test_timeout_stops_the_child_and_everything_it_started() -> None:
    """On timeout the lab's orphaned grandchildren are reaped too (no zombie left for init)."""
    with pytest.raises(LiveTimeout):
        ns.run_in_namespaces(_start_family_and_wait, namespaces=["uts"], timeout=0.5)


def _ignore_sigterm_and_wait() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(60)


@pytest.mark.skipif(not LIVE, reason="runs a real child")
def test_a_child_that_ignores_the_polite_stop_is_killed() -> None:
    with pytest.raises(LiveTimeout):
        ns.run_in_namespaces(_ignore_sigterm_and_wait, namespaces=["ipc"], timeout=0.3)


INTERRUPTS = [
    ("links", "child-started"),
    ("pid", "child-started"),
    ("hostname", "hostname-set"),
    ("network", "child-started"),
    ("mount", "mounted"),
    ("user", "child-started"),
]


@pytest.mark.skipif(not LIVE, reason="a simulation has nothing to interrupt")
@pytest.mark.parametrize(("name", "stage"), INTERRUPTS)
def test_ctrl_c_midway_leaves_nothing(name: str, stage: str) -> None:
    """Ctrl-C while the lab's child holds its namespaces (and mounts): all released."""
    with Interrupter(stage) as press, pytest.raises(KeyboardInterrupt):
        DEMOS[name]()
    assert press.reached
