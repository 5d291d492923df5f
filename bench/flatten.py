"""Flatten speed and memory against umoci and plain tar, on generated images.

    .venv/bin/python bench/flatten.py [--compression gzip|none] [--repeat 5]
                                      [--workload small|larger] [--skip-memory]

1. Two 10-layer images of 20,000 files each (a base layer, then layers that add, rewrite,
   white out files and make directories opaque), as OCI layouts in bench/out/:
   "small", files of about 512 B, and "larger", files of 0 B to 64 KB. For each,
   `layerlab flatten`, `umoci unpack` and `tar -x` of every layer in order (what a naive
   extractor does; it ignores whiteouts) run as fresh processes, --repeat rounds in a
   rotating order, each into a fresh directory. Medians and the min-max spread.
   Budgets (layerlab/tool, wall): small files <= 0.5x umoci and <= 1.0x tar; larger
   files no worse than before this benchmark had small files (0.34x and 0.45x).
2. The UnionView of the first workload's layers is built and asked 10,000 lookups.
   Budget: under 0.3 s.
3. An image whose layers carry 1 GiB of file data is flattened under /usr/bin/time -v.
   Budget: peak resident memory at most 64 MB.

Every output stays on disk until the run ends: on ext4 without a journal, creating
inodes right after many were deleted is ten times slower (bench/README.md), which would
charge one tool for another's cleanup. For the same reason a run waits until the
previous run's cleanup is EXT4_GRACE seconds old. layerlab's modules are byte-compiled
first, as an installed package's are (an editable checkout under
PYTHONDONTWRITEBYTECODE=1 would otherwise compile them in every timed run).

Wall time moves with machine load; CPU time (user + sys of the process and its
children) much less, so both are printed.
"""

from __future__ import annotations

import argparse
import compileall
import gzip
import hashlib
import io
import json
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
#: Every tool's output of one run, kept until the run ends.
RUNS = OUT / "runs"
#: Touched when RUNS is removed; the next run waits until EXT4_GRACE seconds after it.
CLEANED = OUT / ".cleaned"
EXT4_GRACE = 35
TOOLS = ["layerlab", "umoci", "tar"]
#: Where --baseline puts an older layerlab, timed as the tool "before".
BASELINE = OUT / "baseline"
#: File sizes: "about 512 bytes" (small), or 0 B to 64 KB (larger).
SMALL = (384, 448, 512, 576, 640)
LARGER = (0, 100, 1_000, 4_000, 16_000, 64_000)
LAYERLAB = [sys.executable, "-m", "layerlab"]
LAYER_MEDIA = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "none": "application/vnd.oci.image.layer.v1.tar",
}


class _Hashing:
    """Counts and hashes the uncompressed tar on its way into the (gzip) file."""

    def __init__(self, sink: io.RawIOBase) -> None:
        self.sink, self.sha = sink, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return self.sink.write(data)


class _Random(io.RawIOBase):
    """`size` pseudo-random bytes, generated as they are read (1 GiB never sits in memory)."""

    def __init__(self, size: int, seed: int) -> None:
        self.left, self.rng = size, random.Random(seed)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        n = min(len(buffer), self.left, 1 << 20)
        buffer[:n] = self.rng.randbytes(n)
        self.left -= n
        return n


def _blob(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs/sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def write_layout(layout: Path, layers: list[list[tuple]], compression: str) -> None:
    """Write an OCI layout tagged `bench`. A layer is a list of (name, kind, size|target)."""
    shutil.rmtree(layout, ignore_errors=True)
    (layout / "blobs/sha256").mkdir(parents=True)
    descriptors, diff_ids = [], []
    for number, members in enumerate(layers):
        tmp = layout / "blobs/sha256/.layer"
        with open(tmp, "wb") as raw:
            sink = (
                gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0)
                if compression == "gzip"
                else raw
            )
            hashing = _Hashing(sink)  # type: ignore[arg-type]
            with tarfile.open(fileobj=hashing, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for index, (name, kind, arg) in enumerate(members):
                    info = tarfile.TarInfo(name)
                    info.mtime = 1_700_000_000
                    stream = None
                    if kind == "dir":
                        info.type, info.mode = tarfile.DIRTYPE, 0o755
                    elif kind == "symlink":
                        info.type, info.linkname, info.mode = tarfile.SYMTYPE, arg, 0o777
                    else:
                        info.size, info.mode = arg, 0o644
                        stream = _Random(arg, number * 1_000_003 + index)
                    tar.addfile(info, stream)
            if sink is not raw:
                sink.close()
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        size = tmp.stat().st_size
        tmp.rename(layout / "blobs/sha256" / digest)
        descriptors.append(
            {"mediaType": LAYER_MEDIA[compression], "digest": f"sha256:{digest}", "size": size}
        )
        diff_ids.append("sha256:" + hashing.sha.hexdigest())
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"bench layer {i}"} for i in range(len(layers))],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            **_blob(layout, json.dumps(config).encode()),
        },
        "layers": descriptors,
    }
    entry = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        **_blob(layout, json.dumps(manifest).encode()),
        "annotations": {"org.opencontainers.image.ref.name": "bench"},
    }
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')


