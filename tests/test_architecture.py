"""The import contract: the layout of `layerlab/` is the architecture of docs/architecture.md.

Every module's imports are read from its syntax tree (all of them: top level, inside
functions and under TYPE_CHECKING, since a lazy import is still a dependency), and held to
three rules:

* tiers: a module imports only from its own tier or the tiers below it, so the pure core
  imports no adapter and no adapter imports the course;
* no two packages import each other (`live` and `exercises` once did);
* no import cycle between modules (`commit` and `container` once did).

The package's `__init__` is its lazy facade for the notebooks and is exempt from the tiers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import layerlab

ROOT = Path(layerlab.__file__).parent

#: Bottom first. A module belongs to the first tier with a prefix that names it or a
#: package above it.
TIERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "core",
        (
            "layerlab.entries",
            "layerlab.pathwalk",
            "layerlab.layer",
            "layerlab.union",
            "layerlab.copy_on_write",
            "layerlab.mv",
            "layerlab.engines",
            "layerlab.initlayer",
            "layerlab.image",
            "layerlab.container",
            "layerlab.commit",
            "layerlab.safety",
            "layerlab.output",
            "layerlab.i18n",
            "layerlab.host",
            "layerlab.tar",
        ),
    ),
    ("course data", ("layerlab.samples",)),
    ("image stores", ("layerlab.formats",)),
    ("kernel plumbing", ("layerlab.live.kernel",)),
    ("adapters out", ("layerlab.live", "layerlab.render")),
    ("course", ("layerlab.exercises", "layerlab.course", "layerlab.cli", "layerlab.__main__")),
]
FACADE = "layerlab"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str) -> set[str]:
    """The layerlab modules `path` imports, as dotted names (a package for `from P import x`
    unless x is a submodule)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "layerlab")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                if not is_package:
                    base.pop()
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module.split(".")[0] != "layerlab":
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                is_module = (ROOT.parent / sub.replace(".", "/")).with_suffix(".py").exists()
                is_package_dir = (ROOT.parent / sub.replace(".", "/") / "__init__.py").exists()
                found.add(sub if is_module or is_package_dir else module)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(ROOT.rglob("*.py")):
        name = module_name(path)
        graph[name] = imports_of(path, name)
    return graph


def tier_of(module: str) -> int | None:
    for rank, (_, prefixes) in enumerate(TIERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def tier_violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, deps in sorted(graph.items()):
        if module == FACADE:
            continue
        rank = tier_of(module)
        for dep in sorted(deps):
            dep_rank = tier_of(dep)
            if rank is not None and dep_rank is not None and dep_rank > rank:
                found.append(
                    f"{module} ({TIERS[rank][0]}) imports {dep} ({TIERS[dep_rank][0]}), "
                    "a tier above it"
                )
    return found


def package_of(module: str, graph: dict[str, set[str]]) -> str:
    """The package a module lives in; a package's __init__ is the package itself."""
    if any(other.startswith(module + ".") for other in graph):
        return module
    return module.rpartition(".")[0]


def mutual_packages(graph: dict[str, set[str]]) -> list[str]:
    """Pairs of subpackages that import each other. The root package's own modules are the
    core, held to the module-level rule below instead."""
    edges: dict[tuple[str, str], str] = {}
    for module, deps in graph.items():
        for dep in deps:
            a, b = package_of(module, graph), package_of(dep, graph)
            if (
                a != b
                and FACADE not in (a, b)
                and not b.startswith(a + ".")
                and not a.startswith(b + ".")
            ):
                edges.setdefault((a, b), f"{module} -> {dep}")
    return sorted(
        f"{a} <-> {b}: {edges[a, b]} and {edges[b, a]}"
        for a, b in edges
        if a < b and (b, a) in edges
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start] & graph.keys())))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child] & graph.keys()))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_every_module_has_a_tier(graph):
    assert [m for m in graph if m != FACADE and tier_of(m) is None] == []


def test_no_module_imports_a_tier_above_its_own(graph):
    """architecture.md: the pure core imports no adapter; adapters never import the course."""
    assert tier_violations(graph) == []


def test_no_two_packages_import_each_other(graph):
    assert mutual_packages(graph) == []


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_the_contract_catches_what_it_forbids():
    """The rules flag each mistake they exist for, so a passing run means something."""
    broken = {
        "layerlab.layer": {"layerlab.render.stack"},  # the core asking a renderer
        "layerlab.render.stack": {"layerlab.layer"},
        "layerlab.live.labs.a": {"layerlab.exercises.b"},  # live <-> exercises
        "layerlab.exercises.b": {"layerlab.live.labs.a"},
        "layerlab.commit": {"layerlab.container"},  # commit <-> container
        "layerlab.container": {"layerlab.commit"},
    }
    assert any(
        "layerlab.layer (core) imports layerlab.render.stack" in v for v in tier_violations(broken)
    )
    assert any("layerlab.exercises <-> layerlab.live.labs" in m for m in mutual_packages(broken))
    assert ["layerlab.commit", "layerlab.container"] in cycles(broken)
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_graph_sees_lazy_and_type_only_imports(graph):
    """A function-level import is a dependency too: the CLI's lazy imports are in the graph."""
    assert "layerlab.tar.flatten" in graph["layerlab.cli"]


def test_every_package_is_a_regular_package():
    """A folder of modules without __init__.py imports from a checkout (a namespace
    package) but is left out of the wheel that Binder and JupyterLite install."""
    folders = {path.parent for path in ROOT.rglob("*.py")}
    assert (
        sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists()) == []
    )


def test_every_import_names_a_module_that_exists(graph):
    """A lazy import inside a function runs only when that path runs (a live lab, the
    browser): after a module moves, a stale one would fail in front of a learner, not here."""
    missing = sorted(
        f"{m} imports {dep}" for m, deps in graph.items() for dep in deps - graph.keys()
    )
    assert missing == []
