"""The labs and machine tables of notebooks 00-02 (in `layerlab.live`): the IPC queue,
the `unshare` command, and the probe/cgroup tables kept out of committed outputs.

Marked `live`, so they run in all three worlds (root, rootless, LAYERLAB_LIVE=0); each test
asserts what must hold in the world it finds itself in.
"""

from __future__ import annotations

import html
import os
import subprocess

import pytest

from layerlab.live import ipc as ipc_lab
from layerlab.live import unshare as unshare_lab
from layerlab.live.kernel import probe
from layerlab.live.kernel.child import run
from layerlab.live.kernel.probe import FEATURES, Capability, ProbeReport
from layerlab.live.kernel.result import SIMULATED_BANNER
from layerlab.live.machine import (
    LABS,
    MachineTable,
    cgroup_layout_table,
    lab_requirements,
    probe_table,
)

pytestmark = pytest.mark.live

WORLD = "simulated" if not probe.live_enabled() else ("root" if os.geteuid() == 0 else "rootless")


def need_live() -> None:
    """The kernel side of a lab exists only in the live worlds (root and rootless)."""
    if WORLD == "simulated":
        pytest.skip("LAYERLAB_LIVE=0: the simulated world runs no kernel lab")


# -- the IPC lab ---------------------------------------------------------------------------
def test_a_queue_made_inside_a_new_ipc_namespace_never_reaches_the_host():
    result = ipc_lab.ipc_isolation()
    assert (result.live, result.world) == (WORLD != "simulated", WORLD)
    assert (result.inside_sees_queue, result.host_sees_queue, result.left_on_host) == (
        True,
        False,
        False,
    )
    assert ipc_lab.KEY not in ipc_lab.queue_keys()
    if WORLD == "simulated":
        assert str(result).startswith(SIMULATED_BANNER)


def test_the_queue_listing_sees_a_queue_of_its_own_namespace():
    """The lab's 'host does not see it' means something: in the same namespace, another
    process does see the queue (the namespace, and so the queue, dies with the child)."""
    need_live()

    def make_and_ask_a_sibling() -> bool:
        ipc_lab.create_queue(ipc_lab.KEY)
        return subprocess.run(["cat", "/proc/sysvipc/msg"], capture_output=True, text=True).stdout

    listing = run(make_and_ask_a_sibling, namespaces=["ipc"], user=None)
    assert str(ipc_lab.KEY) in listing.split()
    assert ipc_lab.KEY not in ipc_lab.queue_keys()


# -- the unshare lab -----------------------------------------------------------------------
def test_unshare_gives_a_shell_its_own_hostname_pid_1_and_root():
    result = unshare_lab.unshare_run()
    assert (result.live, result.world) == (WORLD != "simulated", WORLD)
    assert result.returncode == 0
    assert result.output == unshare_lab.RECORDED  # live or recorded: the same lines
    lines = str(result).splitlines()
    assert lines[-1] == result.lesson
    assert f"  $ {unshare_lab.command_line()}" in lines
    assert "  |       1 sh" in lines


def test_without_the_unshare_program_the_lab_says_so_instead_of_failing(monkeypatch):
    need_live()
    monkeypatch.setattr(unshare_lab.shutil, "which", lambda name: None)
    result = unshare_lab.unshare_run()
    assert not result.live and "util-linux" in result.reason
    assert result.output == unshare_lab.RECORDED


# -- the machine tables --------------------------------------------------------------------
def test_every_lab_names_features_the_probe_knows():
    for _, needs in LABS:
        assert {n for need in needs for n in need.split("|")} <= set(FEATURES)
    assert lab_requirements().count("\n") == len(LABS) - 1


#: What a stored notebook shows where the widget is not drawn: the same on every machine.
STORED = "a table widget; run the cell in JupyterLab to see this machine's"


def fake_report(**available: bool) -> ProbeReport:
    return ProbeReport(
        (name, Capability(available.get(name, False), f"why {name}")) for name in FEATURES
    )


def test_the_probe_table_says_which_labs_run_live_and_prints_one_stable_line():
    rootless = fake_report(
        user_namespaces=True,
        mount_namespace=True,
        pid_namespace=True,
        uts_namespace=True,
        net_namespace=True,
        ipc_namespace=True,
        overlayfs_rootless=True,
        pivot_root=True,
    )
    table = probe_table(rootless)
    assert isinstance(table, MachineTable)
    assert "<td style='text-align:left'>why cgroups</td>" in table.value
    cell = "<td style='text-align:left'>{}</td>"
    simulated = [
        lab
        for lab, _ in LABS
        if cell.format(html.escape(lab)) + cell.format("live") not in table.value
    ]
    assert simulated == [
        "02 cgroup limits: OOM kill, refused fork, CPU throttling",
        "07 the same commit in a real Docker engine",
        "08 the mini runtime's memory and pids limits",
    ]
    nothing = probe_table(fake_report())
    assert repr(table) == repr(nothing) == f"<probe: 11 features, {len(LABS)} labs: {STORED}>"


def test_the_cgroup_table_shows_this_machines_layout_but_prints_one_stable_line():
    table = cgroup_layout_table()
    assert "cgroup layout" in table.value
    assert repr(table) == f"<cgroup layout: {STORED}>"


# -- notebook 08: umoci reads the committed image --------------------------------------------
def test_umoci_reads_what_layerlab_committed(tmp_path):
    from needs import need_tool

    from layerlab.container import Container
    from layerlab.formats.oci import save_oci
    from layerlab.live.umoci import umoci_read
    from layerlab.samples import busybox_image

    if WORLD != "simulated":
        need_tool("umoci")
    container = Container(busybox_image(busybox=None), name="box")
    container.write("/root/hello.txt", "hi\n")
    container.unlink("/etc/motd")
    committed = container.commit(created_by="hello, no motd")
    save_oci(committed.image, tmp_path / "layout", tag="box")
    paths = ["/root/hello.txt", "/etc/motd", "/srv/index.html"]
    result = umoci_read(tmp_path / "layout", "box", committed.image, paths)
    assert (result.live, result.world) == (WORLD != "simulated", WORLD)
    assert result.tags == ["box"] and result.layers == 3 and result.top_layer_is_ours
    assert result.last_step == "hello, no motd"
    assert result.present == {"/root/hello.txt": True, "/etc/motd": False, "/srv/index.html": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layout"]  # its bundle is gone


def test_without_umoci_the_read_is_labelled_and_says_how_to_install(monkeypatch, tmp_path):
    need_live()
    from layerlab.live import umoci as capstone
    from layerlab.samples import ubuntu_image

    monkeypatch.setattr(capstone.shutil, "which", lambda name: None)
    result = capstone.umoci_read(tmp_path, "x", ubuntu_image(), ["/etc/motd"])
    assert not result.live and "apt-get install umoci" in result.reason
    assert result.present == {"/etc/motd": True}
