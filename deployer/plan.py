"""The plan: what apply would do to each resource, and why. A value; nothing here calls AWS.

Each ``Change`` carries an ``Action`` and its reasons. Properties AWS returns are
compared with the live values (so a change made outside the tool shows up);
write-only ones (credentials, the KMS key) with the last applied values and
fingerprints in state. Changes to properties the update API cannot change force a
replacement (delete, then create). The values are in ``deployer.changes``; the rules of a
Cloud Control resource in ``plan_cloud``, of a flow in ``plan_flows``; the connector
profile's, and the plan as a whole, here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from botocore.model import StructureShape

from deployer.apimodel import input_shape, shape
from deployer.changes import (
    KNOWN_AFTER_APPLY,
    Action,
    Change,
    LiveIndex,
    Plan,
    PlanError,
    PropertyChange,
    flatten,
    holds_secret,
    known,
    show,
)
from deployer.connectors import CONFIG, CREDENTIALS, PROPERTIES
from deployer.convert import cfn_name, cfn_path
from deployer.graph import dependency_order
from deployer.invocation import Invocation
from deployer.kinds import FLOW
from deployer.paths import KeyPath, format_path
from deployer.plan_cloud import cloud_change
from deployer.plan_flows import flow_change, flow_path, flow_status_change
from deployer.providers import Live
from deployer.render import StackContext, Unknown
from deployer.secrets import SECRETS
from deployer.state import ResourceState, StackState
from deployer.validate import Desired, DesiredStack

# The values are deployer.changes'; these names stay importable from here, where plans are built.
__all__ = ["KNOWN_AFTER_APPLY", "Action", "Change", "LiveIndex", "Plan", "PlanError", "PropertyChange", "build_plan",
           "flow_path", "flow_status_change", "live_matches"]


@functools.lru_cache(maxsize=1)
def create_only_members() -> tuple[tuple[str, bool], ...]:
    """Members a create sets and the update API cannot change (from the API model: in the create request, not
    in the update request), each with whether AWS returns it (else state keeps the last applied value)."""
    create, update = input_shape("CreateConnectorProfile").members, input_shape("UpdateConnectorProfile").members
    described = shape("ConnectorProfile")
    assert isinstance(described, StructureShape)
    return tuple((member, member in described.members) for member in create if member not in update)


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
        moved = (f"ConnectorProfileName changes from '{prior.identifier}' to '{show(identifier)}'"
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
        return cloud_change
    return flow_change if desired.type == FLOW else _change


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
    flatten((request.get(CONFIG) or {}).get(PROPERTIES) or {}, (CONFIG, PROPERTIES), flat)
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
    flatten(desired.request, (), flat)
    changes = []
    for path, value in flat.items():
        if path[:2] == (CONFIG, CREDENTIALS) or holds_secret(value):
            changes.append(PropertyChange(_cfn(path), None, None, sensitive=True))
        else:
            changes.append(PropertyChange(_cfn(path), None, known(value)))
    return changes


def _cfn(path: KeyPath) -> str:
    return format_path(cfn_path(path, input_shape("CreateConnectorProfile")))


def _from_live(desired: Desired, found: Live, name: str, region: str) -> ResourceState:
    """A state record for a profile that exists but was never recorded: what AWS says, credentials unknown."""
    return ResourceState(name=desired.name, type=desired.type, identifier=name, region=region, arn=found.arn,
                         applied=dict(found.properties), credentials_fingerprint=None, exports=dict(found.exports))
