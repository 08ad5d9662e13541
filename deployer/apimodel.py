"""The AppFlow API model, as botocore ships it, and validation of values against it.

botocore's service model is the single source of truth for API names, types,
required members, enums, lengths, patterns and ranges. Nothing here copies it:
``check_value`` walks a model shape beside a value and reports every way the value
breaks the shape. Both the emulator (on the wire) and the stack validator (on the
converted manifest) use it, so a request the emulator refuses is refused by
``stack validate`` for the same reason.

Paths are tuples of API member names and list indexes, in API spelling; callers
that speak CloudFormation map them back themselves.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from deployer.paths import KeyPath

ApiPath = KeyPath

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "long": "an integer",
    "boolean": "a boolean",
    "double": "a number",
    "float": "a number",
    "structure": "a mapping",
    "map": "a mapping",
    "list": "a list",
    "timestamp": "a timestamp",
    "blob": "binary data",
}


@dataclass(frozen=True)
class Violation:
    """One way a value breaks the API model. ``value`` is the offending value, if any."""

    path: ApiPath
    problem: str
    fix: str = ""
    value: Any = None
    has_value: bool = False
    sensitive: bool = False


@functools.lru_cache(maxsize=1)
def appflow_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("appflow")


def operation(name: str) -> OperationModel:
    return appflow_model().operation_model(name)


def input_shape(operation_name: str) -> StructureShape:
    shape = operation(operation_name).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def shape(name: str) -> Shape:
    return appflow_model().shape_for(name)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def suggest(name: str, choices: list[str]) -> str:
    """'did you mean ...' for a misspelt name, else the list of allowed names."""
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{by_lower[close[0]]}'?"
    return "allowed: " + ", ".join(sorted(choices))


def check_value(model_shape: Shape, value: Any, path: ApiPath = ()) -> list[Violation]:
    """Every violation of ``model_shape`` by ``value``, depth first, in member order."""
    sensitive = bool(model_shape.metadata.get("sensitive"))
    kind = model_shape.type_name
    if not _has_type(kind, value):
        return [
            Violation(
                path,
                f"expected {_TYPE_NAMES.get(kind, kind)}, got {type_name(value)}",
                value=value,
                has_value=True,
                sensitive=sensitive,
            )
        ]
    if isinstance(model_shape, StructureShape):
        return _check_structure(model_shape, value, path)
    if isinstance(model_shape, ListShape):
        found = _check_size(model_shape, len(value), path, "items")
        for index, item in enumerate(value):
            found += check_value(model_shape.member, item, (*path, index))
        return found
    if isinstance(model_shape, MapShape):
        found = _check_size(model_shape, len(value), path, "entries")
        for key, item in value.items():
            found += [
                Violation((*path, key), f"map key {v.problem}", v.fix)
                for v in check_value(model_shape.key, key, path)
            ]
            found += check_value(model_shape.value, item, (*path, key))
        return found
    if kind == "string":
        return _check_string(model_shape, value, path, sensitive)
    if kind in ("integer", "long", "double", "float"):
        return _check_range(model_shape, value, path)
    return []


def _has_type(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("double", "float"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("structure", "map"):
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    return True


def _check_structure(model_shape: StructureShape, value: dict[str, Any], path: ApiPath) -> list[Violation]:
    members = model_shape.members
    found: list[Violation] = []
    for name in model_shape.required_members:
        if name not in value:
            found.append(Violation((*path, name), "required member is missing", f"add '{name}'"))
    for name, item in value.items():
        if name not in members:
            found.append(Violation((*path, name), "unknown member", suggest(str(name), list(members))))
            continue
        found += check_value(members[name], item, (*path, name))
    return found


def _check_size(model_shape: Shape, size: int, path: ApiPath, unit: str) -> list[Violation]:
    low, high = model_shape.metadata.get("min"), model_shape.metadata.get("max")
    if low is not None and size < low:
        return [Violation(path, f"has {size} {unit}, fewer than the minimum of {low}")]
    if high is not None and size > high:
        return [Violation(path, f"has {size} {unit}, more than the maximum of {high}")]
    return []


def _check_string(model_shape: Shape, value: str, path: ApiPath, sensitive: bool) -> list[Violation]:
    meta = model_shape.metadata

    def violation(problem: str, fix: str = "") -> Violation:
        return Violation(path, problem, fix, value=value, has_value=True, sensitive=sensitive)

    enum = meta.get("enum")
    if enum and value not in enum:
        return [violation("is not an allowed value", "allowed: " + ", ".join(enum))]
    low, high = meta.get("min"), meta.get("max")
    if low is not None and len(value) < low:
        return [violation(f"is {len(value)} characters long, shorter than the minimum of {low}")]
    if high is not None and len(value) > high:
        return [violation(f"is {len(value)} characters long, longer than the maximum of {high}")]
    pattern = meta.get("pattern")
    if pattern and not compiled_pattern(pattern).fullmatch(value):
        return [violation("does not match the required pattern", f"the whole value must match {pattern}")]
    return []


def _check_range(model_shape: Shape, value: float, path: ApiPath) -> list[Violation]:
    low, high = model_shape.metadata.get("min"), model_shape.metadata.get("max")
    if low is not None and value < low:
        return [Violation(path, f"is below the minimum of {low}", value=value, has_value=True)]
    if high is not None and value > high:
        return [Violation(path, f"is above the maximum of {high}", value=value, has_value=True)]
    return []


@functools.cache
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
