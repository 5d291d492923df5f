"""Lab results declare each fact once: label, how it reads, and its simulated value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from layerlab.live.kernel.result import SIMULATED_BANNER, LiveResult, derived, fact


@dataclass(frozen=True, kw_only=True)
class Sample(LiveResult):
    title: ClassVar[str] = "a sample lab"
    count: int = fact("things counted", simulated=3)
    both = derived("count and size", lambda r: f"{r.count} of {r.size}")
    size: int = fact("size (of {count})", simulated=7, show=lambda n: f"{n} B")
    names: list[str] = fact("names", simulated=["a"])
    hidden: int = field(default=0, metadata={"simulated": 42})
    lines = derived(None, lambda r: [(f"name {n}", True) for n in r.names])


def test_facts_print_in_declaration_order_fields_and_derived_alike():
    result = Sample(live=True, world="root", count=2, size=9, names=["x", "y"])
    assert result.facts() == [
        ("things counted", 2),
        ("count and size", "2 of 9"),
        ("size (of 2)", "9 B"),
        ("names", ["x", "y"]),
        ("name x", True),
        ("name y", True),
    ]
    assert "hidden" not in str(result)


def test_simulated_fills_every_declared_value_and_copies_mutable_ones():
    first, second = Sample.simulated("no kernel"), Sample.simulated("no kernel", count=5)
    assert (first.count, first.size, first.hidden) == (3, 7, 42)
    assert second.count == 5
    first.names.append("b")
    assert second.names == ["a"]
    assert str(first).startswith(SIMULATED_BANNER)
    assert "  things counted: 3" in str(first)


def test_a_fact_without_a_simulated_value_must_be_given():
    @dataclass(frozen=True, kw_only=True)
    class Undeclared(LiveResult):
        measured: int = fact("measured")

    with pytest.raises(TypeError, match="Undeclared.measured declares no simulated value"):
        Undeclared.simulated("no kernel")
    assert Undeclared.simulated("no kernel", measured=1).measured == 1
