"""A class on the workshop hub: how many learners can run the live labs on this machine?

    sudo .venv/bin/python bench/workshop.py                    # a class of 30
    sudo .venv/bin/python bench/workshop.py --classes 10,20,30 # the largest class under 5 s p95

For each class size, a fresh hub (`make hub`'s own configuration, on a free loopback port,
with a private state directory) is started and:

1. one learner alone signs up, is approved, spawns and runs notebooks 00, 04, 05 and 06
   through the Jupyter REST and kernel websocket APIs: the reference cell latencies;
2. N learners do the same at the same time: sign-up and approval, then every spawn at
   once, then every learner's nbgitpuller pull, then the four notebooks each, live
   rootless (each learner is their own Unix user);
3. meanwhile the machine's CPU use and memory in use (MemTotal - MemAvailable) are
   sampled every half second; each learner's peak memory is their server cgroup's
   peak (memory.peak on v2, memory.max_usage_in_bytes on v1, page cache included);
4. the hub stops and the run checks that no learner process, mount, cgroup or temp dir
   is left, and removes the learners' Unix accounts.

Reported: spawn p50/p95, cell latency p50/p95 (also as a ratio of the lone learner's),
failed cells (must be 0), peak memory per learner and for the machine, CPU use, leftovers.
With --classes, sizes are tried in order and the run stops at the first size whose p95
cell latency reaches --target (5 s); the answer is the last size under it, and the CPU and
memory figures say what limited it. Everything is bounded: spawn and cell timeouts, a
fixed list of sizes, and the hub only ever listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workshop"))
import classroom  # noqa: E402

NOTEBOOKS = [
    "layerlab/notebooks/00-start-here.ipynb",
    "layerlab/notebooks/04-layers-and-union-mounts.ipynb",
    "layerlab/notebooks/05-whiteouts-and-copy-on-write.ipynb",
    "layerlab/notebooks/06-the-init-layer.ipynb",
]
MiB = 1 << 20
OUT = REPO / "bench" / "out"  # the hub's log of each class is kept here


class MachineSampler:
    """CPU busy share and memory in use, every `interval` seconds, in a thread."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_used = 0
        self.busy: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def used_bytes() -> int:
        info = {}
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                key, value = line.split(":")
                info[key] = int(value.split()[0]) * 1024
        return info["MemTotal"] - info["MemAvailable"]

    @staticmethod
    def _cpu() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    def _run(self) -> None:
        busy0, total0 = self._cpu()
        while not self._stop.wait(self.interval):
            self.peak_used = max(self.peak_used, self.used_bytes())
            busy1, total1 = self._cpu()
            if total1 > total0:
                self.busy.append((busy1 - busy0) / (total1 - total0))
            busy0, total0 = busy1, total1

    def __enter__(self) -> MachineSampler:
        self.baseline = self.used_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def cgroup_peak(hub: classroom.Hub, name: str) -> int | None:
    for directory in hub.cgroup_of(name):
        for file in ("memory.peak", "memory.max_usage_in_bytes"):
            path = os.path.join(directory, file)
            if os.path.exists(path):
                return int(Path(path).read_text().split()[0])
    return None


async def lesson(learner: classroom.Learner) -> None:
    await learner.spawn()
    await learner.pull_course()
    for notebook in NOTEBOOKS:
        await learner.run_notebook(notebook)


