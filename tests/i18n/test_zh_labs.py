"""Every lab's printed result is Chinese in zh: its title, its lesson and its fact labels.

LiveResult translates these when it prints (layerlab/live/kernel/result.py), so each lab only marks
its strings with N_; a lab whose title, lesson or a label was left unmarked fails here.
Results are made with placeholder values of their fields' types: the labels, not the
values, are under test.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
import typing

import pytest

import layerlab
import layerlab.live
from layerlab import i18n
from layerlab.i18n import _
from layerlab.live.kernel.result import LiveResult

CJK = re.compile(r"[\u4e00-\u9fff]")

for module in pkgutil.iter_modules(layerlab.live.__path__):
    if module.name != "__main__":
        importlib.import_module(f"layerlab.live.{module.name}")


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


LABS = sorted(
    (c for c in _subclasses(LiveResult) if c.__module__.startswith("layerlab.")),
    key=lambda c: (c.__module__, c.__name__),
)


def _placeholder(hint: object) -> object:
    text = str(hint)
    if hint is bool:
        return False
    if hint in (int, float):
        return hint(0)
    if hint is str:
        return "x"
    return {} if ("dict" in text or "Mapping" in text) else ()


def _sample(cls: type) -> LiveResult:
    hints = typing.get_type_hints(cls)
    values = {
        f.name: _placeholder(hints.get(f.name))
        for f in dataclasses.fields(cls)
        if f.name not in ("live", "world", "reason")
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    }
    return cls(live=False, world="simulated", reason="r", **values)


@pytest.fixture(autouse=True)
def in_chinese():
    previous = i18n._language
    layerlab.set_language("zh")
    yield
    i18n._language = previous


def test_the_labs_are_found():
    assert len(LABS) >= 20, [c.__name__ for c in LABS]


@pytest.mark.parametrize("lab", LABS, ids=lambda c: c.__name__)
def test_a_lab_prints_its_title_and_lesson_in_chinese(lab):
    assert CJK.search(_(lab.title)), lab.title
    if lab.lesson:
        assert CJK.search(_(lab.lesson)), lab.lesson


SAMPLED = []
for lab in LABS:
    try:
        _sample(lab).facts()
    except (KeyError, TypeError, AttributeError, ValueError):
        continue  # needs real values; its title and lesson are still checked above
    SAMPLED.append(lab)


def test_most_labs_can_be_sampled():
    assert len(SAMPLED) >= len(LABS) - 2, sorted(set(LABS) - set(SAMPLED), key=str)


@pytest.mark.parametrize("lab", SAMPLED, ids=lambda c: c.__name__)
def test_a_lab_labels_its_facts_in_chinese(lab):
    result = _sample(lab)
    english = [  # a bare identifier (pids.max, a file name) stays as it is
        label for label, _value in result.facts() if " " in label and not CJK.search(_(label))
    ]
    assert not english, f"{lab.__name__}: labels left in English: {english}"
    assert CJK.search(str(result).splitlines()[0])
