"""The course's own map: its notebooks, their sections, and how long each one takes.

Instructors plan with it (docs/instructors.md), learners see it in every notebook's header,
and the tests keep the two in step. Everything here reads a notebook's JSON, never its
kernel, so the estimate is the same on every machine.

A section is a `## ` heading in a markdown cell. A heading that ends in `(optional)` (in
the Chinese edition, notebooks/zh/, `（可选）`) marks a section a learner may skip on the
3-hour path; `skip_optional` removes those sections,
and the tests run what is left under strict nbval, so a skipped section can never break a
later cell.

The time estimate is a rule, not a stopwatch, so it stays honest when a notebook changes:

* reading: markdown words at `WORDS_PER_MINUTE` (technical prose, with pauses to think);
  Chinese has no spaces between words, so there every `CJK_CHARS_PER_WORD` Chinese
  characters count as one word;
* running: `MINUTES_PER_CELL` for every code cell that is not an exercise (run it, look
  at the output or picture);
* exercises: `MINUTES_PER_EXERCISE` each (read the task, try, read a hint, try again).

The constants were calibrated on the course as it stood before these headers: about 11k
words and 22 exercises that take about five and a half hours of self-study, which the rule
puts at 340 minutes. docs/instructors.md says how the cells' own run times were measured.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layerlab.i18n import N_, translation

__all__ = [
    "WORDS_PER_MINUTE",
    "MINUTES_PER_CELL",
    "MINUTES_PER_EXERCISE",
    "OPTIONAL_MARK",
    "CJK_CHARS_PER_WORD",
    "Section",
    "Estimate",
    "Outline",
    "outline",
    "skip_optional",
    "HEADER_MARK",
    "header_markdown",
    "header_cell_index",
    "with_header",
    "plan_table",
    "update_guide",
    "notebook_language",
    "ZH_LANGUAGE_LINE",
    "drift",
    "sync_zh",
    "main",
]

WORDS_PER_MINUTE = 120
MINUTES_PER_CELL = 1.0
MINUTES_PER_EXERCISE = 6.0
OPTIONAL_MARK = "(optional)"
OPTIONAL_MARKS = (OPTIONAL_MARK, "（可选）")
# Measured on the first six translated notebooks: 17,287 Chinese characters (punctuation
# included) where the English had 7,994 words not kept in Latin script, 2.16 a word. So a
# translation gets the reading time of its original.
CJK_CHARS_PER_WORD = 2.2
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")

_HEADING = re.compile(r"^## (?P<title>.+?)\s*$", re.M)
_NUMBERED = re.compile(r"^(?P<number>\d+)\.\s")


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def _is_exercise(cell: dict[str, Any]) -> bool:
    return "exercise" in cell.get("metadata", {}).get("tags", [])


@dataclass(frozen=True)
class Section:
    """A `## ` section: its heading, whether a learner may skip it, and its cells."""

    title: str
    optional: bool
    first_cell: int
    end_cell: int  # one past the last cell

    @property
    def number(self) -> str:
        """ "4" for "## 4. Two spellings ...", "" for unnumbered ones like the quiz."""
        match = _NUMBERED.match(self.title)
        return match["number"] if match else ""


@dataclass(frozen=True)
class Estimate:
    """Minutes a learner needs, split by what they spend them on."""

    reading: float
    running: float
    exercises: float

    @property
    def total(self) -> int:
        """Whole minutes, rounded up to the next five: nobody plans a 37-minute slot."""
        return 5 * math.ceil((self.reading + self.running + self.exercises) / 5)


@dataclass(frozen=True)
class Outline:
    """One notebook as an instructor plans it."""

    number: str
    title: str
    sections: tuple[Section, ...]
    estimate: Estimate
    core_estimate: Estimate
    exercises: tuple[str, ...]
    core_exercises: tuple[str, ...]

    @property
    def optional(self) -> tuple[Section, ...]:
        return tuple(s for s in self.sections if s.optional)

    @property
    def core(self) -> tuple[Section, ...]:
        return tuple(s for s in self.sections if not s.optional and s.number)


def _sections(cells: list[dict[str, Any]]) -> list[Section]:
    starts: list[tuple[int, str]] = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        match = _HEADING.search(_source(cell))
        if match and _source(cell).lstrip().startswith("## "):
            starts.append((index, match["title"]))
    sections = []
    for position, (index, title) in enumerate(starts):
        end = starts[position + 1][0] if position + 1 < len(starts) else len(cells)
        optional = title.endswith(OPTIONAL_MARKS)
        sections.append(Section(title, optional, index, end))
    return sections


def _words(text: str) -> float:
    """Words to read: Latin words by spaces, Chinese by characters (see the module doc)."""
    cjk = len(_CJK.findall(text))
    return len(_CJK.sub(" ", text).split()) + cjk / CJK_CHARS_PER_WORD


def _estimate(cells: Iterable[dict[str, Any]]) -> Estimate:
    words = 0.0
    code = exercises = 0
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            words += _words(_source(cell))
        elif _is_exercise(cell):
            exercises += 1
        elif cell.get("cell_type") == "code":
            code += 1
    return Estimate(
        reading=words / WORDS_PER_MINUTE,
        running=code * MINUTES_PER_CELL,
        exercises=exercises * MINUTES_PER_EXERCISE,
    )


def _exercise_ids(cells: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(
        c["metadata"]["layerlab"]["exercise"]
        for c in cells
        if _is_exercise(c) and "layerlab" in c.get("metadata", {})
    )


def outline(notebook: dict[str, Any] | str | Path) -> Outline:
    """Read a notebook (its JSON, or a path to it) into sections, exercises and times."""
    path = None
    if isinstance(notebook, (str, Path)):
        path = Path(notebook)
        notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook.get("cells", [])
    title_line = _source(cells[0]).splitlines()[0] if cells else ""
    title = title_line.lstrip("# ").strip()
    number = title.split(" ", 1)[0] if title[:2].isdigit() else (path.name[:2] if path else "")
    core = skip_optional(notebook)["cells"]
    return Outline(
        number=number,
        title=title,
        sections=tuple(_sections(cells)),
        estimate=_estimate(cells),
        core_estimate=_estimate(core),
        exercises=_exercise_ids(cells),
        core_exercises=_exercise_ids(core),
    )


def skip_optional(notebook: dict[str, Any]) -> dict[str, Any]:
    """The notebook a learner on the short path meets: every optional section removed."""
    result = copy.deepcopy(notebook)
    cells = result.get("cells", [])
    drop: set[int] = set()
    for section in _sections(cells):
        if section.optional:
            drop.update(range(section.first_cell, section.end_cell))
    result["cells"] = [cell for index, cell in enumerate(cells) if index not in drop]
    return result


def _section_list(sections: Iterable[Section], lang: str = "en") -> str:
    listed = _LIST_SEPARATORS[lang].join(f"§{s.number}" for s in sections)
    return listed or translation(lang).gettext(N_("none"))


#: The header cell starts with this line, so tools and tests can find it.
HEADER_MARK = "**Plan:**"
#: The same mark in each language's notebooks (the Chinese edition's conventions).
HEADER_MARKS = {"en": HEADER_MARK, "zh": "**计划：**"}
_LIST_SEPARATORS = {"en": ", ", "zh": "、"}


def header_markdown(plan: Outline, lang: str = "en") -> str:
    """The markdown of a notebook's header cell, derived from the notebook itself, so it
    can never disagree with what the notebook holds (tests/test_course.py checks).
    ``lang`` is the notebook's language, not the learner's: it is written into the file."""
    t = translation(lang)
    exercises = len(plan.exercises)
    core_exercises = len(plan.core_exercises)
    lines = [
        t.ngettext(
            "{mark} about **{minutes} minutes**, with {count} exercise.",
            "{mark} about **{minutes} minutes**, with {count} exercises.",
            exercises,
        ).format(mark=HEADER_MARKS[lang], minutes=plan.estimate.total, count=exercises),
    ]
    if plan.optional:
        lines.append(
            t.ngettext(
                "Core: {core}, about {minutes} minutes with {count} exercise. Optional: "
                "{optional}, marked *{mark}* at their headings: skip them on a short path, "
                "and every later cell still runs.",
                "Core: {core}, about {minutes} minutes with {count} exercises. Optional: "
                "{optional}, marked *{mark}* at their headings: skip them on a short path, "
                "and every later cell still runs.",
                core_exercises,
            ).format(
                core=_section_list(plan.core, lang),
                minutes=plan.core_estimate.total,
                count=core_exercises,
                optional=_section_list(plan.optional, lang),
                mark=OPTIONAL_MARKS[1] if lang == "zh" else OPTIONAL_MARK,
            )
        )
    else:
        lines.append(t.gettext("Every section is core."))
    lines.append(
        t.gettext("The cell below says which of this notebook's labs run live on your machine.")
    )
    return "\n".join(lines)


def header_cell_index(notebook: dict[str, Any]) -> int | None:
    """Where the header cell is (right after the title), or None if there is none yet."""
    for index, cell in enumerate(notebook.get("cells", [])[:3]):
        if cell.get("cell_type") == "markdown" and _source(cell).startswith(
            tuple(HEADER_MARKS.values())
        ):
            return index
    return None


def _here_source(number: str) -> str:
    return f'from layerlab import here\n\nhere("{number}")'


def with_header(notebook: dict[str, Any], number: str, lang: str = "en") -> dict[str, Any]:
    """The notebook with its header cells (the plan, then `here`) right after the title,
    inserted if missing and rewritten if stale; nothing else changes. ``lang`` is the
    notebook's language (`notebook_language`)."""
    result = copy.deepcopy(notebook)
    cells = result["cells"]
    index = header_cell_index(result)
    if index is None:
        index = 1
        cells.insert(
            index, {"cell_type": "markdown", "id": f"c{number}-plan", "metadata": {}, "source": ""}
        )
        cells.insert(
            index + 1,
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"c{number}-here",
                "metadata": {},
                "outputs": [],
                "source": _here_source(number),
            },
        )
    # The plan counts the header itself (its words are read too), so settle it twice.
    for _ in range(2):
        cells[index]["source"] = header_markdown(outline(result), lang)
    return result