def twenty_thousand_files(seed: int = 0, sizes: tuple[int, ...] = LARGER) -> list[list[tuple]]:
    """10 layers, 20,000 file entries in all: 10,000 in the base, 1,111 in each later
    layer (new files and rewrites), plus whiteouts, opaque dirs and symlinks. Each file's
    size is drawn from `sizes`; the structure is the same for every choice of sizes."""
    rng = random.Random(seed)
    size = lambda: rng.choice(sizes)  # noqa: E731
    dirs = [f"usr/share/d{i:03d}" for i in range(100)]
    base: list[tuple] = [("usr", "dir", 0), ("usr/share", "dir", 0)]
    alive: set[str] = set()
    for d in dirs:
        base.append((d, "dir", 0))
        for j in range(100):
            base.append((f"{d}/f{j:03d}", "file", size()))
            alive.add(f"{d}/f{j:03d}")
    base.append(("lib", "symlink", "usr/share"))
    layers = [base]
    for number in range(1, 10):
        members: list[tuple] = []
        opaque = rng.sample(dirs, 2)
        for d in opaque:  # rm -r d; mkdir d; ...: the dir entry, then the marker
            members += [(d, "dir", 0), (f"{d}/.wh..wh..opq", "file", 0)]
            alive -= {p for p in alive if p.startswith(d + "/")}
        for victim in rng.sample(sorted(alive), 100):
            d, name = victim.rsplit("/", 1)
            members.append((f"{d}/.wh.{name}", "file", 0))
            alive.discard(victim)
        count = 1_111 + (number == 9)  # 10,000 + 9 * 1,111 + 1 = 20,000
        for k in range(count):
            d = rng.choice(dirs)
            name = f"{d}/l{number}-{k:04d}" if k % 3 else f"{d}/f{rng.randrange(100):03d}"
            members.append((name, "file", size()))
            alive.add(name)
        layers.append(members)
    return layers


def one_gibibyte() -> list[list[tuple]]:
    """4 layers, 1 GiB of file data: big files, and a later layer rewriting some."""
    mib = 1 << 20
    return [[(f"data/l{n}-{i}", "file", 64 * mib) for i in range(4)] for n in range(4)]


#: name: (what it is, how to make it). The 1 GiB image is only for the memory check.
WORKLOADS = {
    "small": (
        "small files: 10 layers, 20,000 files of about 512 B",
        lambda: twenty_thousand_files(sizes=SMALL),
    ),
    "larger": ("larger files: 10 layers, 20,000 files of 0 B to 64 KB", twenty_thousand_files),
    "1gib": ("1 GiB of file data in 4 layers", one_gibibyte),
}
#: layerlab/tool wall-time budgets. The larger files' are today's ratios (bench/README.md).
BUDGETS = {
    "small": {"umoci": "0.5x", "tar": "1.0x"},
    "larger": {"umoci": "0.34x", "tar": "0.45x"},
}


def timed(command: list[str], **kwargs) -> tuple[float, float]:
    """Wall and CPU (user + sys of the child and its children) seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def layer_blobs(layout: Path) -> list[Path]:
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(
        (layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_text()
    )
    return [layout / "blobs/sha256" / d["digest"][7:] for d in manifest["layers"]]


def commands(layout: Path, compression: str, dest: Path) -> dict[str, tuple[list[str], Path]]:
    """How each tool turns the image into a root filesystem at `dest` (which must not
    exist), and the directory it runs in ("before" is an older layerlab, see --baseline)."""
    untar = " && ".join(
        f"tar -x{'z' if compression == 'gzip' else ''}f {blob} -C {dest}"
        for blob in layer_blobs(layout)
    )
    flatten = [*LAYERLAB, "flatten", "--no-progress", f"{layout}:bench", str(dest)]
    return {
        "layerlab": (flatten, HERE.parent),
        "umoci": (["umoci", "unpack", "--image", f"{layout}:bench", str(dest)], HERE.parent),
        "tar": (["sh", "-c", f"mkdir {dest} && {untar}"], HERE.parent),
        "before": (flatten, BASELINE),
    }


def bench_speed(
    name: str, layout: Path, compression: str, repeat: int, tools: list[str]
) -> dict[str, list[tuple[float, float]]]:
    """`repeat` rounds; each round runs every tool once, in a rotating order, each into a
    fresh directory under RUNS that stays until the whole run ends (see `settle`)."""
    times: dict[str, list[tuple[float, float]]] = {tool: [] for tool in tools}
    for round_ in range(repeat):
        order = tools[round_ % len(tools) :] + tools[: round_ % len(tools)]
        for tool in order:
            command, cwd = commands(layout, compression, RUNS / f"{name}-{tool}-{round_}")[tool]
            times[tool].append(timed(command, cwd=cwd))
    return times


def export_baseline(ref: str) -> None:
    """layerlab's package as of git `ref`, in BASELINE, byte-compiled like ours."""
    shutil.rmtree(BASELINE, ignore_errors=True)
    BASELINE.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", ref, "layerlab"], cwd=HERE.parent, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(BASELINE)], input=archive, check=True)
    compileall.compile_dir(BASELINE / "layerlab", quiet=1)


