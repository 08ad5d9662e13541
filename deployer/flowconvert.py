"""AWS::AppFlow::Flow properties to and from the CreateFlow / UpdateFlow requests and DescribeFlow's answer.

Flows reuse the ConnectorProfile converter (``deployer.convert``): names come from walking the Flow
schema beside CreateFlow's model, so ``KMSArn``, ``TimeZone`` and every capitalised member need no
table. What no walk can find is declared once, in ``DIFFERENCES``: the places where CloudFormation and
the API disagree on *structure* (a Key/Value list against a map, a wrapper the schema flattens, a
timestamp CloudFormation writes as epoch seconds, a property that is not part of the request). Before
conversion those places are reshaped to the API's structure, still in the user's spelling; afterwards
every origin and problem path is mapped back, so problems name what the user wrote
(``Tags[1]``, ``TriggerConfig.TriggerProperties.ScheduleExpression``). ``flow_to_cfn`` undoes the
same table on DescribeFlow's answer, for drift and plan comparisons.
"""

from __future__ import annotations

import copy
import datetime
import enum
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from deployer.apimodel import ApiPath, Violation, input_shape, type_name
from deployer.convert import Conversion, SchemaNaming, member_for, to_api, to_cfn
from deployer.paths import KeyPath
from deployer.render import Unknown

TYPE_NAME = "AWS::AppFlow::Flow"
CREATE_OPERATION = "CreateFlow"
UPDATE_OPERATION = "UpdateFlow"
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


class Kind(enum.Enum):
    KEY_VALUE_LIST = "a list of Key/Value mappings in CloudFormation, a map in the API"
    FLATTENED = "the members of an API wrapper written straight into the CloudFormation block"
    RENAMED = "another word in the API, not just another capitalisation"
    EPOCH_SECONDS = "a number of seconds since 1970-01-01 UTC in CloudFormation, a timestamp in the API"
    NOT_IN_REQUEST = "not part of the CreateFlow request"
    READ_ONLY = "an attribute AWS sets, never an input"
    DROPPED = "accepted by CloudFormation, with no place in the API"


@dataclass(frozen=True)
class Difference:
    path: tuple[str, ...]  # CloudFormation path; "*" is any list item or connector key
    kind: Kind
    api: str  # where it goes on the API side, for people
    member: tuple[str, str] | None = None  # (API structure, member) for RENAMED and FLATTENED


_TRIGGER = ("TriggerConfig", "TriggerProperties")
_DESTINATION = ("DestinationFlowConfigList", "*", "DestinationConnectorProperties")

DIFFERENCES: tuple[Difference, ...] = (
    # CloudFormation's tagging convention is a list of {Key, Value}; the API's tags is a TagMap.
    Difference(("Tags",), Kind.KEY_VALUE_LIST, "tags"),
    # The schema models TaskPropertiesMap as a list of {Key, Value} (Key is the OperatorPropertiesKeys enum).
    Difference(("Tasks", "*", "TaskProperties"), Kind.KEY_VALUE_LIST, "tasks[*].taskProperties"),
    # The schema knows only scheduled triggers and refers TriggerProperties straight to ScheduledTriggerProperties;
    # the API's TriggerProperties is a union whose one member, Scheduled, holds them.
    Difference(_TRIGGER, Kind.FLATTENED, "triggerConfig.triggerProperties.Scheduled",
               ("TriggerProperties", "Scheduled")),
    # The schema has no timestamp type: the three instants are "type: number", epoch seconds. botocore sends a
    # number as it is; DescribeFlow answers datetimes, which flow_to_cfn turns back into seconds.
    Difference((*_TRIGGER, "ScheduleStartTime"), Kind.EPOCH_SECONDS, "...Scheduled.scheduleStartTime"),
    Difference((*_TRIGGER, "ScheduleEndTime"), Kind.EPOCH_SECONDS, "...Scheduled.scheduleEndTime"),
    Difference((*_TRIGGER, "FirstExecutionFrom"), Kind.EPOCH_SECONDS, "...Scheduled.firstExecutionFrom"),
    # The same flag under another word in every destination's ErrorHandlingConfig.
    Difference((*_DESTINATION, "*", "ErrorHandlingConfig", "FailOnFirstError"), Kind.RENAMED,
               "...errorHandlingConfig.failOnFirstDestinationError",
               ("ErrorHandlingConfig", "failOnFirstDestinationError")),
    # Activation is a separate call in the API: Active -> StartFlow, Suspended -> StopFlow, Draft -> neither.
    Difference(("FlowStatus",), Kind.NOT_IN_REQUEST, "StartFlow / StopFlow (DescribeFlow flowStatus)"),
    # Read-only in the schema; DescribeFlow answers it as flowArn.
    Difference(("FlowArn",), Kind.READ_ONLY, "DescribeFlow flowArn"),
    # The API's LookoutMetricsDestinationProperties has no members, so Object cannot be sent anywhere.
    Difference((*_DESTINATION, "LookoutMetrics", "Object"), Kind.DROPPED, "(none)"),
)


