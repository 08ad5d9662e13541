"""From CloudFormation property names to the API's request shape, driven by the API model.

The converter walks an API input shape beside the manifest value. A name is
accepted in its CloudFormation spelling (the API name with a capital first letter,
``InstanceUrl`` -> ``instanceUrl``) or in API camelCase; ``RENAMES`` holds the names
that differ otherwise (``KMSArn``, ``ConnectorOAuthRequest``).
Map members keep their keys verbatim (they are user data). ``null`` and ``""`` mean
"not set" and are dropped, as are blocks left empty, unless the API requires the
block. A rendered string becomes a boolean or integer where the API wants one and
the text says so unambiguously; anything else is a problem, never a guess.

Every converted value remembers the manifest path it came from, so problems found
later on the API shape are reported in the user's spelling.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from deployer.apimodel import ApiPath, Violation, suggest, type_name
from deployer.apimodel import shape as model_shape
from deployer.paths import KeyPath
from deployer.render import Unknown

# CloudFormation names that are not the API name with its first letter in upper case.
RENAMES: Mapping[str, str] = {"KMSArn": "kmsArn", "ConnectorOAuthRequest": "oAuthRequest"}
_REVERSE_RENAMES = {api: cfn for cfn, api in RENAMES.items()}
_INTEGER = re.compile(r"^[+-]?\d+$")


@dataclass
class Conversion:
    """The API-shaped value, where each part came from, and what could not be converted."""

    value: dict[str, Any] = field(default_factory=dict)
    origins: dict[ApiPath, KeyPath] = field(default_factory=dict)
    problems: list[Violation] = field(default_factory=list)  # paths in the manifest's spelling

    def user_path(self, api_path: ApiPath) -> KeyPath:
        """The manifest path for an API path; members the user did not write get their CloudFormation name."""
        for end in range(len(api_path), -1, -1):
            known = self.origins.get(api_path[:end])
            if known is not None:
                return (*known, *(cfn_name(p) for p in api_path[end:]))
        return tuple(cfn_name(p) for p in api_path)


def cfn_name(api_name: str | int) -> str | int:
    """The CloudFormation spelling of an API member name."""
    if isinstance(api_name, int):
        return api_name
    return _REVERSE_RENAMES.get(api_name, api_name[:1].upper() + api_name[1:])


# Request members the deployer sets itself; a manifest may not.
DEPLOYER_MEMBERS = ("clientToken",)


def cfn_path(api_path: ApiPath, shape: Shape) -> KeyPath:
    """An API path in CloudFormation spelling, walking the model: member names renamed, map keys kept."""
    spelled: list[str | int] = []
    current: Shape | None = shape
    for part in api_path:
        if isinstance(current, StructureShape) and isinstance(part, str):
            spelled.append(cfn_name(part))
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
    return conversion


def _spellings(shape: StructureShape) -> dict[str, str]:
    return _spellings_of(shape.name)


@functools.cache
def _spellings_of(shape_name: str) -> dict[str, str]:
    """Accepted names of each member: the API name, the CloudFormation name, and the real renames.

    Matching is exact otherwise, as in CloudFormation: ``InstanceURL`` is a typo of ``InstanceUrl``.
    """
    shape = model_shape(shape_name)
    assert isinstance(shape, StructureShape)
    names: dict[str, str] = {}
    for member in shape.members:
        names[member] = member
        capitalized = member[:1].upper() + member[1:]
        renamed = str(cfn_name(member))
        # A rename that only changes case replaces the capitalized form (KMSArn, not KmsArn); one that is
        # another word is an alias: CloudFormation says ConnectorOAuthRequest in most places, OAuthRequest in some.
        if renamed.lower() != capitalized.lower():
            names[capitalized] = member
        names[renamed] = member
    for cfn, api in RENAMES.items():
        if api in shape.members:
            names[cfn] = api
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
            choices = [str(cfn_name(m)) for m in shape.members if m not in withheld]
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
