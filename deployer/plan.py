"""The plan: what apply would do to each resource, and why. A value; nothing here calls AWS.

Each ``Change`` carries an ``Action`` and its reasons. Properties AWS returns are
compared with the live values (so a change made outside the tool shows up);
write-only ones (credentials, the KMS key) with the last applied values and
fingerprints in state. Changes to properties the update API cannot change force a
replacement (delete, then create).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from botocore.model import StructureShape

from deployer.apimodel import input_shape, shape
from deployer.connectors import CONFIG, CREDENTIALS, PROPERTIES
from deployer.convert import cfn_name, cfn_path
from deployer.errors import StackError
from deployer.flowconvert import CREATE_OPERATION as FLOW_CREATE
from deployer.flowconvert import destination_objects
from deployer.graph import dependency_order
from deployer.invocation import Invocation
from deployer.kinds import FLOW
from deployer.paths import KeyPath, format_path
from deployer.providers import Live
from deployer.providers.cloudcontrol.replacement import replacement_reasons
from deployer.providers.cloudcontrol.resource import differences, leaf_differences, write_only_changes
from deployer.render import StackContext, Unknown
from deployer.secrets import SECRETS
from deployer.state import ResourceState, StackState
from deployer.validate import Desired, DesiredStack

LiveIndex = Mapping[tuple[str, str, str], Live]  # (type, region, identifier) -> live resource
KNOWN_AFTER_APPLY = "(known after apply)"



@functools.lru_cache(maxsize=1)
def create_only_members() -> tuple[tuple[str, bool], ...]:
    """Members a create sets and the update API cannot change (from the API model: in the create request, not
    in the update request), each with whether AWS returns it (else state keeps the last applied value)."""
    create, update = input_shape("CreateConnectorProfile").members, input_shape("UpdateConnectorProfile").members
    described = shape("ConnectorProfile")
    assert isinstance(described, StructureShape)
    return tuple((member, member in described.members) for member in create if member not in update)


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


def build_plan(desired: DesiredStack, state: StackState, live: LiveIndex, *, invocation: Invocation,
               destroying: bool = False, adopt: bool = False) -> Plan:
    """``invocation``: this run's command line, for the commands that hints name."""
    context = desired.context
    specs = {spec.name: spec for spec in context.manifest.resources}
    state, moves = apply_moves(state, context.manifest.moved, invocation)
    moved_from = {new: old for old, new in moves}
    wanted = {d.name for d in desired.resources}
    leaving = [r for name, r in state.resources.items() if name not in wanted]
    graph = {r.name: set(r.depends_on) for r in leaving}
    order = dependency_order(sorted(graph), graph)
    env = desired.context.env
    changes = []
    for name in reversed(order):
        if destroying:
            why = "stack destroy"
        elif name in specs:
            why = f"not part of environment '{env}' (its if: is false)"
        else:
            why = "no longer in the manifest"
        spec = specs.get(name)
        changes.append(_leave(state.resources[name], why, live, spec.retain if spec else None))
    leaving_owners = {(r.type, r.region, r.identifier): r.name for r in leaving}
    changes += [_change_of(d)(d, state, live, adopt, leaving_owners, invocation) for d in desired.resources]
    changes = [replace(c, moved_from=moved_from[c.resource], reasons=(f"moved from '{moved_from[c.resource]}' "
                                                                       "(moved: in the manifest)", *c.reasons))
               if c.resource in moved_from else c for c in changes]
    guarded = [c for c in changes if c.action in (Action.DELETE, Action.REPLACE) and _prevents_destroy(c, context)]
    if guarded:
        lines = "; ".join(f"'{c.resource}' would be {c.action.value}d ({', '.join(c.reasons)})" for c in guarded)
        raise PlanError(f"prevent_destroy stops this plan: {lines}. Remove prevent_destroy from the resource "
                        "(or make its expression false for this environment) if this is intended")
    return Plan(context.manifest.name, context.env, tuple(changes), moves)


