"""The RFC 6902 PatchDocument that UpdateResource applies to turn the last applied model into the desired one.

Cloud Control applies the patch to the model its *read* handler returns, not to what we
sent last time. That model never has write-only properties, and may lack others (a
default the service omits, a property removed out of band). The rules follow from that:

- Granularity is the top-level property, as terraform-provider-awscc's ``patch.go``: a
  changed property is sent whole. A member-level path (``/VersioningConfiguration/Status``)
  needs every parent to exist in the read model, index paths into arrays are meaningless
  when the service reorders them, and a handler validates and applies whole properties.
- Every set or changed property is an ``add``, never a ``replace``: on an object member
  ``add`` creates or replaces (RFC 6902 section 4.1, which Cloud Control honours), while
  ``replace`` fails when the read model lacks the target.
- Read-only properties are never sent; the service owns them.
- Write-only properties present in the desired model are re-sent as ``add`` in every
  patch, changed or not: otherwise the patched model lacks them and the handler sees them
  removed. A nested one (``/properties/A/B``) is added at its own path when its parent is
  unchanged; one inside an array (``/properties/Rules/*/Transition``) re-sends the whole
  top-level property, since an item's index in the read model is not ours to know.
- A removed property is a ``remove``, except a top-level write-only one: the read model
  has nothing there to remove, and leaving it out of the patch already leaves it unset.
- Arrays with ``insertionOrder: false`` compare as multisets, so a reordering alone sends
  nothing; any other array that changed in any way is sent whole.

Ops come sorted by path, so the same change always makes the same document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deployer.providers.cloudcontrol.ordering import normalize
from deployer.providers.cloudcontrol.pointers import WILDCARD, matches, pointer_segments, to_pointer, without


def update_patch(
    schema: Mapping[str, Any], last_applied: Mapping[str, Any], desired: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The JSON Patch ops (CloudFormation property names) from ``last_applied`` to ``desired``."""
    read_only = pointer_segments(schema, "readOnlyProperties")
    write_only = pointer_segments(schema, "writeOnlyProperties")
    old: Mapping[str, Any] = without(dict(last_applied), read_only)
    new: Mapping[str, Any] = without(dict(desired), read_only)
    old_normal, new_normal = normalize(schema, old), normalize(schema, new)
    top_write_only = {segs[0] for segs in write_only if len(segs) == 1}

    ops: list[dict[str, Any]] = []
    for name in sorted(set(old) | set(new)):
        path = to_pointer([name])
        if name not in new:
            if name not in top_write_only:
                ops.append({"op": "remove", "path": path})
            continue
        if name in top_write_only or name not in old or old_normal[name] != new_normal[name]:
            ops.append({"op": "add", "path": path, "value": new[name]})
            continue
        ops.extend(_nested_write_only(name, new, write_only))
    return ops


def _nested_write_only(
    name: str, new: Mapping[str, Any], write_only: tuple[tuple[str, ...], ...]
) -> list[dict[str, Any]]:
    """The ``add`` ops re-sending the write-only members of the unchanged property ``name``."""
    ops: list[dict[str, Any]] = []
    for segments in write_only:
        if len(segments) < 2 or segments[0] != name:
            continue
        found = list(matches(new, segments))
        if found and WILDCARD in segments:
            return [{"op": "add", "path": to_pointer([name]), "value": new[name]}]
        ops.extend({"op": "add", "path": to_pointer(path), "value": value} for path, value in found)
    return sorted(ops, key=lambda op: op["path"])
