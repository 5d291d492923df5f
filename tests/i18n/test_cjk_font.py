"""Chinese labels in pictures are drawn with real glyphs, not empty "tofu" boxes.

Measured, not assumed: Graphviz lays text out with Pango, so a node's width follows the
glyphs' advance. A CJK glyph advances exactly one em in every CJK font; where no font has
the glyph, Pango draws a box with the code point in hex, about 1.23 em wide at the course's
font size (measured here without a CJK font: 17.2 px a character at 14 px). Two labels of N
and 2N characters give the advance per character, margins cancelled.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from layerlab.render.figure import new_graph

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")

FONT_SIZE = 14.0
TEXT = "镜像层联合挂载写时复制"


def _advance() -> float:
    """Pixels a Chinese character adds to a node's width, as `dot` lays it out."""
    graph = new_graph("glyphs")
    graph.attr("node", shape="box", fontsize=str(FONT_SIZE), margin="0")
    graph.node("short", label=TEXT)
    graph.node("long", label=TEXT * 3)
    svg = graph.pipe(format="svg").decode()
    widths = {}
    for name, points in re.findall(r"<title>(\w+)</title>\s*<polygon[^>]*points=\"([^\"]+)\"", svg):
        xs = [float(point.split(",")[0]) for point in points.split()]
        widths[name] = max(xs) - min(xs)
    return (widths["long"] - widths["short"]) / (2 * len(TEXT))


def test_chinese_labels_get_full_width_glyphs():
    advance = _advance()
    assert 0.93 * FONT_SIZE <= advance <= 1.07 * FONT_SIZE, (
        f"a Chinese character advances {advance:.1f} px at {FONT_SIZE:.0f} px: no CJK font is "
        "used, so pictures show boxes; install fonts-noto-cjk (tests/support/system-tools)"
    )


def test_the_measure_tells_tofu_from_glyphs(tmp_path: Path, monkeypatch):
    """The same measure without CJK fonts (fontconfig limited to DejaVu) sees the boxes."""
    dejavu = Path("/usr/share/fonts/truetype/dejavu")
    if not dejavu.is_dir():
        pytest.skip("needs DejaVu (Debian's fonts-dejavu-core) as the font without CJK glyphs")
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f"<dir>{dejavu}</dir><cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>"
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(config))
    advance = _advance()
    assert advance > 1.15 * FONT_SIZE, f"{advance:.1f} px: tofu was expected here"
