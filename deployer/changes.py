"""The plan's values: what apply would do to each resource (``Change``, its ``Action`` and ``PropertyChange``s)
and the ``Plan`` of a stack; with the few helpers every kind of resource's change rules share. Values only:
``deployer.plan`` builds them, with the rules of each kind in ``plan_cloud`` and ``plan_flows``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deployer.errors import StackError
from deployer.paths import KeyPath
from deployer.providers import Live
from deployer.render import Unknown
from deployer.secrets import SECRETS
from deployer.state import ResourceState
from deployer.validate import Desired

LiveIndex = Mapping[tuple[str, str, str], Live]  # (type, region, identifier) -> live resource
KNOWN_AFTER_APPLY = "(known after apply)"


class Action(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    FORGET = "forget"  # leave it in AWS, drop it from state (DeletionPolicy: Retain)
    BLOCKED = "blocked"  # cannot be applied as it is (a profile with its name exists outside the stack)
    NOOP = "no-op"


@dataclass(frozen=True)
class PropertyChange:
    path: str  # CloudFormation spelling
    before: Any
    after: Any
    sensitive: bool = False
    forces_replacement: bool = False


@dataclass(frozen=True)
class Change:
    resource: str
    type: str
    action: Action
    reasons: tuple[str, ...]
    identifier: str | None
    region: str | None
    properties: tuple[PropertyChange, ...] = ()
    desired: Desired | None = None
    prior: ResourceState | None = None
    live: Live | None = None
    blocker: str = ""  # what to do so that apply can go ahead (with Action.BLOCKED)
    moved_from: str = ""  # the resource's name in state before a move (moved: in the manifest)


@dataclass(frozen=True)
class Plan:
    stack: str
    env: str
    changes: tuple[Change, ...]
    moves: tuple[tuple[str, str], ...] = ()  # (old, new) resource names renamed in state, nothing in AWS
    reads: tuple[tuple[str, str], ...] = ()  # (stack path, env) of other stacks whose outputs it reads

    @property
    def blocked(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is Action.BLOCKED)

    @property
    def has_changes(self) -> bool:
        return bool(self.moves) or any(c.action is not Action.NOOP for c in self.changes)

    def summary(self) -> dict[str, int]:
        counts = {action.value: 0 for action in Action}
        for change in self.changes:
            counts[change.action.value] += 1
        return counts


class PlanError(StackError):
    """The plan breaks a rule the user set, such as prevent_destroy."""


def show(value: Any) -> str:
    return KNOWN_AFTER_APPLY if isinstance(value, Unknown) else str(value)


def known(value: Any) -> Any:
    if isinstance(value, Unknown):
        return KNOWN_AFTER_APPLY
    if isinstance(value, list):
        return [known(item) for item in value]
    if isinstance(value, dict):
        return {key: known(item) for key, item in value.items()}
    return value


def holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return any(holds_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(holds_secret(item) for item in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # a number rendered from a secret is registered as its text
    return isinstance(value, str) and value in SECRETS


def flatten(value: Any, path: KeyPath, into: dict[KeyPath, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            flatten(item, (*path, key), into)
    else:
        into[path] = value
