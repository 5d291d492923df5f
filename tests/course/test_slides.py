"""`make slides`: one offline deck per notebook, with its questions and pictures, and
nothing loaded from outside the deck's folder."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from needs import unavailable

from layerlab.course import outline

ROOT = Path(__file__).resolve().parents[2]
REVEAL_JS = ROOT / "build" / "npm" / "node_modules" / "reveal.js"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


@pytest.fixture(scope="module")
def decks(tmp_path_factory) -> Path:
    if not (REVEAL_JS / "dist" / "reveal.js").exists():
        unavailable("reveal.js is not installed; run `make slides` once (it uses npm)")
    out = tmp_path_factory.mktemp("slides")
    subprocess.run(
        [sys.executable, str(ROOT / "tests/support/build-slides"), str(out), str(REVEAL_JS)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out


def test_one_deck_per_notebook_with_reveal_beside_it(decks):
    assert sorted(p.name for p in decks.glob("*.slides.html")) == [
        f"{p.stem}.slides.html" for p in NOTEBOOKS
    ]
    assert (decks / "reveal.js" / "dist" / "reveal.js").is_file()
    assert (decks / "reveal.js" / "plugin" / "notes" / "notes.js").is_file()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_a_deck_asks_each_sections_question_and_shows_pictures_not_code(decks, notebook):
    deck = (decks / f"{notebook.stem}.slides.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", deck))  # as the room reads it
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for section in outline(notebook).core + outline(notebook).optional:
        question = cells[section.first_cell]["metadata"]["layerlab"]["question"]
        assert f"Ask the room: {question.replace('`', '')}" in text, section.title
    if any('"image/svg+xml"' in json.dumps(c.get("outputs", [])) for c in cells):
        assert "data:image/svg+xml" in deck or "<svg" in deck
    assert "from layerlab" not in deck, "decks show outputs, not code"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_a_deck_loads_nothing_from_outside_its_folder(decks, notebook):
    deck = (decks / f"{notebook.stem}.slides.html").read_text(encoding="utf-8")
    loads = re.findall(r"""<(?:script|link|img)\b[^>]*?(?:src|href)=["']([^"']+)""", deck)
    remote = [url for url in loads if re.match(r"(?i)(https?:)?//", url)]
    assert loads and remote == []


def test_a_deck_starts_in_a_real_browser(decks, chromium):
    deck = decks / "05-whiteouts-and-copy-on-write.slides.html"
    dom = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--virtual-time-budget=5000",
            "--dump-dom",
            deck.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert re.search(r'class="reveal[^"]*\bready\b', dom), "reveal.js did not start"
    assert dom.count("<section") > 5