def apply_moves(state: StackState, moved: tuple[tuple[str, str], ...], invocation: Invocation
                ) -> tuple[StackState, tuple[tuple[str, str], ...]]:
    """``state`` with each ``moved:`` entry whose old name it still holds renamed; and the moves made.

    A move whose old name is gone was made by an earlier deploy (the entry can stay in the manifest, as in
    Terraform). Moving onto a name the state already holds is refused: two records cannot become one."""
    done = []
    for old, new in moved:
        if old not in state.resources:
            continue
        if new in state.resources:
            raise PlanError(f"moved: '{old}' to '{new}', but the state holds both; remove the one that is wrong "
                            f"with {invocation.command('state rm', old)} or {invocation.command('state rm', new)}, "
                            "or drop the moved: entry")
        state = state.renamed(old, new)
        done.append((old, new))
    return state, tuple(done)


def _prevents_destroy(change: Change, context: StackContext) -> bool:
    """The manifest decides for the resources it has (prevent_destroy may depend on the environment); state
    keeps the last word only for resources that have left the manifest."""
    if any(spec.name == change.resource for spec in context.manifest.resources):
        return change.resource in context.protected
    return bool(change.prior and change.prior.prevent_destroy)


def _leave(prior: ResourceState, why: str, live: LiveIndex, retain: bool | None) -> Change:
    """A resource leaving the stack; ``retain`` is its DeletionPolicy in the manifest, None when it has left it
    (then the policy recorded at its last deploy holds)."""
    found = live.get((prior.type, prior.region, prior.identifier))
    if prior.retain if retain is None else retain:
        return Change(prior.name, prior.type, Action.FORGET, (why, "DeletionPolicy Retain: it stays in AWS"),
                      prior.identifier, prior.region, prior=prior, live=found)
    if found is None:
        return Change(prior.name, prior.type, Action.FORGET, (why, "already gone from AWS"), prior.identifier,
                      prior.region, prior=prior)
    return Change(prior.name, prior.type, Action.DELETE, (why,), prior.identifier, prior.region, prior=prior,
                  live=found)


def _change(desired: Desired, state: StackState, live: LiveIndex, adopt: bool,
            leaving_owners: Mapping[tuple[str, str, str], str], invocation: Invocation) -> Change:
    prior = state.resources.get(desired.name)
    identifier = desired.identifier
    region = desired.region or ""
    name = identifier if isinstance(identifier, str) else None
    found = live.get((desired.type, region, name)) if name else None
    adopting = prior is None and found is not None and adopt
    if adopting:
        assert found is not None and name is not None
        prior = _from_live(desired, found, name, region)

    def make(action: Action, reasons: list[str], properties: list[PropertyChange] | None = None,
             blocker: str = "") -> Change:
        if adopting:
            reasons = [f"adopts the existing profile '{name}' (--adopt)", *reasons]
        return Change(desired.name, desired.type, action, tuple(reasons), name, region, tuple(properties or ()),
                      desired, prior, found, blocker)

    if prior is None:
        owner = leaving_owners.get((desired.type, region, name)) if name else None
        if owner is not None:
            return make(Action.CREATE, [f"the profile of '{owner}', which leaves the stack, is deleted first; to "
                                        f"rename the resource instead, add moved: [{{from: {owner}, to: "
                                        f"{desired.name}}}] to the manifest or run "
                                        f"{invocation.command('state mv', owner, desired.name)}"],
                        created_properties(desired))
        if found is not None:
            assert name is not None  # found by its name
            why = f"a connector profile named '{name}' exists in AWS but not in this stack's state"
            fix = (f"import it with {invocation.command('state import', desired.name, name, renders=True)}, "
                   f"take it over with {invocation.command('deploy', '--adopt', renders=True)} "
                   f"({invocation.command('plan', '--adopt', renders=True)} shows what that would do), or give the "
                   f"resource another ConnectorProfileName{invocation.withheld()}")
            return make(Action.BLOCKED, [why], blocker=fix)
        return make(Action.CREATE, ["new resource"], created_properties(desired))
    if prior.identifier != identifier or prior.region != region:
        moved = (f"ConnectorProfileName changes from '{prior.identifier}' to '{_show(identifier)}'"
                 if prior.identifier != identifier else f"region changes from {prior.region} to {region}")
        return make(Action.REPLACE, [f"{moved} (forces replacement)"])
    if found is None:
        return make(Action.CREATE, ["recorded in state but gone from AWS (deleted outside this stack)"],
                    created_properties(desired))
    replacing = _create_only_changes(desired, prior, found, state)
    if replacing:
        return make(Action.REPLACE, [f"{p.path} changes (forces replacement)" for p in replacing], replacing)
    properties = _property_changes(desired, prior, found)
    reasons = []
    if any(not p.sensitive for p in properties):
        reasons.append("properties differ from AWS: " + ", ".join(p.path for p in properties if not p.sensitive))
    if state.fingerprint(desired.credentials) != prior.credentials_fingerprint:
        properties.append(PropertyChange("ConnectorProfileConfig.ConnectorProfileCredentials", None, None,
                                         sensitive=True))
        reasons.append("credentials changed")
    if desired.has_unknowns:
        reasons.append("some values are known only after apply")
    if reasons:
        return make(Action.UPDATE, reasons, properties)
    return make(Action.NOOP, ["matches AWS"])


