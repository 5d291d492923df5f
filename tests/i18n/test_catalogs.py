"""The gettext catalogs stay in step with the code: every message a learner can see has a
Chinese translation, and the compiled .mo files a plain ``pip install`` ships are the ones
the .po sources say.

The command line (layerlab/cli.py) is deliberately not extracted: its errors stay English
(issue 15). tests/support/catalogs says so too.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
from pathlib import Path

import pytest

pytest.importorskip("babel", reason="Babel comes with the test extra: pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _load_catalogs_tool():
    path = ROOT / "tests/support/catalogs"
    loader = importlib.machinery.SourceFileLoader("layerlab_catalogs_tool", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


tool = _load_catalogs_tool()
DOMAINS = ("layerlab", "exercises")


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_extracted_message_has_a_chinese_translation(domain):
    """A message marked in the code but untranslated (or only fuzzily) in zh fails here."""
    catalog = tool.updated("zh", domain)
    missing = [
        f"{', '.join(path for path, _ in message.locations)}: {message.id!r}"
        + (" (fuzzy)" if message.fuzzy else "")
        for message in catalog
        if message.id
        and (message.fuzzy or not (all(message.string) if message.pluralizable else message.string))
    ]
    assert not missing, (
        f"{len(missing)} {domain} message(s) lack a Chinese translation; run `make catalogs`, "
        f"translate them in {tool.po_path('zh', domain).relative_to(ROOT)}, run it again:\n"
        + "\n".join(missing)
    )


@pytest.mark.parametrize("domain", DOMAINS)
def test_translations_keep_every_placeholder(domain):
    """A translation that drops or misspells a {placeholder} would raise in str.format."""
    catalog = tool.updated("zh", domain)
    wrong = []
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            if string and set(PLACEHOLDER.findall(string)) != wanted:
                wrong.append(f"{ids[0]!r} -> {string!r}")
    assert not wrong, "placeholders differ from the English:\n" + "\n".join(wrong)


def test_the_catalogs_are_in_step_with_code_and_compiled():
    """The committed .po hold exactly the extracted messages; the .mo equal the compiled .po."""
    problems = tool.run(check=True)
    assert not problems, "\n".join(problems) + "\nrun `make catalogs` and commit the result"


def test_the_command_line_is_left_out_on_purpose():
    assert ROOT / "layerlab/cli.py" in tool.EXCLUDED
    assert all(path.name != "cli.py" for path in tool.sources("layerlab"))


def test_the_domains_split_exercises_from_the_rest():
    exercises = tool.sources("exercises")
    library = tool.sources("layerlab")
    assert exercises and all("exercises" in path.parts for path in exercises)
    assert library and not any("exercises" in path.parts for path in library)


def test_an_untranslated_message_is_caught(tmp_path, monkeypatch):
    """The check itself can fail: a freshly marked message shows up as missing."""
    source = tmp_path / "probe.py"
    source.write_text('from layerlab.i18n import _\nprint(_("a message nobody translated"))\n')
    monkeypatch.setattr(tool, "sources", lambda domain: [source])
    monkeypatch.setattr(tool, "REPO", tmp_path)
    catalog = tool.updated("zh", "layerlab")
    message = catalog.get("a message nobody translated")
    assert message is not None and not message.string
