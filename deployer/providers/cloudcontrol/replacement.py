"""Create-only properties that changed, each a reason the resource must be replaced.

A create-only property (``createOnlyProperties``, nested ones included, such as
``/properties/Budget/BudgetName``) cannot be updated in place: changing it means delete
and create. Setting one that was unset, or unsetting one that was set, is a change too.
Values compare with unordered arrays as multisets (see ``ordering``), so a reordering
never forces a replacement. The comparison is against the last *applied* desired state,
not a read: create-only properties may be write-only too (Redshift's SnapshotIdentifier).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deployer.providers.cloudcontrol.ordering import canonical, is_unordered, normalize, subschemas
from deployer.providers.cloudcontrol.pointers import WILDCARD, display_path, matches, pointer_segments


def replacement_reasons(
    schema: Mapping[str, Any], last_applied: Mapping[str, Any], desired: Mapping[str, Any]
) -> tuple[str, ...]:
    """One reason per changed create-only property, in schema order: ``BucketName changes (forces replacement)``."""
    old, new = normalize(schema, dict(last_applied)), normalize(schema, dict(desired))
    reasons: list[str] = []
    for segments in pointer_segments(schema, "createOnlyProperties"):
        if _project(schema, old, segments) != _project(schema, new, segments):
            reason = f"{display_path(segments)} changes (forces replacement)"
            if reason not in reasons:
                reasons.append(reason)
    return tuple(reasons)


def _project(schema: Mapping[str, Any], model: Any, segments: Sequence[str]) -> list[Any]:
    """What the pointer reaches in ``model``: nothing when unset, one value per array item under ``*``.

    Under a ``*`` into an unordered array the projections are sorted, as the items are a
    multiset: the items' other members may have moved them.
    """
    found = [value for _, value in matches(model, segments)]
    if WILDCARD in segments and any(
        is_unordered(subschemas(schema, segments[:i])) for i, s in enumerate(segments) if s == WILDCARD
    ):
        found.sort(key=canonical)
    return found