GUIDE_START = "<!-- plan:start"
GUIDE_END = "<!-- plan:end -->"


def plan_table(plans: Iterable[Outline]) -> str:
    """The plan as a markdown table, for docs/instructors.md."""
    rows = [
        "| notebook | title | minutes | core minutes | exercises (core) | optional sections |",
        "|---|---|---|---|---|---|",
    ]
    total = core = 0
    for plan in plans:
        total += plan.estimate.total
        core += plan.core_estimate.total
        title = plan.title.split("·", 1)[-1].strip()
        rows.append(
            f"| `{plan.number}` | {title} | {plan.estimate.total} | {plan.core_estimate.total} | "
            f"{len(plan.exercises)} ({len(plan.core_exercises)}) | {_section_list(plan.optional)} |"
        )
    rows.append(f"| | **the whole course** | **{total}** | **{core}** | | |")
    return "\n".join(rows)


def update_guide(guide: Path, plans: Iterable[Outline]) -> bool:
    """Rewrite the plan table between the guide's markers; True if it changed."""
    text = guide.read_text(encoding="utf-8")
    start = text.index(GUIDE_START)
    start = text.index("\n", start) + 1
    end = text.index(GUIDE_END)
    updated = text[:start] + plan_table(plans) + "\n" + text[end:]
    if updated != text:
        guide.write_text(updated, encoding="utf-8")
    return updated != text


