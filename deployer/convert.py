"""From CloudFormation property names to the API's request shape, driven by the API model.

The converter walks an API input shape beside the manifest value. A name is
accepted in its CloudFormation spelling or in API camelCase. The CloudFormation
name of each member comes from the resource schema, walked beside the API model
(``_schema_names``): mostly the API name with a capital first letter (``InstanceUrl``),
but ``KMSArn``, Salesforce's camelCase ``isSandboxEnvironment``, and ``oAuthRequest``,
which is ``ConnectorOAuthRequest`` in most blocks and ``OAuthRequest`` in others. Every
name a member has anywhere in the schema is accepted for it, as are members the
schema lacks (``CodeVerifier``, Snowflake's ``PrivateKey``, ``Honeycode``): the API
takes them, CloudFormation output cannot (``to_cfn`` reports them).
Map members keep their keys verbatim (they are user data). ``null`` and ``""`` mean
"not set" and are dropped, as are blocks left empty, unless the API requires the
block. A rendered string becomes a boolean or integer where the API wants one and
the text says so unambiguously; anything else is a problem, never a guess.

Every converted value remembers the manifest path it came from, so problems found
later on the API shape are reported in the user's spelling. Flows are named the same way from
their own schema (``_NAMINGS``); ``deployer.flowconvert`` reshapes what names alone cannot.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from deployer.apimodel import ApiPath, Violation, input_shape, suggest, type_name
from deployer.apimodel import shape as model_shape
from deployer.paths import KeyPath
from deployer.render import Unknown
from deployer.schema import connector_profile_schema

CREATE_OPERATION = "CreateConnectorProfile"  # the request whose members the schema's properties are
_INTEGER = re.compile(r"^[+-]?\d+$")


@dataclass
class Conversion:
    """The API-shaped value, where each part came from, and what could not be converted."""

    value: dict[str, Any] = field(default_factory=dict)
    origins: dict[ApiPath, KeyPath] = field(default_factory=dict)
    problems: list[Violation] = field(default_factory=list)  # paths in the manifest's spelling
    shape: StructureShape | None = None  # the API shape converted to

    def user_path(self, api_path: ApiPath) -> KeyPath:
        """The manifest path for an API path; members the user did not write get their CloudFormation name."""
        spelled = cfn_path(api_path, self.shape) if self.shape is not None else tuple(cfn_name(p) for p in api_path)
        for end in range(len(api_path), -1, -1):
            known = self.origins.get(api_path[:end])
            if known is not None:
                return (*known, *spelled[end:])
        return spelled


def _schema_names(within: str = "") -> dict[tuple[str, str], str]:
    return _schema_walk(_request_of(within))[0]


@dataclass(frozen=True)
class SchemaNaming:
    """A CloudFormation schema naming a create request's members, and what walking the two cannot find:
    ``renamed`` (API structure, member) -> CloudFormation name; ``flattened`` (API structure, member) whose
    members the schema puts straight into the structure's own block."""

    schema: Callable[[], Mapping[str, Any]]
    renamed: Mapping[tuple[str, str], str] = field(default_factory=dict)
    flattened: frozenset[tuple[str, str]] = frozenset()


def _flow_naming() -> SchemaNaming:
    from deployer.flowconvert import flow_naming  # flowconvert builds on this module; cfn-lint loads on first use
    return flow_naming()


# Create request -> how its CloudFormation type names it. The requests share no structure shape, so a
# structure's names come from one schema, read when a structure of its request is first named.
_NAMINGS: dict[str, Callable[[], SchemaNaming]] = {
    CREATE_OPERATION: lambda: SchemaNaming(connector_profile_schema),
    "CreateFlow": _flow_naming,
}


@functools.cache
def _request_of(shape_name: str) -> str:
    """The create request whose tree holds the structure ``shape_name``; ConnectorProfile's by default."""
    for operation_name in _NAMINGS:
        if shape_name in _structures(input_shape(operation_name), set()):
            return operation_name
    return CREATE_OPERATION


