"""JSON pointers as resource schemas write them, applied to property values.

A schema names properties with pointers into the *value*, prefixed by ``/properties``:
``/properties/Endpoint/Port`` is the member ``Port`` of the property ``Endpoint``, and a
``*`` segment stands for every item of an array (``/properties/Rules/*/Transition``).
Segments are escaped as RFC 6901 says (``~1`` for ``/``, ``~0`` for ``~``). Values here
are the resource model: a dict of top-level CloudFormation property names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

WILDCARD = "*"


def escape(segment: str) -> str:
    """One pointer segment, RFC 6901 escaped (``~`` first, or ``/`` would become ``~01``)."""
    return segment.replace("~", "~0").replace("/", "~1")


def unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def to_pointer(segments: Iterable[str | int]) -> str:
    """A patch path such as ``/VersioningConfiguration/Status`` from value segments."""
    return "".join("/" + escape(str(s)) for s in segments)


def property_segments(pointer: str) -> tuple[str, ...]:
    """``/properties/A/*/B`` → ``("A", "*", "B")``; a pointer outside ``/properties`` → ``()``."""
    parts = [unescape(p) for p in pointer.split("/")[1:]]
    if len(parts) < 2 or parts[0] != "properties":
        return ()
    return tuple(parts[1:])


def pointer_segments(schema: Mapping[str, Any], key: str) -> tuple[tuple[str, ...], ...]:
    """The value segments of every pointer the schema lists under ``key`` (e.g. ``writeOnlyProperties``)."""
    found = (property_segments(p) for p in schema.get(key) or ())
    return tuple(s for s in found if s)


def display_path(segments: Sequence[str]) -> str:
    """The user's spelling of a property path: ``Budget.BudgetName``, ``Rules[*].Transition``."""
    out = ""
    for seg in segments:
        out += "[*]" if seg == WILDCARD else (("." if out else "") + seg)
    return out


def matches(value: Any, segments: Sequence[str]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every (concrete path, value) the pointer reaches in ``value``; a ``*`` fans out over items."""
    if not segments:
        yield (), value
        return
    head, rest = segments[0], segments[1:]
    if head == WILDCARD:
        if isinstance(value, list):
            for i, item in enumerate(value):
                for path, found in matches(item, rest):
                    yield (i, *path), found
    elif isinstance(value, Mapping) and head in value:
        for path, found in matches(value[head], rest):
            yield (head, *path), found


def without(value: Any, pointers: Iterable[Sequence[str]]) -> Any:
    """A copy of ``value`` with whatever the pointers reach removed; ``value`` is not changed."""
    result = value
    for segments in pointers:
        result = _drop(result, tuple(segments))
    return result


def _drop(value: Any, segments: tuple[str, ...]) -> Any:
    if not segments:
        return value
    head, rest = segments[0], segments[1:]
    if head == WILDCARD:
        if isinstance(value, list):
            return [_drop(item, rest) for item in value]
        return value
    if not isinstance(value, Mapping) or head not in value:
        return value
    copy = dict(value)
    if rest:
        copy[head] = _drop(value[head], rest)
    else:
        del copy[head]
    return copy


def top_level_names(pointers: Iterable[str]) -> list[str]:
    """The top-level property of each pointer that names one whole (``/properties/Tags``, not ``.../Tags/Key``)."""
    return [segments[0] for segments in map(property_segments, pointers) if len(segments) == 1]