# --- the Chinese edition (notebooks/zh/): same cells, translated markdown ----------------

#: The one line a zh notebook's first code cell has on top of the English code.
ZH_LANGUAGE_LINE = 'import layerlab; layerlab.set_language("zh")\n'


def notebook_language(path: Path) -> str:
    """ "zh" for notebooks/zh/NN-*.ipynb, "en" for the English originals."""
    return "zh" if Path(path).parent.name == "zh" else "en"


def zh_path(english: Path) -> Path:
    return Path(english).parent / "zh" / Path(english).name


def en_sha256(cell: dict[str, Any]) -> str:
    """What a translated markdown cell records of its English original."""
    return hashlib.sha256(_source(cell).encode("utf-8")).hexdigest()


def _zh_code(english_cells: list[dict[str, Any]]) -> dict[str, str]:
    """The source each code cell must have in Chinese, by cell id."""
    wanted = {}
    for cell in english_cells:
        if cell.get("cell_type") == "code":
            prefix = "" if wanted else ZH_LANGUAGE_LINE
            wanted[cell["id"]] = prefix + _source(cell)
    return wanted


def _shape(cells: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(cell.get("id", "?"), cell.get("cell_type", "?")) for cell in cells]


def _first_difference(english: list[tuple[str, str]], chinese: list[tuple[str, str]]) -> str:
    for position, (en_cell, zh_cell) in enumerate(zip(english, chinese, strict=False)):
        if en_cell != zh_cell:
            return (
                f"cell {position + 1} is {zh_cell[1]} `{zh_cell[0]}` in Chinese but "
                f"{en_cell[1]} `{en_cell[0]}` in English"
            )
    if len(english) > len(chinese):
        longer, shorter, name = english, chinese, "English"
    else:
        longer, shorter, name = chinese, english, "Chinese"
    return f"{name} has {len(longer) - len(shorter)} more cell(s), from `{longer[len(shorter)][0]}`"


