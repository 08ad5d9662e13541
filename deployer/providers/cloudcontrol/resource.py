"""One Cloud Control resource as the plan sees it: identifier, exports and differences, from the type's schema.

Pure functions over plain values (property dicts in CloudFormation spelling), beside the
other schema rules of this package:

- ``identifier_of``: Cloud Control's identifier (the primary identifier's values joined by
  ``|``) when the desired properties hold it (a bucket's name); None when AWS assigns it (a
  KMS key's id), so only state can say which resource is ours.
- ``exports_of`` / ``attribute_names``: what ``resources.NAME.X`` reads, as ``Fn::GetAtt`` would: the
  read-only attributes, nested ones by dots (``Endpoint.Address``), and the primary identifier.
- ``differences``: what an update would change, by property path; ``write_only_changes``: the
  write-only properties whose desired value is not what was last applied (a read never shows them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deployer.paths import KeyPath
from deployer.providers.cloudcontrol.drift import drift_comparable
from deployer.providers.cloudcontrol.pointers import WILDCARD, matches, pointer_segments
from deployer.registry import TypeSchema

Flat = dict[KeyPath, Any]


def identifier_of(schema: TypeSchema, props: Mapping[str, Any]) -> str | None:
    """The identifier the desired properties give the resource, or None (AWS assigns it, or it is unknown)."""
    values = []
    for segments in pointer_segments(schema.schema, "primaryIdentifier"):
        found = [value for _, value in matches(props, segments)]
        if len(found) != 1 or isinstance(found[0], bool) or not isinstance(found[0], (str, int)):
            return None
        values.append(str(found[0]))
    return "|".join(values) if values else None


def attribute_names(schema: TypeSchema) -> dict[str, Any]:
    """Every name ``resources.NAME.X`` may read, as ``Fn::GetAtt`` would: the read-only attributes and the
    primary identifier, None at each leaf and a dict for nested ones (``{"Endpoint": {"Address": None}}``)."""
    names: dict[str, Any] = {}
    for segments in _exported(schema):
        node = names
        for segment in segments[:-1]:
            if not isinstance(node.get(segment), dict):
                node[segment] = {}
            node = node[segment]
        node.setdefault(segments[-1], None)
    return names


def exports_of(schema: TypeSchema, properties: Mapping[str, Any]) -> dict[str, Any]:
    """What other resources can read of a resource (see ``attribute_names``), from what a read returned.
    Settable properties are not exported: they come from the manifest, where secrets may be among them."""
    exports: dict[str, Any] = {}
    for segments in _exported(schema):
        found = [value for _, value in matches(properties, segments)]
        if len(found) != 1:
            continue
        node = exports
        for segment in segments[:-1]:
            node = node.setdefault(segment, {})
        node[segments[-1]] = found[0]
    return exports


def _exported(schema: TypeSchema) -> list[tuple[str, ...]]:
    pointers = [*pointer_segments(schema.schema, "readOnlyProperties"),
                *pointer_segments(schema.schema, "primaryIdentifier")]
    return list(dict.fromkeys(s for s in pointers if WILDCARD not in s))


def without_write_only(schema: TypeSchema, props: Mapping[str, Any]) -> dict[str, Any]:
    """``props`` without what a read never returns: the state's record of a resource as AWS holds it."""
    return drift_comparable(schema.schema, props)


def write_only_values(schema: TypeSchema, props: Mapping[str, Any]) -> Flat:
    """The write-only values of ``props``, by concrete path."""
    found: Flat = {}
    for segments in pointer_segments(schema.schema, "writeOnlyProperties"):
        for path, value in matches(props, segments):
            found[path] = value
    return found


def differences(schema: TypeSchema, desired: Mapping[str, Any], applied: Mapping[str, Any],
                live: Mapping[str, Any]) -> list[tuple[KeyPath, Any, Any]]:
    """(path, live value, desired value) for each leaf a read shows differently from what is desired.

    A member the desired properties leave unset counts only if the last apply set it: values AWS fills in
    itself (defaults) are not changes, and a member removed from the manifest is. Lists of the same length
    compare item by item (unordered ones in canonical order), others whole."""
    wanted = drift_comparable(schema.schema, desired)
    current = drift_comparable(schema.schema, live)
    before = drift_comparable(schema.schema, applied)
    return leaf_differences(wanted, current, before)


def leaf_differences(wanted: Any, current: Any, before: Any) -> list[tuple[KeyPath, Any, Any]]:
    """(path, current, wanted) for each leaf that differs, by the rule of ``differences``, over plain values."""
    found: list[tuple[KeyPath, Any, Any]] = []
    _compare(wanted, current, before, (), found)
    return found


def _compare(wanted: Any, current: Any, before: Any, path: KeyPath, found: list[tuple[KeyPath, Any, Any]]) -> None:
    if isinstance(wanted, Mapping) and isinstance(current, Mapping):
        applied = before if isinstance(before, Mapping) else {}
        for key in sorted(set(wanted) | (set(applied) & set(current)), key=str):
            _compare(wanted.get(key), current.get(key), applied.get(key), (*path, key), found)
        return
    if isinstance(wanted, list) and isinstance(current, list) and len(wanted) == len(current):
        applied_items = before if isinstance(before, list) and len(before) == len(wanted) else [None] * len(wanted)
        for index, (item, now, last) in enumerate(zip(wanted, current, applied_items, strict=True)):
            _compare(item, now, last, (*path, index), found)
        return
    if wanted != current:
        found.append((path, current, wanted))


def write_only_changes(schema: TypeSchema, desired: Mapping[str, Any], applied: Mapping[str, Any]
                       ) -> list[KeyPath]:
    """The write-only paths whose desired value differs from the last applied one (both as stored)."""
    wanted, before = write_only_values(schema, desired), write_only_values(schema, applied)
    return sorted((path for path in set(wanted) | set(before) if wanted.get(path) != before.get(path)), key=str)
