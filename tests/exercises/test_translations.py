"""The exercises speak Chinese after `set_language("zh")`, and English by default.

Every hint is aimed at one misconception; these tests run the very answers the notebook
tests run (each exercise's stub, its mutants in WRONG, its right answers, the reference
solution and the contract's hostile answers) and insist that each verdict's text comes
out in Chinese. A hint added in English without a translation fails here twice: once
in the catalog check, once when its mutant is judged.
"""

from __future__ import annotations

import gettext
import importlib.util
import io
import json
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from conftest import run_cell

from layerlab import i18n
from layerlab.exercises import check, every_exercise, get, progress, reveal

EXERCISES = Path(i18n.__file__).parent / "exercises"
PO = i18n.LOCALE_DIR / "zh" / "LC_MESSAGES" / "exercises.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
CJK = re.compile(r"[\u4e00-\u9fff]")
#: Chinese text: ideographs, or only full-width punctuation around fields ("{who}，{kinds}").
CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


@pytest.fixture
def english(monkeypatch):
    """No language chosen, nothing in the environment: what a learner gets by default."""
    monkeypatch.setattr(i18n, "_language", None)
    monkeypatch.delenv("LAYERLAB_LANG", raising=False)


@pytest.fixture
def chinese(monkeypatch):
    """The zh notebooks' first line, undone after the test."""
    monkeypatch.setattr(i18n, "_language", None)
    i18n.set_language("zh")


def _boom(*args):
    return 1 // 0


def _prints(*args):
    print("x")