def drift(english: dict[str, Any], chinese: dict[str, Any]) -> list[str]:
    """How a zh notebook lags behind its English original, one line per problem; [] if
    in step. The plan header is exempt from translation: --update-headers writes it."""
    en_cells, zh_cells = english.get("cells", []), chinese.get("cells", [])
    problems = []
    if _shape(en_cells) != _shape(zh_cells):
        problems.append(
            "cells differ in order, id or type from English: "
            + _first_difference(_shape(en_cells), _shape(zh_cells))
        )
    english_by_id = {cell.get("id"): cell for cell in en_cells}
    wanted_code = _zh_code(en_cells)
    header = header_cell_index(chinese)
    for index, cell in enumerate(zh_cells):
        cell_id = cell.get("id", "?")
        original = english_by_id.get(cell_id)
        if original is None or original.get("cell_type") != cell.get("cell_type"):
            continue  # reported above
        if cell.get("cell_type") == "code":
            if _source(cell) != wanted_code[cell_id]:
                first = cell_id == next(iter(wanted_code))
                problems.append(
                    f"code cell `{cell_id}` differs from English"
                    + (" (or lacks the language line)" if first else "")
                )
        elif cell.get("cell_type") == "markdown" and index != header:
            recorded = cell.get("metadata", {}).get("layerlab", {}).get("en_sha256")
            if recorded is None:
                problems.append(f"markdown cell `{cell_id}` is not translated yet (no en_sha256)")
            elif recorded != en_sha256(original):
                problems.append(
                    f"markdown cell `{cell_id}` is stale: its English text changed since it "
                    "was translated"
                )
    return problems