def _change_of(desired: Desired) -> Any:
    if desired.cloud:
        return _cloud_change
    return _flow_change if desired.type == FLOW else _change


def _flow_change(desired: Desired, state: StackState, live: LiveIndex, adopt: bool,
                 leaving_owners: Mapping[tuple[str, str, str], str], invocation: Invocation) -> Change:
    """The change for a flow: FlowName and KMSArn replace it; its configuration, tasks and tags are compared with
    what DescribeFlow returns; FlowStatus starts or stops a scheduled or event flow (never an on-demand one)."""
    prior = state.resources.get(desired.name)
    region = desired.region or ""
    name = desired.identifier if isinstance(desired.identifier, str) else None
    found = live.get((FLOW, region, name)) if name else None
    adopting = prior is None and found is not None and adopt
    if adopting:
        assert found is not None and name is not None
        prior = ResourceState(name=desired.name, type=FLOW, identifier=name, region=region, arn=found.arn,
                              applied=dict(found.properties), credentials_fingerprint=None,
                              exports=dict(found.exports))

    def make(action: Action, reasons: list[str], properties: list[PropertyChange] | None = None,
             blocker: str = "") -> Change:
        if adopting:
            reasons = [f"adopts the existing flow '{name}' (--adopt)", *reasons]
        return Change(desired.name, desired.type, action, tuple(reasons), name, region, tuple(properties or ()),
                      desired, prior, found, blocker)

    created = _created_flow(desired)
    if prior is None:
        owner = leaving_owners.get((FLOW, region, name)) if name else None
        if owner is not None:
            return make(Action.CREATE, [f"the flow of '{owner}', which leaves the stack, is deleted first; to rename "
                                        f"the resource instead, add moved: [{{from: {owner}, to: {desired.name}}}] to "
                                        "the manifest"], created)
        if found is not None:
            fix = (f"import it with {invocation.command('state import', desired.name, str(name), renders=True)}, "
                   f"take it over with {invocation.command('deploy', '--adopt', renders=True)}, or give the "
                   f"resource another FlowName{invocation.withheld()}")
            return make(Action.BLOCKED, [f"a flow named '{name}' exists in AWS but not in this stack's state"],
                        blocker=fix)
        return make(Action.CREATE, ["new resource"], created)
    if prior.identifier != desired.identifier or prior.region != region:
        moved = (f"FlowName changes from '{prior.identifier}' to '{_show(desired.identifier)}'"
                 if prior.identifier != desired.identifier else f"region changes from {prior.region} to {region}")
        return make(Action.REPLACE, [f"{moved} (forces replacement)"], created)
    if found is None:
        return make(Action.CREATE, ["recorded in state but gone from AWS (deleted outside this stack)"], created)
    kms_before, kms_after = prior.applied.get("kmsArn"), desired.request.get("kmsArn")
    if not state.matches(kms_before, kms_after):
        return make(Action.REPLACE, ["KMSArn changes (forces replacement)"],
                    [PropertyChange("KMSArn", kms_before, _known(kms_after), forces_replacement=True)])
    objects_before, objects_after = destination_objects(found.properties), destination_objects(desired.request)
    if objects_before != objects_after:
        return make(Action.REPLACE, ["the destination's Object changes (forces replacement: AppFlow cannot update "
                                     "it in place)"],
                    [PropertyChange("DestinationFlowConfigList[*].DestinationConnectorProperties.*.Object",
                                    objects_before, _known(objects_after), forces_replacement=True)])
    wanted = {k: v for k, v in desired.request.items() if k != "kmsArn"}
    properties = [PropertyChange(flow_path(path), before, _known(after))
                  for path, before, after in leaf_differences(wanted, found.properties, prior.applied)]
    reasons = ["properties differ from AWS: " + ", ".join(p.path for p in properties)] if properties else []
    status = flow_status_change(desired, found.status)
    if status is not None:
        properties.append(PropertyChange("FlowStatus", found.status, status))
        reasons.append(f"FlowStatus {found.status} -> {status} ({'StartFlow' if status == 'Active' else 'StopFlow'})")
    if desired.has_unknowns and not reasons:
        reasons.append("some values are known only after apply")
    if reasons:
        return make(Action.UPDATE, reasons, properties)
    return make(Action.NOOP, ["matches AWS"])