def bench_union(layout: Path) -> dict:
    sys.path.insert(0, str(HERE.parent))
    from layerlab.formats.oci import load_oci
    from layerlab.union import UnionView

    start = time.perf_counter()
    layers = load_oci(f"{layout}:bench").model_layers()
    loaded = time.perf_counter() - start
    paths = sorted({p for layer in layers for p in layer})
    rng = random.Random(1)
    queries = [
        rng.choice(paths) if i % 2 else rng.choice(paths) + "-missing" for i in range(10_000)
    ]
    start = time.perf_counter()
    view = UnionView(layers)
    built = time.perf_counter() - start
    for path in queries:
        view.lookup(path)
    total = time.perf_counter() - start
    return {"load": loaded, "build": built, "build+10k lookups": total}


def bench_memory(layout: Path) -> int:
    """Peak RSS in bytes of `layerlab flatten`, from /usr/bin/time -v."""
    dest = RUNS / "memory"
    done = subprocess.run(
        [
            "/usr/bin/time",
            "-v",
            *LAYERLAB,
            "flatten",
            "--no-progress",
            f"{layout}:bench",
            str(dest),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1]) * 1024


def settle() -> None:
    """Start from nothing deleted recently: ext4 makes every new inode scan the inodes freed
    in the last ~30 s (`recently_deleted`, see bench/README.md), which would charge a tool
    for an earlier cleanup."""
    if RUNS.exists():  # left over from an interrupted run
        shutil.rmtree(RUNS)
        CLEANED.touch()
    if CLEANED.exists():
        wait = CLEANED.stat().st_mtime + EXT4_GRACE - time.time()
        if wait > 0:
            print(f"waiting {wait:.0f} s for the last run's deleted inodes to age", flush=True)
            time.sleep(wait)
    RUNS.mkdir(parents=True)


def cleanup() -> None:
    shutil.rmtree(RUNS)
    CLEANED.touch()


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s ({min(values):.2f}-{max(values):.2f})"


def report(name: str, times: dict[str, list[tuple[float, float]]], budgets: dict) -> None:
    print(f"\n{WORKLOADS[name][0]}, median of {len(times['layerlab'])} (min-max):")
    for tool, runs in times.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(f"  {tool:<9} wall {spread(walls)}   cpu {spread(cpus)}")
    lab = times["layerlab"]
    for tool in [t for t in times if t != "layerlab"]:
        other = times[tool]
        per_round = sorted(a[0] / b[0] for a, b in zip(lab, other, strict=True))
        wall = statistics.median(w for w, _ in lab) / statistics.median(w for w, _ in other)
        cpu = statistics.median(c for _, c in lab) / statistics.median(c for _, c in other)
        print(
            f"  layerlab/{tool:<5} {wall:.2f}x wall (per round {per_round[0]:.2f}-"
            f"{per_round[-1]:.2f}x, budget {budgets.get(tool, '1.0x')}), {cpu:.2f}x cpu"
        )


def image(name: str, compression: str) -> Path:
    layout = OUT / f"image-{name}-{compression}"
    if not (layout / "index.json").exists():
        print(f"generating {layout.name} ...", flush=True)
        write_layout(layout, WORKLOADS[name][1](), compression)
    return layout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compression", choices=["gzip", "none"], default="gzip")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workload", choices=["small", "larger"], action="append")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--baseline", metavar="GIT_REF", help="also time layerlab as of GIT_REF, as 'before'"
    )
    args = parser.parse_args()
    tools = TOOLS + ["before"] * bool(args.baseline)
    if args.baseline:
        export_baseline(args.baseline)
    workloads = args.workload or ["small", "larger"]
    OUT.mkdir(exist_ok=True)
    compileall.compile_dir(HERE.parent / "layerlab", quiet=1)
    layouts = {name: image(name, args.compression) for name in workloads}
    big = None if args.skip_memory else image("1gib", args.compression)
    settle()
    try:
        results = {
            name: bench_speed(name, layout, args.compression, args.repeat, tools)
            for name, layout in layouts.items()
        }
        union = bench_union(layouts[workloads[0]])
        peak = bench_memory(big) if big is not None else None
        for name, times in results.items():
            report(name, times, BUDGETS[name])
        print(
            f"\nUnionView ({workloads[0]}): load {union['load']:.2f} s (reading 10 layer tars);"
            f" build {union['build']:.2f} s; build + 10,000 lookups "
            f"{union['build+10k lookups']:.2f} s (budget 0.3 s)"
        )
        if peak is not None:
            print(f"1 GiB of layer data: peak RSS {peak / 1e6:.0f} MB (budget 64 MB)")
    finally:
        print(f"\nremoving {RUNS} ...", flush=True)
        cleanup()


if __name__ == "__main__":
    main()
