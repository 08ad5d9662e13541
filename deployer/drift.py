"""Drift: where AWS no longer matches what this stack last applied.

Compares each resource in state with what AWS returns now: for a connector profile its
connection mode, connector properties, type and label; for a Cloud Control type every
property a read returns that the last apply set; and notes resources in state that no
longer exist. Credentials and write-only properties cannot be checked: AWS never returns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployer.apimodel import input_shape
from deployer.changes import LiveIndex, PropertyChange
from deployer.connectors import CONFIG, PROPERTIES
from deployer.convert import cfn_path
from deployer.kinds import FLOW, cloud_schema, is_native
from deployer.paths import KeyPath, format_path
from deployer.plan_flows import flow_path
from deployer.providers.cloudcontrol.resource import differences, leaf_differences
from deployer.state import StackState


@dataclass(frozen=True)
class Drift:
    resource: str
    identifier: str
    deleted: bool
    properties: tuple[PropertyChange, ...] = ()


def find_drift(state: StackState, live: LiveIndex) -> list[Drift]:
    found: list[Drift] = []
    for name, record in sorted(state.resources.items()):
        current = live.get((record.type, record.region, record.identifier))
        if current is None:
            found.append(Drift(name, record.identifier, deleted=True))
            continue
        if record.type == FLOW:
            changed = tuple(PropertyChange(flow_path(path), None if _hidden(before) else before, now,
                                           sensitive=_hidden(before))
                            for path, now, before in leaf_differences(record.applied, current.properties,
                                                                      record.applied)
                            if not state.matches(before, now))
            if changed:
                found.append(Drift(name, record.identifier, deleted=False, properties=changed))
            continue
        if not is_native(record.type):
            schema = cloud_schema(record.type)
            changed = tuple(PropertyChange(format_path(path), None if _hidden(before) else before, now,
                                           sensitive=_hidden(before))
                            for path, now, before in differences(schema, record.applied, record.applied,
                                                                 current.properties)
                            if not state.matches(before, now))
            if changed:
                found.append(Drift(name, record.identifier, deleted=False, properties=changed))
            continue
        applied, now = _comparable(record.applied), _comparable(current.properties)
        changes = [
            PropertyChange(_cfn_path(path), None if _hidden(applied.get(path)) else applied.get(path), now.get(path),
                           sensitive=_hidden(applied.get(path)))
            for path in sorted(set(applied) | set(now), key=str)
            if not state.matches(applied.get(path), now.get(path))
        ]
        if changes:
            found.append(Drift(name, record.identifier, deleted=False, properties=tuple(changes)))
    return found


def _hidden(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("(sensitive) ")


def _comparable(request: dict[str, Any]) -> dict[KeyPath, Any]:
    flat: dict[KeyPath, Any] = {}
    for member in ("connectionMode", "connectorType", "connectorLabel"):
        if request.get(member) is not None:
            flat[(member,)] = request[member]
    _flatten((request.get(CONFIG) or {}).get(PROPERTIES) or {}, (CONFIG, PROPERTIES), flat)
    return flat


def _flatten(value: Any, path: KeyPath, into: dict[KeyPath, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, (*path, key), into)
    elif value not in ({}, None):
        into[path] = value


def _cfn_path(path: KeyPath) -> str:
    return format_path(cfn_path(path, input_shape("CreateConnectorProfile")))