def _as_lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def sync_zh(english: dict[str, Any], chinese: dict[str, Any] | None) -> dict[str, Any]:
    """The zh notebook brought in step with English: English's cells in English's order,
    code copied (with the language line), translated markdown kept by id, new markdown
    copied in English until translated. `drift` then lists what needs a translator."""
    result = copy.deepcopy(english)
    zh_by_id = {cell.get("id"): cell for cell in (chinese or {}).get("cells", [])}
    wanted_code = _zh_code(english.get("cells", []))
    cells = []
    for cell in result.get("cells", []):
        mine = zh_by_id.get(cell.get("id"))
        same_type = mine is not None and mine.get("cell_type") == cell.get("cell_type")
        if cell.get("cell_type") == "code":
            if same_type and _source(mine) == wanted_code[cell["id"]]:
                cells.append(copy.deepcopy(mine))  # keeps its Chinese outputs
            else:
                cell["source"] = _as_lines(wanted_code[cell["id"]])
                cells.append(cell)
        elif same_type:
            cells.append(copy.deepcopy(mine))
        else:
            cells.append(cell)
    result["cells"] = cells
    if chinese is not None:
        result["metadata"] = copy.deepcopy(chinese.get("metadata", result.get("metadata")))
    return result


def main(argv: list[str] | None = None) -> int:
    """`python -m layerlab.course`: the course plan, notebook by notebook, for instructors."""
    parser = argparse.ArgumentParser(prog="python -m layerlab.course", description=main.__doc__)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument(
        "--short-path",
        metavar="DIR",
        type=Path,
        help="write the notebooks that have optional sections to DIR without them",
    )
    parser.add_argument(
        "--update-headers",
        action="store_true",
        help="maintainers: rewrite each notebook's header cell (notebooks/zh/ too, in "
        "Chinese), and the plan in docs/instructors.md, from the notebooks' content",
    )
    parser.add_argument(
        "--sync-zh",
        action="store_true",
        help="maintainers: copy the code cells of each English notebook into notebooks/zh/ "
        "(created if missing), and list the Chinese markdown cells to translate again",
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(Path("notebooks").glob("[0-9][0-9]-*.ipynb"))
    english = [path for path in paths if notebook_language(path) == "en"]
    if args.short_path:
        for path in paths:
            notebook = json.loads(path.read_text(encoding="utf-8"))
            short = skip_optional(notebook)
            if short != notebook:
                args.short_path.mkdir(parents=True, exist_ok=True)
                target = args.short_path / path.name
                target.write_text(json.dumps(short, sort_keys=True, indent=1, ensure_ascii=False))
                print(f"{target}: {len(notebook['cells']) - len(short['cells'])} cells skipped")
        return 0
    if args.sync_zh:
        return _sync_all(english)
    if args.update_headers:
        import nbformat  # a maintainer's task: the test extra has it

        if not args.notebooks:
            paths = paths + sorted(Path("notebooks/zh").glob("[0-9][0-9]-*.ipynb"))
        for path in paths:
            notebook = json.loads(path.read_text(encoding="utf-8"))
            updated = with_header(notebook, path.name[:2], notebook_language(path))
            if updated != notebook:
                nbformat.write(nbformat.from_dict(updated), path)
                print(f"updated {path}")
        guide = Path("docs/instructors.md")
        if guide.exists() and english and update_guide(guide, map(outline, english)):
            print(f"updated {guide}")
        return 0
    print(plan_table(map(outline, english)))
    return 0


def _sync_all(english: list[Path]) -> int:
    """--sync-zh: the maintainer's step after changing English (docs/translating.md)."""
    import nbformat  # a maintainer's task: the test extra has it

    to_translate = 0
    for path in english:
        target = zh_path(path)
        original = json.loads(path.read_text(encoding="utf-8"))
        chinese = json.loads(target.read_text(encoding="utf-8")) if target.exists() else None
        synced = sync_zh(original, chinese)
        if header_cell_index(synced) is not None:  # English has one: write it in Chinese
            synced = with_header(synced, path.name[:2], "zh")
        for cell in synced["cells"]:
            if isinstance(cell["source"], str):  # as nbformat stores it, so == is fair
                cell["source"] = _as_lines(cell["source"])
        if synced != chinese:
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nbformat.from_dict(synced), target)
            print(f"{'updated' if chinese is not None else 'created'} {target}")
        for problem in drift(original, synced):
            to_translate += problem.startswith("markdown cell")
            print(f"{target}: {problem}")
    print(f"{to_translate} markdown cell(s) to translate" if to_translate else "in step")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
