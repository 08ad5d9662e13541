"""The change rules of a Cloud Control resource, from its type's schema: create-only properties replace it,
read-only ones never count, write-only ones compare with what was last applied (a read never returns them), and
a resource whose identifier AWS assigns is found by the identifier state recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deployer.changes import (
    Action,
    Change,
    LiveIndex,
    PropertyChange,
    flatten,
    holds_secret,
    known,
)
from deployer.invocation import Invocation
from deployer.paths import KeyPath, format_path
from deployer.providers.cloudcontrol.replacement import replacement_reasons
from deployer.providers.cloudcontrol.resource import differences, write_only_changes
from deployer.state import ResourceState, StackState
from deployer.validate import Desired


def cloud_change(desired: Desired, state: StackState, live: LiveIndex, adopt: bool,
                  leaving_owners: Mapping[tuple[str, str, str], str], invocation: Invocation) -> Change:
    """The change for a resource of a Cloud Control type, by its schema's rules: create-only changes replace,
    read-only ones never count, write-only ones are compared with what was last applied (a read never returns
    them). A resource whose identifier AWS assigns is found by the identifier state recorded."""
    schema = desired.schema
    assert schema is not None
    prior = state.resources.get(desired.name)
    region = desired.region or ""
    given = desired.identifier if isinstance(desired.identifier, str) else None
    lookup = prior.identifier if prior is not None else given
    found = live.get((desired.type, region, lookup)) if lookup else None
    adopting = prior is None and found is not None and adopt
    if adopting:
        assert found is not None and given is not None
        prior = ResourceState(name=desired.name, type=desired.type, identifier=given, region=region, arn=found.arn,
                              applied=dict(found.properties), credentials_fingerprint=None,
                              exports=dict(found.exports))

    def make(action: Action, reasons: list[str], properties: list[PropertyChange] | None = None,
             blocker: str = "") -> Change:
        if adopting:
            reasons = [f"adopts the existing {desired.type} '{given}' (--adopt)", *reasons]
        identifier = prior.identifier if prior is not None and action is not Action.REPLACE else given
        return Change(desired.name, desired.type, action, tuple(reasons), identifier, region,
                      tuple(properties or ()), desired, prior, found, blocker)

    if prior is None:
        owner = leaving_owners.get((desired.type, region, given)) if given else None
        if owner is not None:
            return make(Action.CREATE, [f"the {desired.type} of '{owner}', which leaves the stack, is deleted "
                                        f"first; to rename the resource instead, add moved: [{{from: {owner}, to: "
                                        f"{desired.name}}}] to the manifest or run "
                                        f"{invocation.command('state mv', owner, desired.name)}"],
                        _created_cloud(desired))
        if found is not None:
            why = f"a {desired.type} '{given}' exists in AWS but not in this stack's state"
            fix = (f"import it with {invocation.command('state import', desired.name, str(given), renders=True)}, "
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
        if holds_secret(after) or holds_secret(before):
            properties.append(PropertyChange(format_path(path), None, None, sensitive=True))
        else:
            properties.append(PropertyChange(format_path(path), before, known(after)))
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
    hidden = holds_secret(after) or (isinstance(before, str) and before.startswith("(sensitive) "))
    if hidden:
        return PropertyChange(path, None, None, sensitive=True, forces_replacement=True)
    return PropertyChange(path, before, known(after), forces_replacement=True)


def _created_cloud(desired: Desired) -> list[PropertyChange]:
    flat: dict[KeyPath, Any] = {}
    flatten(desired.request, (), flat)
    return [PropertyChange(format_path(path), None, None, sensitive=True) if holds_secret(value)
            else PropertyChange(format_path(path), None, known(value)) for path, value in flat.items()]
