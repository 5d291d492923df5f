"""How fast a 20-layer, 20,000-file image renders as a legible summary (budget: 1 s).

Run: `.venv/bin/python bench/render.py`. It builds a synthetic image the way real ones grow
(a big base layer, then layers that add, rewrite and delete files), times the summary
twice (the model's answer plus DOT, then the same through Graphviz to SVG) and prints each
time as a ratio of the 1 s budget. The image is built in memory first and not timed: the
budget is for drawing, not for reading tars.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from layerlab.entries import Content, Entry, File, OpaqueDir, Whiteout  # noqa: E402
from layerlab.layer import Layer  # noqa: E402
from layerlab.render.figure import dot_available  # noqa: E402
from layerlab.render.stack import stack  # noqa: E402
from layerlab.render.summary import summary  # noqa: E402

BUDGET_SECONDS = 1.0


def synthetic_layers(n_layers: int = 20, n_files: int = 20_000, seed: int = 7) -> list[Layer]:
    """Exactly `n_files` file entries over `n_layers` layers: half in the base, the rest as
    changes. Later layers add new files, rewrite existing ones (shadowing), delete some
    with whiteouts, and now and then replace a directory with an opaque one."""
    rng = random.Random(seed)
    base_count = n_files // 2
    existing = [f"/usr/lib/pkg{i // 50:03d}/file{i:05d}.so" for i in range(base_count)]
    layers = [
        Layer(
            {p: _file(rng, 200_000) for p in existing},
            name="base",
            created_by="ADD rootfs.tar.gz /",
        )
    ]
    left = n_files - base_count
    for n in range(1, n_layers):
        quota = left // (n_layers - n)
        left -= quota
        entries: dict[str, Entry] = {}
        while len(entries) < quota:
            if rng.random() < 0.5:
                path = f"/opt/app{n:02d}/data{len(entries):05d}.bin"
                existing.append(path)
            else:
                path = rng.choice(existing)
            entries[path] = _file(rng, 50_000)
        for path in rng.sample(existing, 20):
            entries.setdefault(path, Whiteout())
        if n % 7 == 0:
            entries[f"/usr/lib/pkg{n:03d}"] = OpaqueDir()
        layers.append(Layer(entries, name=f"layer{n:02d}", created_by=f"RUN step {n}"))
    return layers


def _file(rng: random.Random, biggest: int) -> File:
    return File(content=Content(size=rng.randint(100, biggest), opener=_no_bytes))


def _no_bytes():  # the summary needs sizes only; reading would be a bug
    raise AssertionError("the summary must not read file contents")


def timed(action: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    """Best of `repeat` runs: (wall seconds, CPU seconds including child processes such as
    dot). CPU time barely changes when other programs share the machine; wall time does."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        start, cpu = time.perf_counter(), _cpu()
        action()
        best_wall = min(best_wall, time.perf_counter() - start)
        best_cpu = min(best_cpu, _cpu() - cpu)
    return best_wall, best_cpu


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    layers = synthetic_layers()
    files = sum(isinstance(e, File) for layer in layers for _, e in layer.items())
    print(
        f"synthetic image: {len(layers)} layers, {files} files "
        f"({sum(len(layer) for layer in layers)} entries with whiteouts and opaque dirs)"
    )
    report("summary (model, DOT, text, HTML)", lambda: summary(layers))
    if dot_available():
        report("summary drawn to SVG by dot", lambda: summary(layers).svg(), repeat=3)
    else:
        print("dot is not installed: the SVG time was not measured")
    report("stack diagram of the 40 telling paths", lambda: stack(layers))


def report(what: str, action: Callable[[], object], repeat: int = 5) -> None:
    wall, cpu = timed(action, repeat)
    print(
        f"{what:<44} wall {wall:6.3f} s = {wall / BUDGET_SECONDS:.2f} x budget; "
        f"CPU {cpu:6.3f} s = {cpu / BUDGET_SECONDS:.2f} x budget"
    )


if __name__ == "__main__":
    main()
