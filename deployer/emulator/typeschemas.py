"""Resource type schemas for the emulated Cloud Control API, and validation of a model against one.

The schemas come from ``deployer.registry`` (``find_type_schema`` turns its ``UnknownType`` into None);
``model_violations`` checks a resource model with jsonschema, in Cloud Control's words. The schemas'
``pattern`` keywords are Java regular expressions: they are read with the registry's
``compiled_schema_pattern`` (the ``regex`` package), and the few that do not compile even so are
not checked. A ``patternProperties`` key that Python's ``re`` cannot compile matches any name.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import jsonschema
import jsonschema.validators

from deployer.errors import StackError

if TYPE_CHECKING:
    from deployer.registry import TypeSchema


def find_type_schema(type_name: str, region: str) -> TypeSchema | None:
    """The type's schema, or None for a type that does not exist."""
    from deployer.registry import DEFAULT_REGION, UnknownType, type_schema  # the AppFlow side runs without it

    try:
        return type_schema(type_name, region)
    except UnknownType:
        return None
    except StackError:  # a region the registry does not know (a made-up emulator region): AWS's main one
        try:
            return type_schema(type_name, DEFAULT_REGION)
        except UnknownType:
            return None


def model_violations(type_schema: TypeSchema, model: dict[str, Any]) -> list[str]:
    """What is wrong with ``model`` for the type, as Cloud Control says it: ``#/Path: problem``."""
    validator = _validator(type_schema.schema)
    found = []
    for error in sorted(validator.iter_errors(model), key=lambda e: [str(p) for p in e.absolute_path]):
        path = "".join(f"/{part}" for part in error.absolute_path)
        found.append(f"#{path}: {error.message}")
    return found


def _java_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
    from deployer.registry import compiled_schema_pattern

    if not validator.is_type(instance, "string"):
        return
    try:
        compiled = compiled_schema_pattern(pattern)
    except StackError:
        return  # not even the regex package reads it: not checked
    if compiled.search(instance) is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _readable_keys(node: Any) -> Any:
    """A copy of a schema whose ``patternProperties`` keys all compile with ``re`` (jsonschema's)."""
    if isinstance(node, list):
        return [_readable_keys(item) for item in node]
    if not isinstance(node, dict):
        return node
    readable = {}
    for key, value in node.items():
        if key == "patternProperties" and isinstance(value, dict):
            value = {(name if _compiles(name) else ".*"): item for name, item in value.items()}
        readable[key] = _readable_keys(value)
    return readable


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


_VALIDATORS: dict[int, tuple[Any, Any]] = {}  # id(schema) -> (the schema, kept so that its id is not reused; validator)


def _validator(schema: Mapping[str, Any]) -> Any:
    cached = _VALIDATORS.get(id(schema))
    if cached is None or cached[0] is not schema:
        readable = _readable_keys(copy.deepcopy(dict(schema)))
        base = jsonschema.validators.validator_for(readable, default=jsonschema.Draft7Validator)
        cls = jsonschema.validators.extend(base, {"pattern": _java_pattern})
        cached = _VALIDATORS[id(schema)] = (schema, cls(readable))
    return cached[1]