def flow_status_change(desired: Desired, current: str | None) -> str | None:
    """The FlowStatus to set with StartFlow/StopFlow, if any: never for an on-demand flow, whose start would run it
    (move data); Draft, or no FlowStatus, leaves a flow as AWS has it."""
    trigger = (desired.request.get("triggerConfig") or {}).get("triggerType")
    wanted = desired.flow_status
    if trigger == "OnDemand" or wanted not in ("Active", "Suspended") or wanted == current:
        return None
    if wanted == "Suspended" and current != "Active":
        return None  # Draft or Suspended: not running, nothing to stop
    return str(wanted)


def flow_path(path: KeyPath) -> str:
    """A path of the CreateFlow request in the manifest's spelling (the trigger's ``Scheduled`` wrapper is the
    API's only: CloudFormation's TriggerProperties are the scheduled ones)."""
    spelled = cfn_path(path, input_shape(FLOW_CREATE))
    if spelled[:3] == ("TriggerConfig", "TriggerProperties", "Scheduled"):
        spelled = (*spelled[:2], *spelled[3:])
    return format_path(spelled)


def _created_flow(desired: Desired) -> list[PropertyChange]:
    flat: dict[KeyPath, Any] = {}
    _flatten(desired.properties, (), flat)
    return [PropertyChange(format_path(path), None, _known(value)) for path, value in flat.items()]


