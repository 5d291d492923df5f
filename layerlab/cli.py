"""The `layerlab` command: inspect, flatten, diff and draw images from a terminal.

Exit codes: 0 done, 1 bad input (one line on stderr: `layerlab: error: ...`), 2 usage,
130 interrupted. Nothing here prints a traceback: a user who gave a broken image needs to
know what to do, not where the code was. (LAYERLAB_DEBUG=1 re-raises, for developers.)
Heavy modules are imported inside the commands, so `layerlab --help` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]


def _inspect(args: argparse.Namespace) -> int:
    from .formats import load_image

    print(json.dumps([load_image(args.image).inspect()], indent=4))
    return 0


def _flatten(args: argparse.Namespace) -> int:
    from .formats import load_image
    from .tar.flatten import flatten

    image = load_image(args.image)
    result = flatten(image, args.dest, progress=None if args.progress else False)
    print(result)
    for skipped in result.skipped[:5]:
        print(f"layerlab: note: skipped {skipped}", file=sys.stderr)
    return 0


def _diff(args: argparse.Namespace) -> int:
    from .formats.ondisk import read_layer_dir
    from .output import new_file
    from .tar.treediff import diff_trees
    from .tar.write import write_changeset

    old = read_layer_dir(args.old, None, include_root=True)
    new = read_layer_dir(args.new, None, include_root=True)
    changes = diff_trees(old, new)
    with new_file(args.output) as staging, open(staging, "wb") as out:
        diff_id = write_changeset(changes, out)
    print(
        f"{diff_id}  {len(changes)} entries, {len(changes.whiteouts)} whiteouts, "
        f"{len(changes.opaque_dirs)} opaque dirs"
    )
    return 0


def _render(args: argparse.Namespace) -> int:
    from .formats import load_image
    from .render import cli_render

    cli_render(load_image(args.image), args.output, args.text)  # RenderError: one line
    return 0


def _probe(args: argparse.Namespace) -> int:
    from .live.kernel.probe import probe, probe_json

    print(probe_json() if args.json else probe())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; argparse exits with 2 on usage errors, as promised."""
    parser = argparse.ArgumentParser(
        prog="layerlab", description="How container images really work, one layer at a time."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    image_help = "an OCI layout directory (DIR or DIR:TAG) or a `docker save` tar"

    p = sub.add_parser("inspect", help="print the image's IDs, layers and history as JSON")
    p.add_argument("image", metavar="IMAGE", help=image_help)
    p.set_defaults(func=_inspect)

    p = sub.add_parser("flatten", help="write the image's merged root filesystem to DEST")
    p.add_argument("image", metavar="IMAGE", help=image_help)
    p.add_argument("dest", metavar="DEST", help="a new or empty directory")
    p.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never draw a progress bar"
    )
    p.set_defaults(func=_flatten)

    p = sub.add_parser("diff", help="write the OCI layer that turns OLD_DIR into NEW_DIR")
    p.add_argument("old", metavar="OLD_DIR")
    p.add_argument("new", metavar="NEW_DIR")
    p.add_argument("-o", "--output", metavar="LAYER.tar", required=True, type=Path)
    p.set_defaults(func=_diff)

    p = sub.add_parser("render", help="draw the image's layer stack")
    p.add_argument("image", metavar="IMAGE", help=image_help)
    p.add_argument("-o", "--output", metavar="OUT.svg|.png|.dot", type=Path)
    p.add_argument("--text", action="store_true", help="print a text picture instead")
    p.set_defaults(func=_render)

    p = sub.add_parser("probe", help="which live demos this machine allows")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_probe)
    return parser


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through every cleanup handler


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (see the module docstring)."""
    args = build_parser().parse_args(argv)
    from .safety import LayerlabError

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.func(args))
    except LayerlabError as exc:
        print(f"layerlab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("layerlab: interrupted; nothing was left half-written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (`| head`); that is not an error
        return 0
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"layerlab: error:{where} {exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if os.environ.get("LAYERLAB_DEBUG"):
            raise
        one_line = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(
            f"layerlab: error: internal error ({one_line}); please report it, "
            "LAYERLAB_DEBUG=1 shows the traceback",
            file=sys.stderr,
        )
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
