"""cgroup v1 beside v2, observed: which files the three labs write and read on each.

One machine shows one side only. The project's own machines are hybrid (every controller
on v1, Linux 6.18); most learners' are pure v2 (Debian 12's Linux 6.1, Ubuntu, Fedora). So
each side is *recorded* by running the labs live on a machine of that kind:

    python -m layerlab.live.cgroup_observed            # prints this machine's side as JSON

and kept in `observed/cgroups-<layout>.json`. `make test` re-checks each recording on a
machine of its kind: the hybrid one on the host, the v2 one in a VM booting Debian's 6.1
kernel (tests/support/kernel-vm), as root and as a user with a delegated subtree. The
notebook prints both recordings, labelled as such, beside the labs that run live.

Only stable facts are kept: the text written into each limit file and the counters the
kernel answered with, except throttling, which is recorded as "> 0" (its count varies).
"""

from __future__ import annotations

import json
import platform
import sys
from importlib import resources
from typing import Any

from .cgroup_limits import cpu_throttle, fork_limit, oom_kill
from .kernel.cgroupfs import detect_layout
from .kernel.result import LiveError

#: The recordings the course shows, by cgroup layout, in the order of the comparison.
LAYOUTS = {"hybrid": "v1 (hybrid)", "v2": "v2 (pure)"}


def observe() -> dict[str, Any]:
    """Run the three labs live here; what they wrote and what the kernel counted."""
    layout = detect_layout()
    # Generous timeouts: recordings and their re-checks also run in an emulated VM.
    oom = oom_kill(limit_mib=64, timeout=180)
    forks = fork_limit(pids_max=8, attempts=20, timeout=120)
    cpu = cpu_throttle(timeout=120)
    for result in (oom, forks, cpu):
        if not result.live:
            raise LiveError(f"the cgroup labs do not run live here: {result.reason}")
    v2 = {c: v == 2 for c, v in oom.snapshot.versions.items()}
    oom_file = "memory.events" if v2["memory"] else "memory.oom_control"
    return {
        "kernel": ".".join(platform.release().split(".")[:2]),
        "layout": layout.kind,
        "labs": {
            "memory": {
                "wrote": oom.snapshot.written,
                "read": {f"{oom_file}: oom_kill": oom.oom_kills},
                "workload ended by": oom.killed_by,
            },
            "pids": {
                "wrote": forks.snapshot.written,
                "read": {"pids.events: max": forks.snapshot.pids_refused},
                "workload ended by": f"fork() failed with {forks.refusal_errno}",
            },
            "cpu": {
                "wrote": cpu.snapshot.written,
                "read": {"cpu.stat: nr_throttled": "> 0" if cpu.throttled else "0"},
                "workload ended by": "normal exit",
            },
        },
    }


def recorded(layout: str) -> dict[str, Any]:
    """The committed recording for `layout` ("hybrid" or "v2")."""
    text = resources.files(__package__).joinpath(f"observed/cgroups-{layout}.json").read_text()
    return json.loads(text)


def comparison() -> str:
    """Both recordings side by side: per lab, the files written and the counters read."""
    sides = [recorded(layout) for layout in LAYOUTS]
    heads = [f"{LAYOUTS[s['layout']]}, Linux {s['kernel']}" for s in sides]
    rows: list[tuple[str, str, list[list[str]]]] = []
    for lab in sides[0]["labs"]:
        for part in ("wrote", "read"):
            cells = [
                [_fact(name, value) for name, value in side["labs"][lab][part].items()]
                for side in sides
            ]
            rows.append((lab, part, cells))
    width = max(len(line) for _, _, cells in rows for line in cells[0])
    width = max(width, len(heads[0]))
    lines = [f"{'':6} {'':5}  {heads[0]:<{width}}  {heads[1]}"]
    previous = ""
    for lab, part, (left, right) in rows:
        for i in range(max(len(left), len(right))):
            label = lab if lab != previous else ""
            previous = lab
            tag = part if i == 0 else ""
            a = left[i] if i < len(left) else ""
            b = right[i] if i < len(right) else ""
            lines.append(f"{label:6} {tag:5}  {a:<{width}}  {b}".rstrip())
    return "\n".join(lines)


def _fact(name: str, value: object) -> str:
    """ "pids.max = 8", but "cpu.stat: nr_throttled > 0" for a recorded comparison."""
    return f"{name} {value}" if str(value)[:1] in "<>" else f"{name} = {value}"


def main() -> int:
    """Print this machine's side as one JSON line (to be saved as observed/cgroups-*.json)."""
    print(json.dumps(observe(), sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
