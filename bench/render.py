"""How fast a 20-layer, 20,000-file image renders as a legible summary (budget: 1 s).

Run: `.venv/bin/python bench/render.py`. It builds a synthetic image the way real ones grow
(a big base layer, then layers that add, rewrite and delete files), times the summary
twice (the model's answer plus DOT, then the same through Graphviz to SVG) and prints each
time as a ratio of the 1 s budget. The image is built in memory first and not timed: the
budget is for drawing, not for reading tars.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from layerlab.entries import Content, File, OpaqueDir, Whiteout  # noqa: E402
from layerlab.layer import Layer  # noqa: E402
from layerlab.render.figure import dot_available  # noqa: E402
from layerlab.render.summary import summary  # noqa: E402

BUDGET_SECONDS = 1.0


def synthetic_layers(n_layers: int = 20, n_files: int = 20_000, seed: int = 7) -> list[Layer]:
    """`n_files` file entries over `n_layers` layers: half in the base, the rest as changes.

    Later layers add new files, rewrite existing ones (shadowing), delete some with
    whiteouts, and now and then replace a directory with an opaque one.
    """
    rng = random.Random(seed)
    base_count = n_files // 2
    per_layer = (n_files - base_count) // (n_layers - 1)
    existing = [f"/usr/lib/pkg{i // 50:03d}/file{i:05d}.so" for i in range(base_count)]
    layers = [
        Layer(
            {
                p: File(content=Content(size=rng.randint(100, 200_000), opener=_no_bytes))
                for p in existing
            },
            name="base",
            created_by="ADD rootfs.tar.gz /",
        )
    ]
    for n in range(1, n_layers):
        entries: dict = {}
        for k in range(per_layer):
            roll = rng.random()
            if roll < 0.5:
                path = f"/opt/app{n:02d}/data{k:05d}.bin"
                existing.append(path)
            else:
                path = rng.choice(existing)
            entries[path] = File(content=Content(size=rng.randint(100, 50_000), opener=_no_bytes))
        for path in rng.sample(existing, 20):
            if path not in entries:
                entries[path] = Whiteout()
        if n % 7 == 0:
            entries[f"/usr/lib/pkg{n:03d}"] = OpaqueDir()
        layers.append(Layer(entries, name=f"layer{n:02d}", created_by=f"RUN step {n}"))
    return layers


def _no_bytes():  # the summary needs sizes only; reading would be a bug
    raise AssertionError("the summary must not read file contents")


def timed(action: Callable[[], object], repeat: int = 5) -> float:
    """Best of `repeat` runs, in seconds (the least disturbed by other processes)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    layers = synthetic_layers()
    files = sum(len(layer) for layer in layers)
    print(f"synthetic image: {len(layers)} layers, {files} entries")
    model = timed(lambda: summary(layers).dot)
    print(f"summary (model + DOT): {model:.3f} s = {model / BUDGET_SECONDS:.2f} x budget")
    if dot_available():
        svg = timed(lambda: summary(layers).svg(), repeat=3)
        print(f"summary to SVG (with dot): {svg:.3f} s = {svg / BUDGET_SECONDS:.2f} x budget")
    else:
        print("dot not installed: SVG time not measured")


if __name__ == "__main__":
    main()