def flow_schema() -> Mapping[str, Any]:
    from deployer.registry import type_schema  # cfn-lint's schemas: loaded only when a flow is converted

    return type_schema(TYPE_NAME).schema


@functools.cache
def flow_naming() -> SchemaNaming:
    """How the Flow schema names CreateFlow's members, for ``deployer.convert``'s schema walk."""
    return SchemaNaming(
        flow_schema,
        renamed={d.member: d.path[-1] for d in DIFFERENCES if d.kind is Kind.RENAMED and d.member},
        flattened=frozenset(d.member for d in DIFFERENCES if d.kind is Kind.FLATTENED and d.member),
    )


@dataclass(frozen=True)
class FlowRequest:
    """A flow's CreateFlow request (without clientToken) and its FlowStatus, which CreateFlow does not take."""

    create: dict[str, Any]
    status: str | Unknown | None  # Active -> StartFlow after create, Suspended -> StopFlow, Draft or None: neither
    conversion: Conversion  # origins and problems, in the manifest's spelling


def flow_to_api(props: Mapping[str, Any]) -> FlowRequest:
    """Convert a flow's manifest props (CloudFormation names) to the CreateFlow request and its status."""
    shape = input_shape(CREATE_OPERATION)
    problems: list[Violation] = []
    moved: dict[KeyPath, KeyPath] = {}  # a path in the reshaped props -> the path the user wrote
    reshaped = copy.deepcopy(dict(props))
    for difference in DIFFERENCES:
        reshape = _RESHAPES.get(difference.kind)
        if reshape is not None:
            for parent, key, model, user in list(_matches(reshaped, shape, difference.path, ())):
                reshape(parent, key, model, user, difference, moved, problems)
    status = _status(props, problems)
    skipped = tuple(d.path[0] for d in DIFFERENCES if d.kind in (Kind.NOT_IN_REQUEST, Kind.READ_ONLY))
    conversion = to_api(reshaped, shape, not_in_api=skipped)
    conversion.origins = {api: _moved_back(user, moved) for api, user in conversion.origins.items()}
    conversion.problems = problems + [replace(v, path=_moved_back(v.path, moved)) for v in conversion.problems]
    conversion.value = _timestamps(conversion.value, shape, (), conversion)
    _keep_emptied_destinations(props, conversion.value)
    return FlowRequest(conversion.value, status, conversion)


def _keep_emptied_destinations(props: Mapping[str, Any], request: dict[str, Any]) -> None:
    """A destination block whose every member was dropped (LookoutMetrics' Object, which the API lacks) is the only
    sign of the destination: conversion drops empty blocks, so it is put back empty."""
    written = props.get("DestinationFlowConfigList")
    converted = request.get("destinationFlowConfigList")
    if not isinstance(written, list) or not isinstance(converted, list) or len(written) != len(converted):
        return
    model = input_shape(CREATE_OPERATION).members["destinationFlowConfigList"].member.members[  # type: ignore[attr-defined]
        "destinationConnectorProperties"]
    for mine, theirs in zip(written, converted, strict=True):
        blocks = mine.get("DestinationConnectorProperties") if isinstance(mine, dict) else None
        if not isinstance(blocks, dict) or not isinstance(theirs, dict):
            continue
        for key, block in blocks.items():
            member = member_for(model, str(key))
            if member is not None and isinstance(block, dict):
                theirs.setdefault("destinationConnectorProperties", {}).setdefault(member, {})


