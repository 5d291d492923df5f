"""Image graph, kernel pictures and the copy-on-write timeline show the right structure."""

from __future__ import annotations

import re
from types import SimpleNamespace

import render_scenes

from layerlab.container import Container
from layerlab.render import (
    CgroupNode,
    cgroup_from_snapshot,
    cgroups,
    graph,
    namespaces,
    processes_from_links,
    timeline,
)
from layerlab.render.style import short_id


def _nodes(dot: str) -> list[str]:
    return re.findall(r"^\t(\w+) \[label=", dot, re.M)


def test_images_share_a_layer_node_exactly_when_they_share_its_chain_id():
    """semantics 7: a ChainID names a layer with everything below it."""
    a, b = render_scenes.image(), render_scenes.sibling_image()
    dot = graph(a, b).dot
    chain_nodes = [n for n in _nodes(dot) if n.startswith("chain_")]
    assert len(chain_nodes) == len(set(a.chain_ids) | set(b.chain_ids)) == 3
    assert f"chain {short_id(a.chain_ids[0])}" in dot and "shared by 2" in dot
    assert dot.count("shared by") == 1


def test_commit_is_drawn_from_the_rw_layer_to_the_new_top_layer():
    """semantics 18: commit captures the rw layer (not init) as one more layer."""
    c = render_scenes.container()
    committed = c.commit(tag="demo:2")
    dot = graph(render_scenes.image(), c, committed).dot
    new_top = "chain_" + short_id(committed.image.chain_ids[-1], 16)
    assert re.search(rf"\tctr1_rw -> {new_top} \[label=<docker commit", dot)
    assert "ctr1_init ->" in dot and f"ctr1_init -> {new_top}" not in dot
    assert "commits: container demo -> demo:2" in repr(graph(c, committed))


def test_a_no_change_commit_points_at_the_new_image_not_a_new_layer():
    """semantics 18: a commit without changes adds history (empty_layer), no layer."""
    c = Container(render_scenes.image(), name="idle")
    committed = c.commit(tag="same:1")
    figure = graph(c, committed)
    assert "\tctr0_rw -> item1 [label=<docker commit" in figure.dot
    assert "2 distinct layers" in repr(figure)


def test_namespaces_box_processes_by_their_pid_namespace():
    figure = namespaces(render_scenes.processes())
    clusters = re.findall(
        r"subgraph cluster_\d+ \{\n\t\t.*label=<pid namespace: (\w+)>", figure.dot
    )
    assert clusters == ["ctr", "host"]
    assert "proc0 -> proc1" in figure.dot and "proc1 -> proc2" in figure.dot
    assert repr(figure) == (
        "<namespaces: 3 processes in 2 pid namespaces; not the host's: ipc, mnt, net, pid, uts>"
    )


def test_namespace_links_result_becomes_two_processes():
    result = SimpleNamespace(differs={"pid": True, "user": False, "net": True})
    host, child = processes_from_links(result)
    assert child.parent == host.name
    assert dict(child.namespaces) == {"net": "new", "pid": "new", "user": "host"}
    assert set(host.namespaces.values()) == {"host"}


def test_cgroup_tree_shows_limits_usage_and_events():
    figure = cgroups(render_scenes.cgroup_nodes())
    text = str(figure)
    assert "/layerlab/demo  memory     64.0 MiB / 64.0 MiB  ██████████ 100%" in text
    assert "pids       2 / 20" in text and "limit 0.10 CPU" in text
    assert "throttled in 7 of 10 periods" in text and "OOM kills  1" in text
    assert [n for n in _nodes(figure.dot)] == ["cg0", "cg1", "cg2", "cg3"]  # /, /layerlab, ...
    assert "cg1 -> cg2" in figure.dot and "cg1 -> cg3" in figure.dot


def test_cgroup_snapshot_adapter_keeps_numbers_and_drops_the_random_name():
    snap = SimpleNamespace(
        name="lab-3f9a1c",
        paths={"memory": "/sys/fs/cgroup/x"},
        processes=1,
        memory_current=5,
        memory_max=10,
        pids_max=None,
        oom_kills=0,
    )
    node = cgroup_from_snapshot(snap, "/layerlab/oom")
    expected = CgroupNode(
        "/layerlab/oom", processes=1, memory_current=5, memory_max=10, oom_kills=0
    )
    assert node == expected
    assert "lab-3f9a1c" not in str(cgroups([node]))


def test_timeline_has_one_frame_per_step_and_marks_what_changed():
    c = render_scenes.container()
    figure = timeline(c)
    frames = re.findall(r"subgraph cluster_step(\d+)", figure.dot)
    assert frames == [str(n) for n in range(len(c.log) + 1)]
    assert figure.dot.count("changed here") == sum(
        1 for _ in ["/bin", "/bin/sh", "/app", "/app/c", "/app/c", "/app/c"]
    )
    step1 = figure.dot.split("subgraph cluster_step1")[1].split("subgraph cluster_step2")[0]
    assert "copy-up /bin/sh" in step1 and "#ffe0b2" in step1
    step5 = figure.dot.split("subgraph cluster_step5")[1]
    assert "bind-mounted: the write never reaches the rw layer" in step5
    assert "changed here" not in step5  # the write went to the bind mount


def test_timeline_can_show_chosen_steps_and_paths():
    figure = timeline(render_scenes.container(), steps=[0, 1], paths=["/bin/sh"])
    assert re.findall(r"subgraph cluster_step(\d+)", figure.dot) == ["0", "1"]
    assert "2 frames (steps 0..1), 1 path, 2 copy-ups" in repr(figure)
