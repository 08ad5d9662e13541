from __future__ import annotations

import pytest

from deployer.graph import CycleError, dependency_order


@pytest.mark.parametrize(
    ("names", "edges", "expected"),
    [
        (["a", "b", "c"], {}, ["a", "b", "c"]),
        (["a", "b", "c"], {"a": {"c"}}, ["b", "c", "a"]),
        (["a", "b", "c"], {"a": {"b"}, "b": {"c"}}, ["c", "b", "a"]),
        (["a", "b"], {"a": {"outside"}}, ["a", "b"]),
    ],
    ids=["independent-keep-order", "one-edge", "chain", "unknown-names-ignored"],
)
def test_dependency_order(names: list[str], edges: dict[str, set[str]], expected: list[str]) -> None:
    assert dependency_order(names, edges) == expected


@pytest.mark.parametrize(
    ("edges", "cycle"),
    [({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]), ({"a": {"a"}}, ["a", "a"]),
     ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"])],
    ids=["two", "self", "three"],
)
def test_cycles_are_named(edges: dict[str, set[str]], cycle: list[str]) -> None:
    with pytest.raises(CycleError) as raised:
        dependency_order(sorted(edges), edges)
    assert raised.value.cycle == cycle
