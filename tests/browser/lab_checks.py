"""Judge what the page showed: each check returns a list of failures, empty when all is well.

The checks are plain functions over the data `lab_page.snapshot` read from the page, so
the harness can be tested on notebooks that are broken on purpose: a check that cannot
report a failure would make every browser test meaningless
(tests/browser/test_harness_catches_breakage.py).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from lab_page import PageLog

SVG = "{http://www.w3.org/2000/svg}"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STDERR_MIME = "application/vnd.jupyter.stderr"

#: Console errors that are known noise, each with why it is harmless. Keep this short:
#: every entry here is a kind of failure the suite can no longer see.
BENIGN_CONSOLE_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = ()


def read_notebook(path: Path) -> dict:
    """An .ipynb file as stored (nbformat 4 JSON)."""
    return json.loads(path.read_text(encoding="utf-8"))


def cells_expected_to_raise(notebook: dict) -> set[int]:
    """Indices of cells tagged `raises-exception` (nbval's tag): their error is the lesson."""
    return {
        index
        for index, cell in enumerate(notebook["cells"])
        if "raises-exception" in cell.get("metadata", {}).get("tags", [])
    }


def svg_labels(source: str) -> tuple[int, list[str]]:
    """(number of <g> groups, the texts drawn) of an SVG document; raises on bad XML."""
    root = ET.fromstring(source[source.find("<svg") :] if "<svg" in source else source)
    groups = sum(1 for _ in root.iter(f"{SVG}g")) + sum(1 for _ in root.iter("g"))
    texts = [
        "".join(node.itertext()).strip()
        for tag in (f"{SVG}text", "text")
        for node in root.iter(tag)
    ]
    return groups, [text for text in texts if text]


def _svgs_in_html(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)


def stored_pictures(notebook: dict) -> dict[int, list[set[str]]]:
    """For each cell that has pictures in its committed outputs, the label set of each.

    These are the "expected labels": the committed outputs were rendered from the same
    model (and checked by nbval), so the browser must draw at least the same texts, e.g.
    the layer names `rw` and `...-init` of a stack diagram.
    """
    expected: dict[int, list[set[str]]] = {}
    for index, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            sources = []
            if "image/svg+xml" in data:
                sources.append("".join(data["image/svg+xml"]))
            elif "text/html" in data:
                sources.extend(_svgs_in_html("".join(data["text/html"])))
            for source in sources:
                try:
                    _, texts = svg_labels(source)
                except ET.ParseError:
                    continue
                expected.setdefault(index, []).append(set(texts))
    return expected


def error_failures(snap: dict, allowed: set[int] = frozenset()) -> list[str]:
    """Python errors and widgets that failed to show, in any cell not tagged to raise."""
    failures = []
    for cell in snap["dom"]:
        index = cell["index"]
        if index in allowed:
            continue
        for out in cell["outputs"]:
            if out["mime"] == STDERR_MIME and "Traceback" in out["text"]:
                first = next((ln for ln in out["text"].splitlines() if "Error" in ln), "")
                failures.append(f"cell {index} shows a traceback: {first.strip()[:200]}")
            if out["widgetError"]:
                failures.append(f"cell {index}: a widget failed to display: {out['text'][:200]!r}")
        model_outputs = (snap.get("model") or [])[index]["outputs"] if snap.get("model") else []
        for out in model_outputs:
            if out["output_type"] == "error":
                failures.append(f"cell {index} raised {out['ename']}: {out['evalue'][:200]}")
        # A widget whose JavaScript failed leaves only its text/plain repr on the page.
        widgets_sent = sum(WIDGET_MIME in out["mimes"] for out in model_outputs)
        widgets_shown = sum(o["widget"] for o in cell["outputs"] if not o["nested"])
        if widgets_shown < widgets_sent:
            failures.append(
                f"cell {index}: {widgets_sent} widget(s) sent by the kernel but only "
                f"{widgets_shown} drawn; the page shows an error or plain text instead"
            )
    return failures


def unrun_failures(snap: dict) -> list[str]:
    """Code cells with source that never got an execution number ("Run All" stopped early)."""
    failures = []
    model = snap.get("model") or []
    for cell in snap["dom"]:
        has_source = bool(model[cell["index"]]["source"].strip()) if model else True
        if cell["kind"] == "code" and has_source and not re.search(r"\d", cell["prompt"]):
            failures.append(f"cell {cell['index']} did not run (prompt {cell['prompt']!r})")
    return failures


def log_console_failures(snap: dict) -> list[str]:
    """Kernel output that belongs to no cell (e.g. a traceback in a widget callback) goes
    to JupyterLab's log console; its status bar item counts the entries."""
    match = re.search(r"(\d+) log entr", snap.get("logTitle") or "")
    if match and int(match.group(1)) > 0:
        return [f"JupyterLab's log console has entries: {snap['logTitle']!r}"]
    return []


def console_failures(log: PageLog, blocked: list[str] = ()) -> list[str]:
    """JavaScript errors and uncaught exceptions in the page, and requests that tried to
    leave the machine (minus the commented allowlist above)."""
    failures = [f"uncaught exception in the page: {error[:300]}" for error in log.page_errors]
    for message in log.console_errors:
        if not any(pattern.search(message) for pattern, _why in BENIGN_CONSOLE_ERRORS):
            failures.append(f"console error: {message[:300]}")
    failures += [f"request to outside the machine: {url[:200]}" for url in blocked]
    return failures


#: A byte size as the pictures print it ("136.0 KiB", "64 MiB", "512 B").
_SIZE = re.compile(r"\d+(?:\.\d+)?\s*[KMGTP]?i?B\b")
_NUMBER = re.compile(r"\d+")


def label_shape(label: str) -> str:
    """A picture label with its measurements masked: sizes become <size>, numbers #.

    Some pictures show live readings, e.g. a cgroup's current memory use ("136.0 KiB /
    64.0 MiB") or how often it was throttled, which differ on every run (nbval ignores
    SVG for that reason). Words, paths and layer names must still match exactly, so a
    lost `rw` or `-init` label is still a failure.
    """
    return _NUMBER.sub("#", _SIZE.sub("<size>", label))


def picture_failures(snap: dict, expected: dict[int, list[set[str]]]) -> list[str]:
    """Every SVG on the page is a real drawing (groups, texts, decoded by the browser),
    and every cell that had pictures in its committed outputs draws the same labels
    (up to the measurements that `label_shape` masks)."""
    failures = []
    drawn: dict[int, list[set[str]]] = {}
    for cell in snap["dom"]:
        for out in cell["outputs"]:
            for svg in out["svgs"]:
                where = f"cell {cell['index']} ({svg['how']} SVG)"
                try:
                    groups, texts = svg_labels(svg["source"])
                except ET.ParseError as error:
                    failures.append(f"{where} is not valid SVG: {error}")
                    continue
                if not svg["loaded"]:
                    failures.append(f"{where}: the browser could not decode the image")
                if groups == 0 or not texts:
                    failures.append(f"{where} is empty: {groups} groups, {len(texts)} texts")
                drawn.setdefault(cell["index"], []).append(set(texts))
    for index, label_sets in sorted(expected.items()):
        shown = drawn.get(index, [])
        if len(shown) < len(label_sets):
            failures.append(
                f"cell {index}: {len(label_sets)} picture(s) in the committed outputs, "
                f"{len(shown)} drawn in the browser"
            )
            continue
        all_shown = {label_shape(label) for labels in shown for label in labels}
        for labels in label_sets:
            missing = sorted(label for label in labels if label_shape(label) not in all_shown)
            if missing:
                failures.append(f"cell {index}: picture lacks the labels {missing[:10]}")
    return failures


def tofu_failures(report: dict) -> list[str]:
    """Chinese is drawn with real glyphs (`lab_page.glyph_report`): each character its own
    shape and none the shape of a missing glyph, one em wide as CJK glyphs are, and every
    Chinese text of a picture at least as wide as its characters' ems."""
    failures = []
    if report["distinct"] != report["chars"] or report["like_tofu"]:
        failures.append(
            f"Chinese in {report['family']} draws as boxes: {report['distinct']} shapes for "
            f"{report['chars']} characters, {report['like_tofu']} like a missing glyph; "
            "install a CJK font (fonts-noto-cjk)"
        )
    if not 0.9 <= report["advance_em"] <= 1.1:
        failures.append(f"a Chinese character advances {report['advance_em']:.2f} em, not 1")
    for text in report["drawn"]:
        if text["em"] < 0.9 * text["cjk"]:
            failures.append(
                f"picture text {text['text']!r} is {text['em']:.1f} em wide for "
                f"{text['cjk']} Chinese characters: boxes, not glyphs"
            )
    return failures


def notebook_failures(snap: dict, log: PageLog, blocked: list[str], notebook: dict) -> list[str]:
    """All checks for one notebook run; `notebook` is the file as committed (read before
    the browser opened it, so JupyterLab's autosave cannot have touched it)."""
    return (
        unrun_failures(snap)
        + error_failures(snap, cells_expected_to_raise(notebook))
        + log_console_failures(snap)
        + console_failures(log, blocked)
        + picture_failures(snap, stored_pictures(notebook))
    )