def _own_copy(name: str):
    """A test module of this directory, loaded afresh: its answers are this file's own, so
    judging one that reads once (a generator, an iterator) leaves the module's tests theirs."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"translations_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reusable(answer: object) -> object:
    """An answer that reads once, read into a tuple: the same answer for every test here."""
    return tuple(answer) if isinstance(answer, Iterator) else answer


def answers() -> list[tuple[str, str, object]]:
    """(exercise id, what the answer is, answer): every answer tests/exercises judges."""
    cases: list[tuple[str, str, object]] = []
    for exercise in every_exercise():
        cases += [
            (exercise.id, "not a function", 42),
            (exercise.id, "raises", _boom),
            (exercise.id, "prints", _prints),
            (exercise.id, "a string", "text"),
        ]
    for notebook in sorted({exercise.id.split(".")[0] for exercise in every_exercise()}):
        tests = _own_copy(f"test_ex{notebook}")
        for exercise_id, wrong in tests.WRONG.items():
            cases += [
                (exercise_id, f"mutant {reason}", _reusable(a)) for reason, a in wrong.items()
            ]
        for exercise_id, right in tests.RIGHT.items():
            cases += [(exercise_id, f"right answer {i}", _reusable(a)) for i, a in enumerate(right)]
    return cases


ANSWERS = answers()


def _messages() -> dict[object, str]:
    """Every message the exercise modules mark, as Babel extracts it (msgid -> where)."""
    found: dict[object, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(EXERCISES), keywords=KEYWORDS, comment_tags=()
    ):
        found.setdefault(message, f"{filename}:{lineno}")
    return found


def _fields(text: str) -> set[tuple[str, str, str]]:
    """The replacement fields of a format string: what .format(...) fills in (a field may
    appear more often in one language than in the other)."""
    return {
        (name, conversion or "", spec or "")
        for _literal, name, spec, conversion in string.Formatter().parse(text)
        if name is not None
    }


def _catalog():
    with PO.open("rb") as handle:
        return read_po(handle)


def test_every_marked_message_has_a_chinese_translation():
    catalog = _catalog()
    untranslated = []
    for message, where in _messages().items():
        entry = catalog.get(message)
        strings = entry.string if entry is not None else ""
        strings = strings if isinstance(strings, tuple) else (strings,)
        if entry is None or entry.fuzzy or not all(s and CHINESE.search(s) for s in strings):
            untranslated.append(f"{where}: {message!r}")
    assert not untranslated, (
        "messages without a Chinese translation in exercises.po (see its header for "
        "how to update the catalog):\n" + "\n".join(untranslated)
    )


def test_translations_keep_the_fields_their_message_fills_in():
    """A translation that drops, adds or renames a {field} would crash or mislead."""
    for entry in _catalog():
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for translation in strings:
            assert _fields(translation) == _fields(ids[-1]), (entry.id, translation)


def test_the_compiled_catalog_is_the_po_file():
    """exercises.mo is what gettext reads: it must hold what the .po says (recompile)."""
    compiled = io.BytesIO()
    write_mo(compiled, _catalog())
    compiled.seek(0)
    shipped = gettext.GNUTranslations(MO.open("rb"))
    expected = gettext.GNUTranslations(compiled)
    assert shipped._catalog == expected._catalog  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "exercise_id, what, answer", ANSWERS, ids=[f"{e}-{w}" for e, w, _ in ANSWERS]
)
def test_every_verdict_of_every_exercise_comes_out_in_chinese(chinese, exercise_id, what, answer):
    verdict = get(exercise_id).judge(answer)
    assert CJK.search(verdict.message), f"{exercise_id} {what}: {verdict.message}"
    assert str(verdict).startswith(("✓ 练习", "✗ 练习", "· 练习")), str(verdict)
    if verdict.status == "wrong":
        assert "\n  提示：" in str(verdict)


@pytest.mark.parametrize("exercise_id", [e.id for e in every_exercise()])
def test_the_stub_the_solution_and_reveal_speak_chinese(chinese, exercise_id):
    exercise = get(exercise_id)
    stub, solution = run_cell(exercise.stub), run_cell(exercise.solution)
    assert stub.status == "unsolved" and "尚未完成" in str(stub), str(stub)
    assert solution.ok and CJK.search(solution.message), str(solution)
    assert CJK.search(exercise.title) is None  # stored in English, translated when shown
    assert str(reveal(exercise_id)).startswith(f"练习 {exercise_id}（")


def test_every_answer_gets_the_same_verdict_in_both_languages(english):
    """Translating changes the words, never the judging; and English, the default, has no
    Chinese in it."""
    for exercise_id, _what, answer in ANSWERS:
        english_verdict = get(exercise_id).judge(answer)
        assert not CJK.search(str(english_verdict)), (exercise_id, str(english_verdict))
        i18n.set_language("zh")
        chinese_verdict = get(exercise_id).judge(answer)
        i18n.set_language("en")
        assert (english_verdict.status, english_verdict.reason) == (
            chinese_verdict.status,
            chinese_verdict.reason,
        )


def test_english_stays_the_default(english):
    verdict = check("05.1", lambda container, path: None)
    assert str(verdict).startswith("· Exercise 05.1 (delete a file as overlayfs does)")
    assert not CJK.search(str(verdict))


def test_the_language_can_also_come_from_the_environment(monkeypatch):
    monkeypatch.setattr(i18n, "_language", None)
    monkeypatch.setenv("LAYERLAB_LANG", "zh_CN.UTF-8")
    assert str(check("00.1", 42)).startswith("✗ 练习 00.1（/etc/motd 里的问候语）：还不对。")


ZH_NOTEBOOKS = sorted(Path(i18n.__file__).parents[1].glob("notebooks/zh/[0-9][0-9]-*.ipynb"))


@pytest.mark.parametrize("notebook", ZH_NOTEBOOKS, ids=[nb.name for nb in ZH_NOTEBOOKS])
def test_a_verdict_names_its_exercise_as_the_zh_heading_above_its_cell(chinese, notebook):
    """`### 练习 05.2：把一个层写成 tar 包` above the cell, `练习 05.2（把一个层写成 tar 包）`
    in its verdict: one title, whoever translates it."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    headings = re.findall(
        r"^### 练习 (\d\d\.\d+)：(.+)$",
        "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown"),
        flags=re.M,
    )
    assert headings, f"{notebook.name} has no exercise heading"
    for exercise_id, title in headings:
        assert i18n._(get(exercise_id).title) == title.strip(), exercise_id


def test_what_the_exercise_modules_print_outside_a_verdict_speaks_chinese(chinese, tmp_path):
    from layerlab.exercises.ex01 import hostname_change
    from layerlab.exercises.ex03 import STEPS, confinement

    shown = [str(hostname_change(kinds, root)) for kinds in ({"uts"}, set()) for root in (1, 0)]
    shown += [str(confinement([step])) for step in STEPS]
    shown += [str(confinement(["pivot_root rootfs rootfs/.oldroot"])), str(confinement(["x"]))]
    assert all(CJK.search(text) for text in shown), shown
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAYERLAB_PROGRESS", str(tmp_path / "progress.json"))
        assert str(progress()).startswith("已完成 ")
    with pytest.raises(LookupError, match="没有练习"):
        get("99.9")
