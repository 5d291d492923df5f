"""A class of three on the real workshop hub: sign-up, approval, spawn, a notebook each.

The hub is `make hub`'s own (workshop/install, then workshop/jupyterhub_config.py), started
with a private state directory on a free loopback port. Three learners go through what a
browser does (workshop/classroom.py) and each runs one notebook as their own Unix user:
05 must show the overlay lab LIVE rootless, 02 must show its cgroup labs as the labelled
simulation (a learner cannot write the cgroup tree), 00 must simply pass. Then the
isolation promises are tried from inside a learner's kernel, and after the hub stops
nothing of the class may be left: no process, mount, cgroup, temp dir or Unix account.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import pwd
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from needs import need_root, need_tool

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workshop"))
import classroom  # noqa: E402

pytestmark = pytest.mark.slow

NOTEBOOKS = {
    "overlay": "layerlab/notebooks/05-whiteouts-and-copy-on-write.ipynb",
    "cgroups": "layerlab/notebooks/02-cgroups.ipynb",
    "start": "layerlab/notebooks/00-start-here.ipynb",
}


@pytest.fixture(scope="module")
def hub():
    need_root("the hub creates a Unix account per learner and a cgroup per server")
    for tool in ("npm", "git", "useradd"):
        need_tool(tool)
    subprocess.run([str(REPO / "workshop" / "install")], check=True)
    the_hub = classroom.Hub(f"t{secrets.token_hex(2)}")
    with the_hub:
        yield the_hub
    # The last test checks what the stop left; this catches a failure before it.


@pytest.fixture(scope="module")
def learners(hub):
    async def class_of_three():
        instructor = await classroom.instructor_session(hub)
        people = [classroom.Learner(hub, f"{hub.name_prefix}-{role}") for role in NOTEBOOKS]
        for person in people:
            await person.join(instructor)
        await asyncio.gather(*(person.spawn() for person in people))
        await asyncio.gather(*(person.pull_course() for person in people))
        return dict(zip(NOTEBOOKS, people, strict=True))

    return run(class_of_three())


def run(coroutine):
    """asyncio.run in a thread of its own: when the browser tests ran first in this
    process, Playwright's event loop is still running in this thread, and asyncio.run
    refuses to start a second one there."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_a_learner_needs_the_instructors_approval(hub):
    async def unapproved():
        browser = classroom.Browser(hub.url)
        await browser.signup(f"{hub.name_prefix}-waiting", "a long enough password")
        with pytest.raises(classroom.ClassroomError, match="login of .* failed"):
            await browser.login(f"{hub.name_prefix}-waiting", "a long enough password")

    run(unapproved())


def test_three_learners_run_a_notebook_each_at_once(learners, hub):
    async def all_three():
        jobs = [learners[role].run_notebook(path) for role, path in NOTEBOOKS.items()]
        return dict(zip(NOTEBOOKS, await asyncio.gather(*jobs), strict=True))

    runs = run(all_three())
    for role, cells in runs.items():
        failed = [f"cell {c.index}: {c.error}" for c in cells if not c.ok]
        assert cells and not failed, f"{NOTEBOOKS[role]} failed for a learner: {failed}"
    overlay_text = "".join(c.text for c in runs["overlay"])
    assert "LIVE (rootless): overlayfs" in overlay_text, "05's overlay lab did not run live"
    cgroup_text = "".join(c.text for c in runs["cgroups"])
    assert "SIMULATED" in cgroup_text, "02's cgroup labs should show the labelled simulation"
    assert "LIVE (root)" not in cgroup_text, "a learner's kernel must not run as root"


def test_a_learner_is_nobody_special(learners, hub):
    me, other = learners["overlay"], learners["start"]
    report = run(
        me.run_code(
            "import json, os\n"
            "from layerlab.live.kernel.probe import probe\n"
            "def refused(action):\n"
            "    try:\n"
            "        action()\n"
            "    except OSError as exc:\n"
            "        return type(exc).__name__\n"
            "    return 'allowed'\n"
            f"home = os.path.expanduser('~{other.unix_name}')\n"
            "group = [l.split(':')[2] for l in open('/proc/self/cgroup') if ':pids:' in l"
            " or l.startswith('0::')][0]\n"
            "print(json.dumps({\n"
            "  'uid': os.getuid(), 'euid': os.geteuid(),\n"
            "  'other_home': refused(lambda: os.listdir(home)),\n"
            "  'setuid_root': refused(lambda: os.setuid(0)),\n"
            "  'userns': probe()['user_namespaces'].available,\n"
            "  'cgroups': probe()['cgroups'].available,\n"
            "  'group': group,\n"
            "}))\n"
        )
    )
    facts = json.loads(report.strip().splitlines()[-1])
    assert facts["uid"] == pwd.getpwnam(me.unix_name).pw_uid != 0
    assert facts["euid"] != 0
    assert facts["other_home"] == "PermissionError", "a learner could list another's home"
    assert facts["setuid_root"] == "PermissionError"
    assert facts["userns"] is True, "learners should get user namespaces (the rootless world)"
    assert facts["cgroups"] is False, "a learner must not be able to make cgroups"
    assert f"layerlab-hub-{me.name}-" in facts["group"], "the server is not in its cgroup"


def test_each_server_runs_under_its_limits(learners, hub):
    for person in learners.values():
        dirs = hub.cgroup_of(person.name)
        assert dirs, f"no cgroup for {person.name}"
        limits = {}
        for directory in dirs:
            for name in ("memory.limit_in_bytes", "memory.max", "pids.max"):
                path = os.path.join(directory, name)
                if os.path.exists(path):
                    limits[name] = Path(path).read_text().strip()
                    assert os.stat(path).st_uid == 0, f"{path} must stay root's"
        memory = limits.get("memory.max") or limits.get("memory.limit_in_bytes")
        assert memory == str(1 << 30), f"{person.name}: memory limit {memory}"
        assert limits.get("pids.max") == "512"


def test_nothing_of_the_class_is_left_after_the_hub_stops(learners, hub):
    accounts = hub.learner_accounts()
    assert len(accounts) == len(NOTEBOOKS)
    left = hub.stop()
    assert left.clean(), f"the class left something behind: {left}"
    assert not hub.learner_accounts(), "the learners' Unix accounts were not removed"
    for account in accounts:
        assert not os.path.exists(f"/home/{account}")
