"""With set_language("zh"), what layerlab shows a learner is Chinese.

The catalog tests prove every *marked* message is translated; these prove the messages are
marked: each piece a learner reads is rendered in Chinese and must hold CJK characters, so a
string someone forgot to wrap in `_` stays English and fails here. Identifiers, paths and
numbers stay Latin inside a Chinese line, so each check asks for some CJK, not only CJK.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import layerlab
from layerlab import i18n
from layerlab.course import header_markdown, outline
from layerlab.live.kernel import probe as probe_module
from layerlab.live.kernel.probe import FEATURES, Capability, ProbeReport
from layerlab.live.kernel.result import LiveResult
from layerlab.live.machine import Here, probe_table
from layerlab.render import CowPlayer, ImageCompare, StackExplorer
from layerlab.render.figure import Figure

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "render"))
import render_scenes  # noqa: E402  (the render tests' scenes, not a package)

CJK = re.compile(r"[\u4e00-\u9fff]")


def chinese(text: str) -> bool:
    return bool(CJK.search(text))


@pytest.fixture(autouse=True)
def in_chinese():
    previous = i18n._language
    layerlab.set_language("zh")
    yield
    i18n._language = previous


def lines_without_chinese(text: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """Lines of prose that stayed English: a line needs CJK unless it is data (a tree, a
    table row of paths and sizes) or starts with one of `allowed`."""
    return [
        line
        for line in text.splitlines()
        if re.search(r"[A-Za-z]{4,} [A-Za-z]{3,}", line)
        and not chinese(line)
        and not line.strip().startswith(allowed)
    ]


# --- probe report, banner, machine tables -------------------------------------------------


def test_the_probe_report_gives_its_reasons_in_chinese():
    report = probe_module.probe(refresh=True)
    for name, capability in report.items():
        assert chinese(capability.reason), f"{name}: {capability.reason}"
    assert chinese(report._repr_html_())


def test_the_switched_off_world_says_why_in_chinese(monkeypatch):
    monkeypatch.setenv("LAYERLAB_LIVE", "0")
    report = probe_module.probe(refresh=True)
    assert set(report) == set(FEATURES)
    assert all(chinese(c.reason) for c in report.values())
    assert chinese(probe_module.missing("docker"))


class _Sample(LiveResult):
    """A result of the same shape as every lab's."""

    title = "a sample lab"


def test_the_simulated_banner_and_the_live_header_are_chinese():
    simulated = str(_Sample(live=False, world="simulated", reason=probe_module.off_reason()))
    first, because = simulated.splitlines()[:2]
    assert chinese(first) and chinese(because), simulated
    assert chinese(_Sample(live=False, world="simulated", reason="x")._repr_html_())
    assert chinese(str(_Sample(live=True, world="root")).splitlines()[0])


def test_here_and_the_probe_table_are_chinese():
    report = ProbeReport((name, Capability(True, "ok")) for name in FEATURES)
    assert chinese(str(Here(("a",), ())))
    assert chinese(str(Here((), ())))
    table = probe_table(report)
    assert chinese(table.value) and chinese(repr(table))
    assert "00 " in table.value, "a translated lab name keeps its notebook number"


def test_the_plan_header_of_a_zh_notebook_is_chinese():
    notebook = {"cells": [{"cell_type": "markdown", "source": "# 99 · x", "metadata": {}}]}
    assert chinese(header_markdown(outline(notebook), "zh"))


# --- pictures: legends, labels, summaries --------------------------------------------------


def _figures() -> dict[str, Figure]:
    """Every renderer's picture of the render tests' scenes, drawn now (in Chinese)."""
    return render_scenes.all_figures()


FIGURE_NAMES = sorted(render_scenes.all_figures())
COMMANDS = sorted(
    {layer.created_by for layer in render_scenes.layers() + [render_scenes.container().rw]}
    | {ref.layer.created_by for ref in render_scenes.sibling_image().layers}
    | {step.command for step in render_scenes.container().log}
    | {"layerlab commit"},
    key=len,
    reverse=True,
)


@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_every_picture_labels_in_chinese(name):
    figure = _figures()[name]
    assert chinese(figure.summary), figure.summary
    assert chinese(figure.dot), "the picture's own labels"
    assert chinese(figure.html)
    text = figure.text
    for command in COMMANDS:  # data, not prose: the commands that made the layers
        text = text.replace(command, "")
    stayed = lines_without_chinese(text)
    assert not stayed, "\n".join(stayed)


def test_the_stack_legend_is_chinese():
    dot = _figures()["stack_container"].dot
    legend = dot[dot.index("legend") :]
    assert chinese(legend)
    for english in ("visible", "shadowed", "deleted", "copy-up", "never committed"):
        assert english not in legend, english


def test_the_explorers_label_their_parts_in_chinese():
    explorer = StackExplorer(render_scenes.container())
    explorer.paths.value = "/etc/passwd"
    labels = [child.value for child in explorer.children[1:4:2]]
    assert all(chinese(label) for label in labels), labels
    assert chinese(explorer.path_filter.placeholder)
    assert chinese(explorer.merged.value) and chinese(explorer.history.value)

    player = CowPlayer(render_scenes.container())
    assert chinese(player.slider.description) and chinese(player.command.value)
    player.slider.value = 1
    assert chinese(player.copyups.value) or chinese(player.command.value)

    compare = ImageCompare(render_scenes.image(), render_scenes.sibling_image())
    assert chinese(compare.shared.value) and chinese(compare.files.value)
    assert chinese(compare.diff.value)


# --- the world-bound lines are sanitized in Chinese too ------------------------------------


def _sanitize(text: str) -> str:
    from nbval.plugin import get_sanitize_patterns

    config = Path(__file__).resolve().parents[2] / "notebooks" / "nbval-sanitize.cfg"
    for regex, replace in get_sanitize_patterns(config.read_text(encoding="utf-8")):
        text = re.sub(regex, replace, text)
    return text


class _Lab(LiveResult):
    title = "a lab"

    def facts(self):
        return [("a number", 42)]


@pytest.mark.parametrize("world", ["root", "rootless"])
def test_zh_live_and_simulated_results_print_alike_once_sanitized(world):
    live = str(_Lab(live=True, world=world))
    simulated = str(_Lab(live=False, world="simulated", reason=probe_module.off_reason()))
    assert chinese(simulated) and live != simulated
    assert _sanitize(live) == _sanitize(simulated) == "<world>: a lab\n  a number: 42"


def test_zh_here_line_is_sanitized_and_nothing_else():
    assert _sanitize(str(Here(("a",), ("b",)))) == _sanitize(str(Here((), ("a", "b"))))
    assert _sanitize(str(Here((), ()))) == str(Here((), ()))
