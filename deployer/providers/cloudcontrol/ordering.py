"""Arrays whose order carries no meaning, as the schema says with ``insertionOrder: false``.

Cloud Control returns such arrays (Tags, IamRoles, ManagedPolicyArns, ...) in whatever
order the service keeps; compared item by item, every plan would show a phantom change.
They compare as multisets instead: ``normalize`` sorts each one canonically (by the
item's own normalized JSON, so duplicates survive), at any depth, following ``$ref``
into ``definitions``, ``items``, ``properties``, ``patternProperties`` and the
``oneOf``/``anyOf``/``allOf`` branches. An array with no ``insertionOrder`` keeps its
order: the resource schema specification makes ``true`` the default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from deployer.providers.cloudcontrol.pointers import WILDCARD

Nodes = tuple[Mapping[str, Any], ...]
_COMBINATORS = ("oneOf", "anyOf", "allOf")


def normalize(schema: Mapping[str, Any], value: Any, at: Sequence[str] = ()) -> Any:
    """``value`` with every unordered array sorted canonically; ``value`` is not changed.

    ``at`` is where ``value`` sits, as value segments (``("Tags",)``); empty for a whole
    resource model.
    """
    return _normalize(schema, subschemas(schema, at), value)


def equivalent(schema: Mapping[str, Any], a: Any, b: Any, at: Sequence[str] = ()) -> bool:
    """Whether ``a`` and ``b`` (at ``at``) differ only in the order of unordered arrays."""
    return bool(normalize(schema, a, at) == normalize(schema, b, at))


def subschemas(schema: Mapping[str, Any], segments: Sequence[str]) -> Nodes:
    """The schema nodes that may describe the value at ``segments`` (``*`` for an item)."""
    nodes = _expand(schema, schema)
    for seg in segments:
        nodes = _items(schema, nodes) if seg == WILDCARD else _member(schema, nodes, seg)
    return nodes


def is_unordered(nodes: Nodes) -> bool:
    return any(node.get("insertionOrder") is False for node in nodes)


def _normalize(root: Mapping[str, Any], nodes: Nodes, value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _normalize(root, _member(root, nodes, k), v) for k, v in value.items()}
    if isinstance(value, list):
        item_nodes = _items(root, nodes)
        items = [_normalize(root, item_nodes, v) for v in value]
        if is_unordered(nodes):
            items.sort(key=canonical)
        return items
    return value


def canonical(value: Any) -> str:
    """A total order key for JSON values, so equal multisets sort the same."""
    return json.dumps(value, sort_keys=True, default=str)


def _member(root: Mapping[str, Any], nodes: Nodes, key: str) -> Nodes:
    found: list[Mapping[str, Any]] = []
    for node in nodes:
        props = node.get("properties")
        if isinstance(props, Mapping) and isinstance(props.get(key), Mapping):
            found.extend(_expand(root, props[key]))
            continue
        patterns = node.get("patternProperties")
        if isinstance(patterns, Mapping):
            for pattern, sub in patterns.items():
                if isinstance(sub, Mapping) and _search(pattern, key):
                    found.extend(_expand(root, sub))
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            found.extend(_expand(root, extra))
    return tuple(found)


def _items(root: Mapping[str, Any], nodes: Nodes) -> Nodes:
    found: list[Mapping[str, Any]] = []
    for node in nodes:
        items = node.get("items")
        if isinstance(items, Mapping):
            found.extend(_expand(root, items))
    return tuple(found)


def _search(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:  # a schema pattern Python's re cannot read (some use ECMA-only syntax)
        return True


def _expand(root: Mapping[str, Any], node: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> Nodes:
    """``node`` with its ``$ref`` followed and its combinator branches flattened beside it."""
    ref = node.get("$ref")
    out: list[Mapping[str, Any]] = [node]
    if isinstance(ref, str) and ref not in seen:
        target = _resolve(root, ref)
        if target is not None:
            out.extend(_expand(root, target, seen | {ref}))
    for key in _COMBINATORS:
        for branch in node.get(key) or ():
            if isinstance(branch, Mapping):
                out.extend(_expand(root, branch, seen))
    return tuple(out)


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any] | None:
    if not ref.startswith("#"):
        return None  # schemas for Cloud Control types are self-contained
    node: Any = root
    for part in ref[1:].split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, Mapping) else None