def flow_update_request(create_request: Mapping[str, Any]) -> dict[str, Any]:
    """The UpdateFlow members of a CreateFlow request. kmsArn is create-only (a new key means a new flow) and
    tags change through TagResource / UntagResource, so neither is in UpdateFlow. An absent description is
    sent empty: UpdateFlow leaves a member it is not sent unchanged, and removing Description must clear it."""
    members = input_shape(UPDATE_OPERATION).members
    update = {k: v for k, v in create_request.items() if k in members and k != "clientToken"}
    update.setdefault("description", "")
    return update


def flow_to_cfn(answer: Mapping[str, Any]) -> dict[str, Any]:
    """DescribeFlow's answer as CloudFormation properties: CreateFlow's members renamed and reshaped back, with
    FlowArn and FlowStatus. Members only the API has (Honeycode destinations) keep their capitalised API name."""
    shape = input_shape(CREATE_OPERATION)
    request = {k: v for k, v in answer.items() if k in shape.members and v is not None}
    properties, _ = to_cfn(request, shape, _epoch_seconds)
    for difference in DIFFERENCES:
        undo = _UNDO.get(difference.kind)
        if undo is not None:
            for parent, key in list(_cfn_matches(properties, difference.path)):
                undo(parent, key)
    for member, prop in (("flowArn", "FlowArn"), ("flowStatus", "FlowStatus")):
        if answer.get(member) is not None:
            properties[prop] = answer[member]
    return properties


def _status(props: Mapping[str, Any], problems: list[Violation]) -> str | Unknown | None:
    status = props.get("FlowStatus")
    allowed = tuple(flow_schema()["properties"]["FlowStatus"]["enum"])
    if status is None or status == "" or isinstance(status, Unknown):
        return status or None
    if status not in allowed:
        problems.append(Violation(("FlowStatus",), "is not an allowed value", "allowed: " + ", ".join(allowed),
                                  value=status, has_value=True))
        return None
    return str(status)


def _matches(value: Any, model: Shape | None, pattern: tuple[str, ...], user: KeyPath
             ) -> Iterator[tuple[dict[str, Any], str, Shape | None, KeyPath]]:
    """Each (block, key, member shape, user path) that ``pattern`` names in the user's props; a key matches in
    any spelling the converter accepts, or verbatim where the API has no member (LookoutMetrics' Object)."""
    if not pattern:
        return
    if isinstance(model, ListShape):
        if isinstance(value, list) and pattern[0] == "*":
            for index, item in enumerate(value):
                yield from _matches(item, model.member, pattern[1:], (*user, index))
        return
    if not isinstance(value, dict):
        return
    head, rest = pattern[0], pattern[1:]
    wanted = member_for(model, head) if isinstance(model, StructureShape) else None
    for key in list(value):
        member = member_for(model, key) if isinstance(model, StructureShape) else None
        if head == "*" or key == head or (member is not None and member == wanted):
            child = model.members[member] if isinstance(model, StructureShape) and member else None
            if rest:
                yield from _matches(value[key], child, rest, (*user, key))
            else:
                yield value, key, child, (*user, key)


Reshape = Callable[[dict[str, Any], str, "Shape | None", KeyPath, Difference, dict[KeyPath, KeyPath],
                    list[Violation]], None]


def _key_value_list(parent: dict[str, Any], key: str, model: Shape | None, user: KeyPath, difference: Difference,
                    moved: dict[KeyPath, KeyPath], problems: list[Violation]) -> None:
    items = parent[key]
    if not isinstance(items, list):
        return  # a mapping is the API's own shape; anything else the converter reports
    entries: dict[str, Any] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"Key", "Value"}:
            problems.append(Violation((*user, index), f"expected a mapping of Key and Value, got {_described(item)}",
                                      "write it as {Key: ..., Value: ...}"))
            continue
        name = item["Key"]
        if name in entries:
            problems.append(Violation((*user, index, "Key"), f"repeats the key '{name}'", "keep one of them"))
            continue
        entries[str(name)] = item["Value"]
        moved[(*user, str(name))] = (*user, index)
    parent[key] = entries


def _described(item: Any) -> str:
    if isinstance(item, dict):
        return "a mapping of " + ", ".join(map(str, item)) if item else "an empty mapping"
    return type_name(item)