def _cloud_change(desired: Desired, state: StackState, live: LiveIndex, adopt: bool,
                  leaving_owners: Mapping[tuple[str, str, str], str], invocation: Invocation) -> Change:
    """The change for a resource of a Cloud Control type, by its schema's rules: create-only changes replace,
    read-only ones never count, write-only ones are compared with what was last applied (a read never returns
    them). A resource whose identifier AWS assigns is found by the identifier state recorded."""
    schema = desired.schema
    assert schema is not None
    prior = state.resources.get(desired.name)
    region = desired.region or ""
    known = desired.identifier if isinstance(desired.identifier, str) else None
    lookup = prior.identifier if prior is not None else known
    found = live.get((desired.type, region, lookup)) if lookup else None
    adopting = prior is None and found is not None and adopt
    if adopting:
        assert found is not None and known is not None
        prior = ResourceState(name=desired.name, type=desired.type, identifier=known, region=region, arn=found.arn,
                              applied=dict(found.properties), credentials_fingerprint=None,
                              exports=dict(found.exports))

    def make(action: Action, reasons: list[str], properties: list[PropertyChange] | None = None,
             blocker: str = "") -> Change:
        if adopting:
            reasons = [f"adopts the existing {desired.type} '{known}' (--adopt)", *reasons]
        identifier = prior.identifier if prior is not None and action is not Action.REPLACE else known
        return Change(desired.name, desired.type, action, tuple(reasons), identifier, region,
                      tuple(properties or ()), desired, prior, found, blocker)

    if prior is None:
        owner = leaving_owners.get((desired.type, region, known)) if known else None
        if owner is not None:
            return make(Action.CREATE, [f"the {desired.type} of '{owner}', which leaves the stack, is deleted "
                                        f"first; to rename the resource instead, add moved: [{{from: {owner}, to: "
                                        f"{desired.name}}}] to the manifest or run "
                                        f"{invocation.command('state mv', owner, desired.name)}"],
                        _created_cloud(desired))
        if found is not None:
            why = f"a {desired.type} '{known}' exists in AWS but not in this stack's state"
            fix = (f"import it with {invocation.command('state import', desired.name, str(known), renders=True)}, "
                   f"take it over with {invocation.command('deploy', '--adopt', renders=True)} "
                   f"({invocation.command('plan', '--adopt', renders=True)} shows what that would do), or give the "
                   f"resource another name{invocation.withheld()}")
            return make(Action.BLOCKED, [why], blocker=fix)
        return make(Action.CREATE, ["new resource"], _created_cloud(desired))
    if prior.region != region:
        return make(Action.REPLACE, [f"region changes from {prior.region} to {region} (forces replacement)"],
                    _created_cloud(desired))
    if found is None:
        return make(Action.CREATE, ["recorded in state but gone from AWS (deleted outside this stack)"],
                    _created_cloud(desired))
    protected = state.protect(desired.request)
    replacing = replacement_reasons(schema.schema, prior.applied, protected)
    if replacing:
        forced = [_forced(reason.split(" changes ")[0], prior.applied, desired.request) for reason in replacing]
        return make(Action.REPLACE, list(replacing), forced)
    properties = []
    for path, before, after in differences(schema, desired.request, prior.applied, found.properties):
        if _holds_secret(after) or _holds_secret(before):
            properties.append(PropertyChange(format_path(path), None, None, sensitive=True))
        else:
            properties.append(PropertyChange(format_path(path), before, _known(after)))
    reasons = []
    if properties:
        reasons.append("properties differ from AWS: " + ", ".join(p.path for p in properties))
    write_only = write_only_changes(schema, protected, prior.applied)
    if write_only:
        for path in write_only:
            properties.append(PropertyChange(format_path(path), None, None, sensitive=True))
        reasons.append("write-only properties changed: " + ", ".join(format_path(p) for p in write_only))
    if desired.has_unknowns and not reasons:
        reasons.append("some values are known only after apply")
    if reasons:
        return make(Action.UPDATE, reasons, properties)
    return make(Action.NOOP, ["matches AWS"])


def _forced(path: str, applied: Mapping[str, Any], request: Mapping[str, Any]) -> PropertyChange:
    """A create-only property's change (``Budget.BudgetName``; ``Rules[*].Id`` is shown without values)."""
    before: Any = applied
    after: Any = request
    for part in path.split("."):
        if "[" in part:
            return PropertyChange(path, None, None, sensitive=True, forces_replacement=True)
        before = before.get(part) if isinstance(before, Mapping) else None
        after = after.get(part) if isinstance(after, Mapping) else None
    hidden = _holds_secret(after) or (isinstance(before, str) and before.startswith("(sensitive) "))
    if hidden:
        return PropertyChange(path, None, None, sensitive=True, forces_replacement=True)
    return PropertyChange(path, before, _known(after), forces_replacement=True)


