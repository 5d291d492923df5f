"""The capability probe tells the truth in every world, checked against util-linux tools.

The probe's answers steer every live lab, so a wrong "yes" crashes a notebook and a wrong
"no" hides a lab that would have worked. Each test compares the probe with what an
independent tool (unshare(1), mount(8), mkdir in the cgroup tree) says on this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest
from livetools import WORLD

from layerlab.live.kernel import probe

pytestmark = pytest.mark.live

NAMESPACE_FEATURES = [
    "mount_namespace",
    "pid_namespace",
    "uts_namespace",
    "net_namespace",
    "ipc_namespace",
]


def _tool_says(argv: list[str]) -> bool:
    return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0


def test_report_has_every_feature_with_a_reason_both_ways() -> None:
    """issue 4: probe --json is keyed by feature, each {"available": bool, "reason": str}."""
    report = json.loads(probe.probe_json())
    assert list(report) == list(probe.FEATURES)
    for name, answer in report.items():
        assert set(answer) == {"available", "reason"}, name
        assert isinstance(answer["available"], bool), name
        assert len(answer["reason"]) > 10, f"{name} needs a human reason, got {answer['reason']!r}"


def test_reasons_hold_no_volatile_values() -> None:
    """Notebooks print the probe: no temp paths or uids may appear in a reason."""
    for name, cap in probe.probe().items():
        assert tempfile.gettempdir() + "/layerlab-" not in cap.reason, name
        assert f"uid {os.geteuid()}" not in cap.reason or os.geteuid() == 0, name


def test_answers_are_cached_per_process_and_refreshable() -> None:
    first = probe.probe()
    assert probe.probe() is first
    again = probe.probe(refresh=True)
    assert again is not first and again == first


def test_module_entry_point_prints_the_same_json() -> None:
    """`python -m layerlab.live --json` is what `layerlab probe --json` prints."""
    done = subprocess.run(
        [sys.executable, "-m", "layerlab.live", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stderr == ""
    assert json.loads(done.stdout) == json.loads(probe.probe_json())


@pytest.mark.skipif(WORLD != "simulated", reason="this world is live")
def test_simulated_world_switches_everything_off() -> None:
    """LAYERLAB_LIVE=0: every feature off, with that switch as the reason."""
    for name, cap in probe.probe().items():
        assert not cap.available, name
        assert cap.reason.startswith("LAYERLAB_LIVE=0"), name


def test_live_switch_off_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    report = probe.probe()
    assert not any(cap.available for cap in report.values())
    assert probe.missing("user_namespaces") == probe.OFF_REASON


@pytest.mark.skipif(WORLD == "simulated", reason="LAYERLAB_LIVE=0")
def test_user_namespaces_agree_with_unshare(need_tool) -> None:
    """util-linux: `unshare --user --map-root-user` succeeds exactly when the probe says yes."""
    unshare = need_tool("unshare")
    expected = _tool_says([unshare, "--user", "--map-root-user", "true"])
    assert probe.probe()["user_namespaces"].available == expected


@pytest.mark.skipif(WORLD == "simulated", reason="LAYERLAB_LIVE=0")
@pytest.mark.parametrize("feature", NAMESPACE_FEATURES)
def test_namespaces_agree_with_unshare(feature: str, need_tool) -> None:
    """util-linux: `unshare [--user --map-root-user] --<kind>` succeeds when the probe says yes."""
    unshare = need_tool("unshare")
    flag = {
        "mount_namespace": "--mount",
        "pid_namespace": "--pid",
        "uts_namespace": "--uts",
        "net_namespace": "--net",
        "ipc_namespace": "--ipc",
    }[feature]
    direct = _tool_says([unshare, flag, "--fork", "true"])
    rootless = _tool_says([unshare, "--user", "--map-root-user", flag, "--fork", "true"])
    cap = probe.probe()[feature]
    assert cap.available == (direct or rootless)
    if cap.available:
        assert ("directly" in cap.reason) == direct


@pytest.mark.skipif(WORLD == "simulated", reason="LAYERLAB_LIVE=0")
def test_overlayfs_agrees_with_mount(tmp_path: os.PathLike, need_tool) -> None:
    """mount(8): a direct overlay mount in a private mount namespace works iff the probe says."""
    unshare = need_tool("unshare")
    base = str(tmp_path)
    for name in ("l", "u", "w", "m"):
        os.mkdir(os.path.join(base, name))
    options = f"lowerdir={base}/l,upperdir={base}/u,workdir={base}/w"
    direct = _tool_says(
        [unshare, "--mount", "mount", "-t", "overlay", "overlay", "-o", options, f"{base}/m"]
    )
    assert probe.probe()["overlayfs"].available == direct


@pytest.mark.skipif(WORLD == "simulated", reason="LAYERLAB_LIVE=0")
def test_cgroups_agree_with_mkdir() -> None:
    """A cgroup can be made exactly when the probe says so (tried here with plain mkdir)."""
    from layerlab.live.kernel.cgroupfs import detect_layout, lab_parent

    layout = detect_layout()
    writable = not layout.missing
    for hierarchy in layout.hierarchies.values():
        path = os.path.join(lab_parent(hierarchy), f"layerlab-check-{os.getpid()}")
        try:
            os.mkdir(path)
            os.rmdir(path)
        except OSError:
            writable = False
    assert probe.probe()["cgroups"].available == writable


@pytest.mark.skipif(WORLD != "root", reason="root's truths")
def test_root_world_has_everything_but_maybe_docker() -> None:
    """CI runs as root on Debian 12: every kernel feature must be live there."""
    report = probe.probe()
    off = {name: cap.reason for name, cap in report.items() if not cap and name != "docker"}
    assert not off


@pytest.mark.skipif(WORLD != "rootless", reason="an ordinary user's truths")
def test_rootless_world_truths() -> None:
    """issue 4: as an ordinary user, user namespaces and rootless overlay yes; cgroups only
    with a subtree delegated to us (tests/support/kernel-vm --as-learner sets one up)."""
    report = probe.probe()
    assert report["user_namespaces"].available
    assert report["overlayfs_rootless"].available
    delegated = bool(os.environ.get("LAYERLAB_DELEGATED_CGROUP"))
    assert report["cgroups"].available is delegated
    if not delegated:
        assert "EACCES" in report["cgroups"].reason or "EPERM" in report["cgroups"].reason
    assert not report["overlayfs"].available
    for feature in NAMESPACE_FEATURES:
        assert "inside a user namespace" in report[feature].reason


@pytest.mark.skipif(WORLD != "root", reason="needs root to make the refusing kernel")
def test_probe_reports_a_refusal_with_its_reason(need_tool) -> None:
    """Answers come from trying: with user.max_user_namespaces=0 the probe says no, and why."""
    unshare = need_tool("unshare")
    script = (
        "echo 0 > /proc/sys/user/max_user_namespaces && "
        f"exec {sys.executable} -m layerlab.live --json"
    )
    done = subprocess.run(
        [unshare, "--user", "--map-root-user", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["user_namespaces"]["available"] is False
    assert "max_user_namespaces is 0" in report["user_namespaces"]["reason"]
    assert report["overlayfs_rootless"]["available"] is False
