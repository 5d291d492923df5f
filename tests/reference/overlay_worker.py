"""Rootless overlayfs runner: one process inside `unshare -Urm`, serving many test examples.

Started by tests/reference/rootless.py as an unprivileged user. Every request on stdin is a
length-prefixed pickle of (lowers, ops); every answer on stdout is ("ok", Outcome) or
("error", traceback text). Mounts live in this process's own mount namespace, so they
vanish with it whatever happens; temp dirs go under the base dir given as argv[1].
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from overlay_kernel import run_on_kernel  # noqa: E402


def main(base: str) -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.read(8)
        if len(header) < 8:
            return
        lowers, ops = pickle.loads(stdin.read(int.from_bytes(header, "big")))
        try:
            answer: tuple = ("ok", run_on_kernel(lowers, ops, rootless=True, base=base))
        except Exception:
            answer = ("error", traceback.format_exc())
        data = pickle.dumps(answer)
        stdout.write(len(data).to_bytes(8, "big") + data)
        stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
