"""Dependency order between resources: a topological sort that keeps manifest order among equals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set


class CycleError(Exception):
    def __init__(self, cycle: list[str]) -> None:
        super().__init__(" -> ".join(cycle))
        self.cycle = cycle


def dependency_order(names: Sequence[str], depends_on: Mapping[str, Set[str]]) -> list[str]:
    """``names`` ordered so that each comes after everything it depends on; raises ``CycleError``."""
    position = {name: index for index, name in enumerate(names)}
    remaining = {name: {d for d in depends_on.get(name, set()) if d in position} for name in names}
    ordered: list[str] = []
    while remaining:
        ready = sorted((n for n, deps in remaining.items() if not deps), key=position.__getitem__)
        if not ready:
            raise CycleError(_find_cycle(remaining))
        for name in ready:
            del remaining[name]
            ordered.append(name)
        for deps in remaining.values():
            deps.difference_update(ready)
    return ordered


def _find_cycle(remaining: Mapping[str, set[str]]) -> list[str]:
    start = min(remaining)
    path = [start]
    seen = {start: 0}
    current = start
    while True:
        current = min(remaining[current])
        if current in seen:
            return [*path[seen[current]:], current]
        seen[current] = len(path)
        path.append(current)