def _structures(model: Shape, seen: set[str]) -> set[str]:
    if isinstance(model, ListShape):
        return _structures(model.member, seen)
    if isinstance(model, MapShape):
        return _structures(model.value, seen)
    if isinstance(model, StructureShape) and model.name not in seen:
        seen.add(model.name)
        for member in model.members.values():
            _structures(member, seen)
    return seen


@functools.cache
def _schema_walk(operation_name: str = CREATE_OPERATION
                 ) -> tuple[dict[tuple[str, str], str], dict[str, frozenset[str]]]:
    """(API structure shape, member) -> the member's CloudFormation property name, for every member the
    CloudFormation schema has, and each structure's members the schema requires: the schema walked beside the
    create request's model.

    A schema property matches the member of the same name in any case (``KMSArn``, ``isSandboxEnvironment``),
    else the member whose shape the property's definition names (``ConnectorOAuthRequest`` is ``oAuthRequest``),
    else the member the naming declares renamed. Read-only properties (``ConnectorProfileArn``) match no member.
    """
    naming = _NAMINGS[operation_name]()
    schema = naming.schema()
    definitions = schema.get("definitions", {})
    found: dict[tuple[str, str], str] = {}
    required: dict[str, frozenset[str]] = {}
    visited: set[str] = set()

    def resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            node = definitions[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def walk(node: Mapping[str, Any], model: Shape) -> None:
        node = resolve(node)
        if isinstance(model, ListShape):
            walk(node.get("items", {}), model.member)
        if not isinstance(model, StructureShape) or model.name in visited:
            return
        visited.add(model.name)
        by_lower = {m.lower(): m for m in model.members}
        by_shape = {s.name: m for m, s in model.members.items()}
        by_rename = {name: m for (within, m), name in naming.renamed.items() if within == model.name}
        for name, child in node.get("properties", {}).items():
            definition = child.get("$ref", "").rsplit("/", 1)[-1]
            member = by_lower.get(name.lower()) or by_shape.get(definition) or by_rename.get(name)
            if member is not None:
                found.setdefault((model.name, member), name)
                walk(child, model.members[member])
        for within, member in naming.flattened:
            if within == model.name:
                walk(node, model.members[member])
        required[model.name] = frozenset(m for m in model.members if found.get((model.name, m)) in
                                         node.get("required", ()))

    walk(schema, input_shape(operation_name))
    return found, required


def required_in_cloudformation(within: StructureShape) -> frozenset[str]:
    """The API members of ``within`` that the CloudFormation schema requires (it may differ from the model:
    Snowflake's password, Pardot's businessUnitId)."""
    return _schema_walk(_request_of(within.name))[1].get(within.name, frozenset())


@functools.cache
def _names_anywhere(operation_name: str = CREATE_OPERATION) -> dict[str, tuple[str, ...]]:
    """Each API member name and its CloudFormation names anywhere in the request's schema, the most frequent
    first."""
    counts: dict[str, dict[str, int]] = {}
    for (_, member), name in _schema_walk(operation_name)[0].items():
        counts.setdefault(member, {}).setdefault(name, 0)
        counts[member][name] += 1
    return {member: tuple(sorted(names, key=lambda n: -names[n])) for member, names in counts.items()}


def in_cloudformation(within: StructureShape, member: str) -> bool:
    """Whether the CloudFormation schema has ``within``'s API member (it lacks ``codeVerifier``, ``Honeycode``...)."""
    return (within.name, member) in _schema_names(within.name)


def cfn_name(api_name: str | int, within: StructureShape | None = None) -> str | int:
    """The CloudFormation spelling of an API member of the structure ``within``; without it, the name the member
    has in most places of the schema (top-level members have one). Members the schema lacks, and connector keys,
    get the API name with a capital first letter."""
    if isinstance(api_name, int):
        return api_name
    if within is not None:
        named = _schema_names(within.name).get((within.name, api_name))
    else:
        named = next(iter(_names_anywhere().get(api_name, ())), None)
    return named or api_name[:1].upper() + api_name[1:]


# Request members the deployer sets itself; a manifest may not.
DEPLOYER_MEMBERS = ("clientToken",)


def cfn_path(api_path: ApiPath, shape: Shape) -> KeyPath:
    """An API path in CloudFormation spelling, walking the model: member names renamed, map keys kept."""
    spelled: list[str | int] = []
    current: Shape | None = shape
    for part in api_path:
        if isinstance(current, StructureShape) and isinstance(part, str):
            spelled.append(cfn_name(part, current))
            current = current.members.get(part)
        elif isinstance(current, MapShape):
            spelled.append(part)
            current = current.value
        elif isinstance(current, ListShape):
            spelled.append(part)
            current = current.member
        else:
            spelled.append(part)
            current = None
    return tuple(spelled)


def to_api(props: Mapping[str, Any], shape: StructureShape, *, not_in_api: tuple[str, ...] = ()) -> Conversion:
    """Convert manifest props (CloudFormation names) to a value of ``shape``; ``not_in_api`` props are skipped."""
    conversion = Conversion()
    converted = _structure(props, shape, (), (), conversion, top_level_skip=not_in_api,
                           withheld=DEPLOYER_MEMBERS)
    conversion.value = converted if isinstance(converted, dict) else {}
    conversion.origins[()] = ()
    conversion.shape = shape
    return conversion


Leaf = Callable[[Any, Shape | None, ApiPath], Any]


def to_cfn(value: Mapping[str, Any], shape: StructureShape, leaf: Leaf | None = None
           ) -> tuple[dict[str, Any], list[ApiPath]]:
    """An API-shaped value (a converted request) in CloudFormation spelling, and the API paths of members the
    schema lacks, which are kept under their capitalized API name. ``leaf`` may replace each leaf value: it gets
    the value, its model shape and its API path."""
    missing: list[ApiPath] = []

    def walk(item: Any, model: Shape | None, api: ApiPath) -> Any:
        if isinstance(item, dict) and isinstance(model, StructureShape):
            out: dict[str, Any] = {}
            for member, child in item.items():
                if not in_cloudformation(model, member):
                    missing.append((*api, member))
                out[str(cfn_name(member, model))] = walk(child, model.members.get(member), (*api, member))
            return out
        if isinstance(item, dict):
            child_model = model.value if isinstance(model, MapShape) else None
            return {k: walk(v, child_model, (*api, k)) for k, v in item.items()}
        if isinstance(item, list):
            child_model = model.member if isinstance(model, ListShape) else None
            return [walk(v, child_model, (*api, i)) for i, v in enumerate(item)]
        return leaf(item, model, api) if leaf is not None else item

    return walk(dict(value), shape, ()), missing


def member_for(shape: StructureShape, key: str) -> str | None:
    """The API member that ``key`` (in any accepted spelling) names in ``shape``, if any."""
    return _spellings_of(shape.name).get(key)


def _spellings(shape: StructureShape) -> dict[str, str]:
    return _spellings_of(shape.name)


@functools.cache
def _spellings_of(shape_name: str) -> dict[str, str]:
    """Accepted names of each member: the API name, its CloudFormation names, and the capitalized API name.

    Matching is exact otherwise, as in CloudFormation: ``InstanceURL`` is a typo of ``InstanceUrl``.
    """
    shape = model_shape(shape_name)
    assert isinstance(shape, StructureShape)
    names: dict[str, str] = {}
    for member in shape.members:
        names[member] = member
        capitalized = member[:1].upper() + member[1:]
        spelled = str(cfn_name(member, shape))
        # A CloudFormation name that only changes the case of another word replaces the capitalized form (KMSArn,
        # not KmsArn); where the schema keeps the API's camelCase (isSandboxEnvironment) both are taken.
        if spelled == member or spelled.lower() != capitalized.lower():
            names[capitalized] = member
        names[spelled] = member
        # a name the member has elsewhere in the schema is an alias: ConnectorOAuthRequest and OAuthRequest
        for alias in _names_anywhere(_request_of(shape_name)).get(member, ()):
            names.setdefault(alias, member)
    return names


def _is_unset(value: Any) -> bool:
    return value is None or value == ""


def _convert(value: Any, shape: Shape, user: KeyPath, api: ApiPath, conversion: Conversion) -> Any:
    """The converted value, or None when it is unset (or could not be converted)."""
    if _is_unset(value):
        return None
    if isinstance(value, Unknown):
        conversion.origins[api] = user
        return value
    conversion.origins[api] = user
    if isinstance(shape, StructureShape):
        return _structure(value, shape, user, api, conversion)
    if isinstance(shape, MapShape):
        return _map(value, shape, user, api, conversion)
    if isinstance(shape, ListShape):
        return _list(value, shape, user, api, conversion)
    return _scalar(value, shape, user, conversion)


def _structure(value: Any, shape: StructureShape, user: KeyPath, api: ApiPath, conversion: Conversion,
               top_level_skip: tuple[str, ...] = (), withheld: tuple[str, ...] = ()) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        conversion.problems.append(Violation(user, f"expected a mapping, got {type_name(value)}", value=value,
                                             has_value=True))
        return None
    spellings = _spellings(shape)
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key in top_level_skip:
            continue
        member = spellings.get(key)
        if member is None or member in withheld:
            choices = [str(cfn_name(m, shape)) for m in shape.members if m not in withheld]
            conversion.problems.append(Violation((*user, key), "unknown property", suggest(str(key), choices)))
            continue
        if member in result:
            conversion.problems.append(Violation((*user, key), f"set twice (also as another spelling of {member})",
                                                 "keep one"))
            continue
        converted = _convert(item, shape.members[member], (*user, key), (*api, member), conversion)
        if converted is not None:
            result[member] = converted
    for member in shape.required_members:
        # A required block that may be empty is sent empty (e.g. connectorProfileProperties for Amplitude).
        member_shape = shape.members[member]
        if member not in result and isinstance(member_shape, StructureShape) and not member_shape.required_members:
            result[member] = {}
        elif result and member not in result and isinstance(member_shape, ListShape) and any(
                spellings.get(key) == member and item == [] for key, item in value.items()):
            # a required list written empty, in a block that holds more, is sent empty (a Map_all task's
            # sourceFields); a block with nothing else is still left out, as every empty block is
            result[member] = []
    return result or None


def _map(value: Any, shape: MapShape, user: KeyPath, api: ApiPath, conversion: Conversion) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        conversion.problems.append(Violation(user, f"expected a mapping, got {type_name(value)}", value=value,
                                             has_value=True))
        return None
    result = {}
    for key, item in value.items():
        converted = _convert(item, shape.value, (*user, key), (*api, key), conversion)
        if converted is not None:
            result[str(key)] = converted
    return result or None


def _list(value: Any, shape: ListShape, user: KeyPath, api: ApiPath, conversion: Conversion) -> list[Any] | None:
    if not isinstance(value, list):
        value = [value]  # a single item where a list is wanted is unambiguous
    result: list[Any] = []
    for index, item in enumerate(value):
        converted = _convert(item, shape.member, (*user, index), (*api, len(result)), conversion)
        if converted is not None:
            result.append(converted)
    return result or None


def _scalar(value: Any, shape: Shape, user: KeyPath, conversion: Conversion) -> Any:
    kind = shape.type_name
    coerced = _coerce(value, kind)
    if coerced is _NO:
        wanted = {"boolean": "true or false", "integer": "a whole number", "long": "a whole number",
                  "string": "text", "double": "a number", "float": "a number"}.get(kind, kind)
        fix = "quote it to make it text" if kind == "string" else f"use {wanted}"
        conversion.problems.append(
            Violation(user, f"expected {wanted}, got {type_name(value)}", fix, value=value, has_value=True,
                      sensitive=bool(shape.metadata.get("sensitive")))
        )
        return None
    return coerced


_NO = object()


def _coerce(value: Any, kind: str) -> Any:
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return _NO
    if kind in ("integer", "long"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INTEGER.match(value.strip()):
            return int(value.strip())
        return _NO
    if kind in ("double", "float"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        try:
            return float(value) if isinstance(value, str) else _NO
        except ValueError:
            return _NO
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # a YAML number where the API wants text, such as ClientNumber: 100
        return _NO
    return value