def _created_cloud(desired: Desired) -> list[PropertyChange]:
    flat: dict[KeyPath, Any] = {}
    _flatten(desired.request, (), flat)
    return [PropertyChange(format_path(path), None, None, sensitive=True) if _holds_secret(value)
            else PropertyChange(format_path(path), None, _known(value)) for path, value in flat.items()]


def _show(value: Any) -> str:
    return KNOWN_AFTER_APPLY if isinstance(value, Unknown) else str(value)


def _create_only_changes(desired: Desired, prior: ResourceState, found: Live, state: StackState
                         ) -> list[PropertyChange]:
    changes = []
    for member, returned in create_only_members():
        before = (found.properties if returned else prior.applied).get(member)
        after = desired.request.get(member)
        if not state.matches(before, after):
            changes.append(PropertyChange(str(cfn_name(member)), before, after, forces_replacement=True))
    return changes


def _comparable(request: Mapping[str, Any]) -> dict[KeyPath, Any]:
    """What AWS returns of a request, flattened: connection mode and connector properties."""
    flat: dict[KeyPath, Any] = {}
    if "connectionMode" in request:
        flat[("connectionMode",)] = request["connectionMode"]
    _flatten((request.get(CONFIG) or {}).get(PROPERTIES) or {}, (CONFIG, PROPERTIES), flat)
    return flat


def live_matches(desired: Desired, found: Live) -> bool:
    """Whether AWS holds every value of ``desired`` that it returns."""
    current = _comparable(found.properties)
    return all(current.get(path) == value for path, value in _comparable(desired.request).items())


def _property_changes(desired: Desired, prior: ResourceState, found: Live) -> list[PropertyChange]:
    """Differences in what AWS returns: connection mode and connector properties.

    A member the manifest leaves unset is compared only if the last apply set it, so
    defaults AWS fills in do not show up as changes forever.
    """
    wanted, current, applied = _comparable(desired.request), _comparable(found.properties), _comparable(prior.applied)
    changes = []
    for path in sorted(set(wanted) | (set(applied) & set(current)), key=str):
        after, before = wanted.get(path), current.get(path)
        if after != before:
            shown = _cfn(path)
            if after in SECRETS or before in SECRETS:  # a value computed from a secret: neither side is shown
                changes.append(PropertyChange(shown, None, None, sensitive=True))
                continue
            changes.append(PropertyChange(shown, before, KNOWN_AFTER_APPLY if isinstance(after, Unknown) else after))
    return changes


def created_properties(desired: Desired) -> list[PropertyChange]:
    """Every property a create sends, one leaf at a time in CloudFormation spelling (as Terraform shows a new
    resource): credentials, and values computed from a secret, only as sensitive."""
    flat: dict[KeyPath, Any] = {}
    _flatten(desired.request, (), flat)
    changes = []
    for path, value in flat.items():
        if path[:2] == (CONFIG, CREDENTIALS) or _holds_secret(value):
            changes.append(PropertyChange(_cfn(path), None, None, sensitive=True))
        else:
            changes.append(PropertyChange(_cfn(path), None, _known(value)))
    return changes


def _cfn(path: KeyPath) -> str:
    return format_path(cfn_path(path, input_shape("CreateConnectorProfile")))


def _known(value: Any) -> Any:
    if isinstance(value, Unknown):
        return KNOWN_AFTER_APPLY
    if isinstance(value, list):
        return [_known(item) for item in value]
    if isinstance(value, dict):
        return {key: _known(item) for key, item in value.items()}
    return value


def _holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_secret(item) for item in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # a number rendered from a secret is registered as its text
    return isinstance(value, str) and value in SECRETS


def _flatten(value: Any, path: KeyPath, into: dict[KeyPath, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, (*path, key), into)
    else:
        into[path] = value


def _from_live(desired: Desired, found: Live, name: str, region: str) -> ResourceState:
    """A state record for a profile that exists but was never recorded: what AWS says, credentials unknown."""
    return ResourceState(name=desired.name, type=desired.type, identifier=name, region=region, arn=found.arn,
                         applied=dict(found.properties), credentials_fingerprint=None, exports=dict(found.exports))
