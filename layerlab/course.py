"""The course's own map: its notebooks, their sections, and how long each one takes.

Instructors plan with it (docs/instructors.md), learners see it in every notebook's header,
and the tests keep the two in step. Everything here reads a notebook's JSON, never its
kernel, so the estimate is the same on every machine.

A section is a `## ` heading in a markdown cell. A heading that ends in `(optional)` marks
a section a learner may skip on the 3-hour path; `skip_optional` removes those sections,
and the tests run what is left under strict nbval, so a skipped section can never break a
later cell.

The time estimate is a rule, not a stopwatch, so it stays honest when a notebook changes:

* reading: markdown words at `WORDS_PER_MINUTE` (technical prose, with pauses to think);
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
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "WORDS_PER_MINUTE",
    "MINUTES_PER_CELL",
    "MINUTES_PER_EXERCISE",
    "OPTIONAL_MARK",
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
    "main",
]

WORDS_PER_MINUTE = 120
MINUTES_PER_CELL = 1.0
MINUTES_PER_EXERCISE = 6.0
OPTIONAL_MARK = "(optional)"

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
        optional = title.endswith(OPTIONAL_MARK)
        sections.append(Section(title, optional, index, end))
    return sections


def _estimate(cells: Iterable[dict[str, Any]]) -> Estimate:
    words = code = exercises = 0
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            words += len(_source(cell).split())
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


def _section_list(sections: Iterable[Section]) -> str:
    return ", ".join(f"§{s.number}" for s in sections) or "none"


#: The header cell starts with this line, so tools and tests can find it.
HEADER_MARK = "**Plan:**"


def header_markdown(plan: Outline) -> str:
    """The markdown of a notebook's header cell, derived from the notebook itself, so it
    can never disagree with what the notebook holds (tests/test_course.py checks)."""
    exercises = len(plan.exercises)
    core_exercises = len(plan.core_exercises)
    lines = [
        f"{HEADER_MARK} about **{plan.estimate.total} minutes**, with {exercises} "
        f"exercise{'s' if exercises != 1 else ''}.",
    ]
    if plan.optional:
        lines.append(
            f"Core: {_section_list(plan.core)}, about {plan.core_estimate.total} minutes with "
            f"{core_exercises} exercise{'s' if core_exercises != 1 else ''}. "
            f"Optional: {_section_list(plan.optional)}, marked *{OPTIONAL_MARK}* at their "
            "headings: skip them on a short path, and every later cell still runs."
        )
    else:
        lines.append("Every section is core.")
    lines.append("The cell below says which of this notebook's labs run live on your machine.")
    return "\n".join(lines)


def header_cell_index(notebook: dict[str, Any]) -> int | None:
    """Where the header cell is (right after the title), or None if there is none yet."""
    for index, cell in enumerate(notebook.get("cells", [])[:3]):
        if cell.get("cell_type") == "markdown" and _source(cell).startswith(HEADER_MARK):
            return index
    return None


def _here_source(number: str) -> str:
    return f'from layerlab import here\n\nhere("{number}")'


def with_header(notebook: dict[str, Any], number: str) -> dict[str, Any]:
    """The notebook with its header cells (the plan, then `here`) right after the title,
    inserted if missing and rewritten if stale; nothing else changes."""
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
        cells[index]["source"] = header_markdown(outline(result))
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
        help="maintainers: rewrite each notebook's header cell, and the plan in "
        "docs/instructors.md, from the notebooks' content",
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(Path("notebooks").glob("[0-9][0-9]-*.ipynb"))
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
    if args.update_headers:
        import nbformat  # a maintainer's task: the test extra has it

        for path in paths:
            notebook = json.loads(path.read_text(encoding="utf-8"))
            updated = with_header(notebook, path.name[:2])
            if updated != notebook:
                nbformat.write(nbformat.from_dict(updated), path)
                print(f"updated {path}")
        guide = Path("docs/instructors.md")
        if guide.exists() and update_guide(guide, map(outline, paths)):
            print(f"updated {guide}")
        return 0
    print(plan_table(map(outline, paths)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
