"""Every CloudFormation resource type, from its provider schema: the type registry.

The schemas are the ones cfn-lint ships (all regions, MIT-0), read through its public
API (``PROVIDER_SCHEMA_MANAGER``), never through file paths, which changed between its
releases. They are cfn-lint's "enhanced" schemas: AWS's provider schemas with the
validation keywords cfn-lint adds when it builds them (``format``, ``minLength``, ...),
baked into the files it ships. Names, structure, ``createOnlyProperties``,
``readOnlyProperties``, ``writeOnlyProperties``, ``primaryIdentifier`` and ``handlers``
are AWS's, which is all the registry reads; the extra keywords only make validation
stricter. Run-time patches (cfn-lint's ``--override-spec``) are never applied here, and
each schema is copied on first use, so a later patch in the same process cannot change
a ``TypeSchema`` already handed out.

Standalone for now: the engine does not use it yet.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from deployer.apimodel import suggest
from deployer.errors import StackError

DEFAULT_REGION = "us-east-1"
HANDLERS = ("create", "read", "update", "delete", "list")
_NEEDED_HANDLERS = ("create", "read", "delete")  # without these Cloud Control cannot manage a type

# StackQL ids whose resource name is not the type's name in snake case, plural. Empty
# today: every id tried (see tests/test_registry.py) follows the rule.
_STACKQL_EXCEPTIONS: dict[str, str] = {}
_STACKQL_ID = re.compile(r"^(aws|awscc)\.([a-z0-9_]+)\.([a-z0-9_]+)$")


class UnknownType(StackError):
    """A type name (or StackQL id) that no provider schema defines."""


@dataclass(frozen=True)
class TypeSchema:
    type_name: str  # "AWS::S3::Bucket"
    schema: Mapping[str, Any] = field(hash=False, repr=False)  # the provider schema, with its definitions
    properties: frozenset[str]  # top-level property names
    required: frozenset[str]  # top-level required property names
    create_only: tuple[str, ...]  # JSON pointers as in the schema: "/properties/BucketName"
    read_only: tuple[str, ...]
    write_only: tuple[str, ...]
    primary_identifier: tuple[str, ...]
    handlers: frozenset[str]  # of create, read, update, delete, list
    provisionable: bool
    why_not: str = ""  # when not provisionable: the reason, for validate's error


def type_schema(type_name: str, region: str = DEFAULT_REGION) -> TypeSchema:
    """The schema of ``type_name`` (or a StackQL id) in ``region``; UnknownType if there is none."""
    return _type_schema(resolve_type(type_name, region), _check_region(region))


def type_names(region: str = DEFAULT_REGION) -> tuple[str, ...]:
    """Every resource type cfn-lint has a schema for in ``region``, sorted."""
    return _type_names(_check_region(region))


def resolve_type(name: str, region: str = DEFAULT_REGION) -> str:
    """A type name as is; a StackQL id (``aws.s3.buckets``, ``awscc.s3.buckets``) as its type name."""
    if "::" in name:
        return name
    match = _STACKQL_ID.match(name)
    if not match:
        raise UnknownType(f"unknown resource type {name!r}: expected a type such as AWS::S3::Bucket "
                          "or a StackQL id such as aws.s3.buckets")
    _, service, resource = match.groups()
    stackql_id = f"aws.{service}.{resource}"
    if stackql_id in _STACKQL_EXCEPTIONS:
        return _STACKQL_EXCEPTIONS[stackql_id]
    by_service = _stackql_index(_check_region(region))
    if service not in by_service:
        raise UnknownType(f"unknown StackQL service {service!r} in {name!r}; {_hint(service, list(by_service))}")
    plural, bare = by_service[service]
    key = resource.replace("_", "")
    found = plural.get(key) or bare.get(key)
    if found is None:
        ids = [f"{match.group(1)}.{service}.{_snake_plural(t.split('::')[2])}" for t in set(bare.values())]
        raise UnknownType(f"unknown StackQL id {name!r}; {_hint(name, ids)}")
    return found


def compiled_schema_pattern(pattern: str) -> Any:
    """A schema ``pattern`` compiled with ``regex``, which reads the Java-style syntax
    (``\\p{Print}``, ``\\P{C}``, inline ``(?i)`` mid-pattern, ...) that Python's ``re`` refuses.
    A UTF-16 surrogate pair written as two escapes (Java's way past U+FFFF) becomes one code point."""
    import regex

    try:
        return _compile(pattern)
    except regex.error as error:
        raise StackError(f"schema pattern {pattern!r} does not compile: {error}") from None


@functools.cache  # per (region, type): an lru_cache without a bound
def _compile(pattern: str) -> Any:
    import regex

    return regex.compile(_SURROGATE_PAIR.sub(_code_point, pattern))


_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


def _code_point(match: re.Match[str]) -> str:
    high, low = int(match.group(1), 16), int(match.group(2), 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"


@functools.cache  # per (region, type): an lru_cache without a bound
def _type_schema(type_name: str, region: str) -> TypeSchema:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

    try:
        found = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, type_name)
    except ResourceNotFoundError:
        raise UnknownType(f"unknown resource type {type_name!r} in {region}; "
                          f"{_hint(type_name, list(_type_names(region)))}") from None
    schema = copy.deepcopy(found.schema)
    handlers = frozenset(schema.get("handlers", {})) & frozenset(HANDLERS)
    why_not = _refused().get(type_name, "")
    missing = [h for h in _NEEDED_HANDLERS if h not in handlers]
    if missing and not why_not:
        why_not = (f"its schema has no {_joined(missing)} handler, "
                   "so Cloud Control cannot provision it")
    return TypeSchema(
        type_name=schema.get("typeName", type_name),
        schema=schema,
        properties=frozenset(schema.get("properties", {})),
        required=frozenset(schema.get("required", ())),
        create_only=tuple(schema.get("createOnlyProperties", ())),
        read_only=tuple(schema.get("readOnlyProperties", ())),
        write_only=tuple(schema.get("writeOnlyProperties", ())),
        primary_identifier=tuple(schema.get("primaryIdentifier", ())),
        handlers=handlers,
        provisionable=not why_not,
        why_not=why_not,
    )


@functools.cache  # per (region, type): an lru_cache without a bound
def _type_names(region: str) -> tuple[str, ...]:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    return tuple(sorted(PROVIDER_SCHEMA_MANAGER.get_resource_types(region)))


@functools.cache  # per (region, type): an lru_cache without a bound
def _stackql_index(region: str) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """service -> (plural name -> type, name -> type); names lower case without underscores."""
    index: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    for type_name in _type_names(region):
        parts = type_name.split("::")
        if len(parts) != 3 or parts[0] != "AWS":
            continue
        plural, bare = index.setdefault(parts[1].lower(), ({}, {}))
        name = parts[2].lower()
        bare[name] = type_name
        for form in _plurals(name):
            plural[form] = type_name
    return index


def _plurals(name: str) -> list[str]:
    if name.endswith("y") and name[-2:-1] not in ("a", "e", "o", "u"):
        return [name[:-1] + "ies", name + "s"]
    if name.endswith(("s", "x", "z", "ch", "sh")):
        return [name + "es"]
    return [name + "s"]


def _snake_plural(name: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    head, _, last = snake.rpartition("_")
    return (head + "_" if head else "") + _plurals(last)[0]


@functools.lru_cache(maxsize=1)
def _refused() -> dict[str, str]:
    text = resources.files("deployer").joinpath("data/non_provisionable.json").read_text()
    return dict(json.loads(text)["types"])


def _check_region(region: str) -> str:
    from cfnlint.helpers import REGIONS

    if region not in REGIONS:
        raise StackError(f"unknown region {region!r}; {suggest(region, list(REGIONS))}")
    return region


def _hint(name: str, choices: list[str]) -> str:
    """did-you-mean, without listing a thousand types when nothing is close."""
    hint = suggest(name, choices)
    return hint if hint.startswith("did you mean") or len(choices) <= 20 else "run `stack types` for the list"


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
