"""The learner's language: English by default, Chinese with ``set_language("zh")``.

Messages a learner reads (verdicts, hints, probe reasons, lab summaries, widget labels,
picture legends) are written in English in the code and looked up in gettext catalogs at
the moment they are shown. Looking them up late, not at import, is what lets a notebook
switch language in its first cell after layerlab is already imported.

Two catalogs (domains) live in ``layerlab/locale/<lang>/LC_MESSAGES/``: ``layerlab`` for
the library and ``exercises`` for the checkers' verdicts and hints. ``_`` looks in both.
A message missing from the catalog falls back to English, never to an error.
"""

from __future__ import annotations

import gettext
import os
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "zh")
DOMAINS = ("layerlab", "exercises")
LOCALE_DIR = Path(__file__).parent / "locale"

_language: str | None = None


def _normalize(lang: str) -> str:
    """Accept what people type: "zh", "zh_CN", "zh-CN.UTF-8", "EN"."""
    base = lang.strip().replace("-", "_").split(".")[0].split("_")[0].lower()
    if base not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return base


def set_language(lang: str) -> None:
    """Show every later message in ``lang`` ("en" or "zh")."""
    global _language
    _language = _normalize(lang)


def language() -> str:
    """The language in use: set_language's choice, else $LAYERLAB_LANG, else English."""
    if _language is not None:
        return _language
    try:
        return _normalize(os.environ.get("LAYERLAB_LANG") or "en")
    except ValueError:
        return "en"


@cache
def _translations(lang: str) -> gettext.NullTranslations:
    chain: gettext.NullTranslations = gettext.NullTranslations()
    if lang == "en":
        return chain
    for domain in reversed(DOMAINS):
        found = gettext.translation(domain, LOCALE_DIR, [lang], fallback=True)
        found.add_fallback(chain)
        chain = found
    return chain


def _(message: str) -> str:
    """``message`` in the learner's language; English when no translation exists.

    The empty string stays empty (gettext would answer with the catalog's header), so a
    label that happens to be empty can be passed through safely."""
    if not message:
        return message
    return _translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message, in the learner's language."""
    return _translations(language()).ngettext(singular, plural, n)


def translation(lang: str) -> gettext.NullTranslations:
    """The catalogs of ``lang`` itself, whatever the learner chose.

    For text written into a file of a given language rather than shown to the learner:
    the plan header of a notebook in notebooks/zh/ is Chinese even when English is in use.
    """
    return _translations(_normalize(lang))


def N_(message: str) -> str:
    """Mark a message for the catalog without translating it yet.

    For messages defined at import time (hint tables, labels of result fields): they are
    translated with ``_`` when shown, so a later ``set_language`` still applies.
    """
    return message
