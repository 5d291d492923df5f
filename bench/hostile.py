"""Peak memory and time of layerlab on the hostile corpus's bombs, against a tiny image.

    .venv/bin/python bench/hostile.py

Each case runs as a fresh `python -m layerlab` process; wait4 gives its peak resident
memory and CPU time. The reference, in the same run, is `inspect` of a one-file image:
the cost of starting Python and importing layerlab, which every row contains. Rows:

- nested gzip: a gzip layer whose bytes are a gzip of a 4 GiB tar (a few KB on disk);
- zstd ratio bomb: 64 MiB of zeros in a few KB of zstd;
- gzip bomb into a 300 MiB tmpfs TMPDIR (as root; otherwise the row is skipped):
  two 1 GiB layers decompressed side by side, stopped by the shared space budget;
- signal: SIGTERM 0.5 s into the decompression of a 16 GiB gzip bomb, and how long
  until the process is gone;
- entries: 200,000 empty files (inspect), 100,000 (flatten), then the issue's 1.2 million
  (refused at safety.MAX_ENTRIES); bytes per entry = (peak - reference) / entries.

Budgets: every peak under 300 MB; the signal row under 1 s.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "hostile"))
sys.path.insert(1, str(HERE.parent / "tests"))  # tarbuild, which the corpus builds with

from hostile_corpus import (  # noqa: E402
    BOMB_DIFF_ID,
    bomb_layer,
    layout,
    many_entries,
    tar,
)

#: Runs layerlab and prints its own peak RSS (VmHWM) last: the rusage of a child counts
#: the memory of the parent it was forked from, which here holds the bombs.
LAYERLAB = [
    sys.executable,
    "-c",
    "from hostile_corpus import run_and_report_peak; run_and_report_peak()",
]


def run(args: list[str], *, env: dict[str, str] | None = None, signal_after: float = 0.0):
    """(exit code, wall s, cpu s, peak bytes, seconds from signal to exit, last stderr line);
    the peak is 0 when the process was killed before it could report it."""
    start = time.perf_counter()
    path = os.pathsep.join(
        [
            str(HERE.parent / "tests" / "hostile"),
            str(HERE.parent / "tests"),
            os.environ.get("PYTHONPATH", ""),
        ]
    )
    proc = subprocess.Popen(
        [*LAYERLAB, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {}), "PYTHONPATH": path},
    )
    signalled = None
    if signal_after:
        _wait_for_temp_file(proc.pid, (env or {})["TMPDIR"])
        time.sleep(signal_after)
        signalled = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    end = time.perf_counter()
    err = proc.stderr.read().decode().strip().splitlines()  # type: ignore[union-attr]
    peak = int(err.pop().split()[1]) * 1024 if err and err[-1].startswith("peak-rss-kb") else 0
    return (
        os.waitstatus_to_exitcode(status),
        end - start,
        usage.ru_utime + usage.ru_stime,
        peak,
        end - signalled if signalled else None,
        err[-1][:90] if err else "",
    )


def _wait_for_temp_file(pid: int, tmpdir: str) -> None:
    """Until the process holds an anonymous file in `tmpdir`: it is decompressing."""
    while True:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            return
        if any(link.startswith(tmpdir) for link in links):
            return
        time.sleep(0.01)


def tmpfs(base: Path) -> Path | None:
    if os.geteuid() != 0:
        return None
    mount = base / "tmpfs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300m", "tmpfs", str(mount)])
    return mount if done.returncode == 0 else None


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="layerlab-hostile-bench-"))
    mount = None
    try:
        rows = []
        tiny = layout(base / "tiny", tar(("f", "f", "x")))
        reference = run(["inspect", str(tiny)])
        rows.append(("reference: inspect 1 file", reference))

        nested = gzip.compress(bomb_layer(4 << 30))
        image = layout(base / "nested", b"", diff_ids=[BOMB_DIFF_ID], stored=[nested])
        rows.append((f"nested gzip ({len(nested) >> 10} KB)", run(["inspect", str(image)])))

        try:
            import zstandard
        except ImportError:
            zstandard = None
        if zstandard is not None:
            bomb = zstandard.ZstdCompressor(level=19).compress(tar(("z", "f", bytes(64 << 20))))
            image = layout(base / "zstd", tar(("f", "f", "x")), stored=[bomb])
            rows.append((f"zstd ratio bomb ({len(bomb) >> 10} KB)", run(["inspect", str(image)])))

        mount = tmpfs(base)
        if mount is not None:
            one = bomb_layer(1 << 30)
            image = layout(
                base / "two", b"", b"", diff_ids=[BOMB_DIFF_ID] * 2, stored=[one, one + bytes(8)]
            )
            result = run(["inspect", str(image)], env={"TMPDIR": str(mount)})
            rows.append(("2 x 1 GiB gzip bomb, 300 MiB TMPDIR", result))

        big = layout(base / "sigterm", b"", diff_ids=[BOMB_DIFF_ID], stored=[bomb_layer(16 << 30)])
        scratch = base / "scratch"
        scratch.mkdir()
        result = run(
            ["flatten", "--no-progress", str(big), str(base / "d0")],
            env={"TMPDIR": str(scratch)},
            signal_after=0.5,
        )
        rows.append(("SIGTERM into a 16 GiB gzip bomb", result))

        data, diff_id = many_entries(200_000)
        image = layout(base / "many", b"", diff_ids=[diff_id], stored=[data])
        inspected = run(["inspect", str(image)])
        rows.append(("200,000 empty files: inspect", inspected))
        data, diff_id = many_entries(100_000)
        image = layout(base / "many100k", b"", diff_ids=[diff_id], stored=[data])
        flattened = run(["flatten", "--no-progress", str(image), str(base / "d1")])
        rows.append(("100,000 empty files: flatten", flattened))
        data, diff_id = many_entries(1_200_000)
        image = layout(base / "more", b"", diff_ids=[diff_id], stored=[data])
        rows.append(
            (f"1.2 M empty files ({len(data) >> 20} MB): inspect", run(["inspect", str(image)]))
        )

        print(f"{'case':<42} {'exit':>4} {'wall s':>7} {'cpu s':>6} {'peak MB':>8} {'x ref':>6}")
        for name, (code, wall, cpu, peak, stop, err) in rows:
            print(
                f"{name:<42} {code:>4} {wall:>7.2f} {cpu:>6.2f} {peak / 1e6:>8.0f} "
                f"{peak / reference[3]:>6.1f}"
            )
            if stop is not None:
                print(f"{'':<42} stopped {stop:.2f} s after SIGTERM")
            if code not in (0, 143) and err:
                print(f"{'':<42} {err}")
        per_entry = [
            (inspected[3] - reference[3]) / 200_000,
            (flattened[3] - reference[3]) / 100_000,
        ]
        print(
            f"\nmemory per entry: {per_entry[0]:.0f} bytes to inspect, {per_entry[1]:.0f} to "
            "flatten (peak above the reference, divided by the entries)"
        )
    finally:
        if mount is not None:
            subprocess.run(["umount", "-l", str(mount)])
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