def _flattened(parent: dict[str, Any], key: str, model: Shape | None, user: KeyPath, difference: Difference,
               moved: dict[KeyPath, KeyPath], problems: list[Violation]) -> None:
    assert difference.member is not None and isinstance(model, StructureShape)
    wrapper = difference.member[1]
    block = parent[key]
    if isinstance(block, dict) and not any(member_for(model, k) == wrapper for k in block):
        parent[key] = {wrapper: block}  # already wrapped is the API's own shape, taken as it is
        moved[(*user, wrapper)] = user


def _dropped(parent: dict[str, Any], key: str, model: Shape | None, user: KeyPath, difference: Difference,
             moved: dict[KeyPath, KeyPath], problems: list[Violation]) -> None:
    del parent[key]


_RESHAPES: dict[Kind, Reshape] = {Kind.KEY_VALUE_LIST: _key_value_list, Kind.FLATTENED: _flattened,
                                  Kind.DROPPED: _dropped}


def _moved_back(path: KeyPath, moved: dict[KeyPath, KeyPath]) -> KeyPath:
    for end in range(len(path), 0, -1):
        if path[:end] in moved:
            return (*moved[path[:end]], *path[end:])
    return path


def _timestamps(value: Any, model: Shape | None, api: ApiPath, conversion: Conversion) -> Any:
    """``value`` with every timestamp member as epoch seconds; a value that is not one is a located problem."""
    if isinstance(model, StructureShape) and isinstance(value, dict):
        kept = {k: _timestamps(v, model.members.get(k), (*api, k), conversion) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None}
    if isinstance(model, ListShape) and isinstance(value, list):
        return [_timestamps(v, model.member, (*api, i), conversion) for i, v in enumerate(value)]
    if isinstance(model, MapShape) and isinstance(value, dict):
        return {k: _timestamps(v, model.value, (*api, k), conversion) for k, v in value.items()}
    if model is None or model.type_name != "timestamp" or isinstance(value, Unknown):
        return value
    if isinstance(value, datetime.datetime):  # an unquoted YAML timestamp
        return _seconds(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value) if "." in value else int(value)
    conversion.problems.append(Violation(conversion.user_path(api), f"expected a number, got {type_name(value)}",
                                         "use seconds since 1970-01-01 UTC, such as 1767225600", value=value,
                                         has_value=True))
    return None


def _seconds(instant: datetime.datetime) -> int | float:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=datetime.timezone.utc)
    seconds = instant.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def _epoch_seconds(value: Any, model: Shape | None, api: ApiPath) -> Any:
    if model is not None and model.type_name == "timestamp" and isinstance(value, datetime.datetime):
        return _seconds(value)
    return value


def _cfn_matches(value: Any, pattern: tuple[str, ...]) -> Iterator[tuple[dict[str, Any], str]]:
    """Each (block, key) that ``pattern`` names in CloudFormation-spelled properties."""
    if not pattern:
        return
    head, rest = pattern[0], pattern[1:]
    if isinstance(value, list) and head == "*":
        for item in value:
            yield from _cfn_matches(item, rest)
    elif isinstance(value, dict):
        for key in list(value):
            if head in ("*", key):
                yield from (_cfn_matches(value[key], rest) if rest else [(value, key)])


def _undo_key_value_list(parent: dict[str, Any], key: str) -> None:
    if isinstance(parent[key], dict):  # sorted: the API's map has no order, and a stable one diffs quietly
        parent[key] = [{"Key": k, "Value": v} for k, v in sorted(parent[key].items())]


def _undo_flattened(parent: dict[str, Any], key: str) -> None:
    block = parent[key]
    if isinstance(block, dict) and len(block) == 1:
        parent[key] = next(iter(block.values()))


_UNDO: dict[Kind, Callable[[dict[str, Any], str], None]] = {Kind.KEY_VALUE_LIST: _undo_key_value_list,
                                                            Kind.FLATTENED: _undo_flattened}


def destination_objects(request: Mapping[str, Any]) -> list[Any]:
    """The ``object`` each destination of a CreateFlow or UpdateFlow request writes to (None where its connector
    has none): AppFlow refuses to change it in place ("Destination object for the destination connector can not
    be updated", terraform-provider-aws issue 42482), so a new one means a new flow."""
    found = []
    for destination in request.get("destinationFlowConfigList") or []:
        blocks = (destination or {}).get("destinationConnectorProperties") or {}
        found.append(next((block.get("object") for block in blocks.values() if isinstance(block, dict)), None))
    return found
