"""The part of a resource model that a read can be compared on, for drift.

A read never returns write-only properties, and the desired model never holds read-only
ones; both are dropped (``*`` pointers included), and unordered arrays are sorted, so
that ``drift_comparable(schema, desired) == drift_comparable(schema, read)`` exactly when
nothing drifted in what both sides can show. Properties the read returns that the desired
model leaves unset (service defaults) are kept: whether they count is the caller's policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deployer.providers.cloudcontrol.ordering import normalize
from deployer.providers.cloudcontrol.pointers import pointer_segments, without


def drift_comparable(schema: Mapping[str, Any], value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` less write-only and read-only properties, with unordered arrays in canonical order."""
    hidden = pointer_segments(schema, "writeOnlyProperties") + pointer_segments(schema, "readOnlyProperties")
    result: dict[str, Any] = normalize(schema, without(dict(value), hidden))
    return result