async def run_class(size: int, args: argparse.Namespace) -> dict:
    with classroom.Hub(f"b{secrets.token_hex(2)}", args.mem_limit, args.pids_limit) as hub:
        hub.keep_log = str(OUT / f"workshop-hub-{size}.log")
        instructor = await classroom.instructor_session(hub)
        solo = classroom.Learner(hub, f"{hub.name_prefix}-solo")
        await solo.join(instructor)
        await lesson(solo)
        await solo.api("DELETE", f"/hub/api/users/{solo.name}/server")
        reference = [c.seconds for c in solo.cells]

        learners = [classroom.Learner(hub, f"{hub.name_prefix}-{i:02d}") for i in range(size)]
        gate = asyncio.Semaphore(5)  # sign-ups hash passwords (bcrypt): a few at a time

        async def join(person: classroom.Learner) -> None:
            async with gate:
                await person.join(instructor)

        await asyncio.gather(*(join(p) for p in learners))
        started = time.monotonic()
        with MachineSampler() as machine:
            tasks = [asyncio.ensure_future(lesson(p)) for p in learners]
            _, late = await asyncio.wait(tasks, timeout=args.deadline)
            peaks = {p.name: cgroup_peak(hub, p.name) for p in learners}
            for task in late:  # past the deadline: stop, and count their missing cells as failed
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        wall = time.monotonic() - started
        errors = [
            f"{p.name}: {'not done by the deadline' if t.cancelled() else t.exception()}"
            for p, t in zip(learners, tasks, strict=True)
            if t.cancelled() or t.exception()
        ]
    left = hub.leftovers
    cells = [c for p in learners for c in p.cells]
    latencies = [c.seconds for c in cells]
    spawns = [p.spawn_seconds for p in learners if p.spawn_seconds]
    known_peaks = [v for v in peaks.values() if v is not None]
    expected_cells = size * len(reference)
    p95 = classroom.percentile(latencies, 95)
    return {
        "learners": size,
        "wall_s": round(wall, 1),
        "spawn_p50_s": round(classroom.percentile(spawns, 50), 2),
        "spawn_p95_s": round(classroom.percentile(spawns, 95), 2),
        "cell_p50_s": round(classroom.percentile(latencies, 50), 3),
        "cell_p95_s": round(p95, 3),
        "solo_cell_p50_s": round(classroom.percentile(reference, 50), 3),
        "solo_cell_p95_s": round(classroom.percentile(reference, 95), 3),
        "p95_ratio_to_solo": round(p95 / classroom.percentile(reference, 95), 2),
        "cells_run": len(cells),
        "cells_expected": expected_cells,
        "failed_cells": sum(not c.ok for c in cells) + (expected_cells - len(cells)),
        "failures": [f"{c.notebook}#{c.index}: {c.error}" for c in cells if not c.ok][:10],
        "errors": errors[:10],
        "learner_peak_mib_max": round(max(known_peaks, default=0) / MiB),
        "learner_peak_mib_median": round(classroom.percentile(known_peaks, 50) / MiB)
        if known_peaks
        else None,
        "machine_peak_used_mib": round(machine.peak_used / MiB),
        "machine_used_before_mib": round(machine.baseline / MiB),
        "machine_mem_total_mib": round(_mem_total() / MiB),
        "cpu_busy_mean": round(sum(machine.busy) / max(1, len(machine.busy)), 2),
        "cpu_busy_p95": round(classroom.percentile(machine.busy, 95), 2),
        "cpus": os.cpu_count(),
        "leftovers": left.__dict__ if left else None,
        "clean": bool(left and left.clean()),
    }


def _mem_total() -> int:
    with open("/proc/meminfo") as meminfo:
        return int(meminfo.readline().split()[1]) * 1024


def verdict(results: list[dict], target: float) -> str:
    passing = [r for r in results if r["cell_p95_s"] < target and r["failed_cells"] == 0]
    if not passing:
        return f"no class size tried kept p95 cell latency under {target} s"
    best = max(passing, key=lambda r: r["learners"])
    last = results[-1]
    limit = (
        "CPU (busy {:.0%} on average, {:.0%} at p95, {} cores)".format(
            last["cpu_busy_mean"], last["cpu_busy_p95"], last["cpus"]
        )
        if last["cpu_busy_mean"] > 0.8
        else "not CPU-bound on average; see memory and the hub's own latency"
    )
    memory = "memory: peak {} of {} MiB in use".format(
        last["machine_peak_used_mib"], last["machine_mem_total_mib"]
    )
    return (
        f"largest class tried with p95 cell latency < {target} s: {best['learners']} learners "
        f"(largest tried: {last['learners']}); limited by {limit}; {memory}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", default="30", help="class sizes to try, e.g. 10,20,30")
    parser.add_argument("--target", type=float, default=5.0, help="p95 cell latency budget (s)")
    parser.add_argument("--mem-limit", default="1G")
    parser.add_argument("--pids-limit", type=int, default=512)
    parser.add_argument("--deadline", type=float, default=3600, help="seconds per class at most")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("workshop bench: error: run as root (the hub creates Unix users)", file=sys.stderr)
        return 1
    sizes = [int(s) for s in args.classes.split(",")]
    OUT.mkdir(exist_ok=True)
    subprocess.run([str(REPO / "workshop" / "install")], check=True)
    results = []
    for size in sizes:
        print(f"workshop bench: a class of {size}...", flush=True)
        result = asyncio.run(run_class(size, args))
        results.append(result)
        print(json.dumps(result, indent=2), flush=True)
        if result["cell_p95_s"] >= args.target or result["failed_cells"]:
            break
    print("workshop bench:", verdict(results, args.target))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(r["failed_cells"] == 0 and r["clean"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
