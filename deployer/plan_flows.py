"""The change rules of an AppFlow flow: FlowName, KMSArn and the destination's object replace it; its
configuration, tasks and tags compare with what DescribeFlow returns; FlowStatus starts or stops a scheduled or
event flow, never an on-demand one (starting that would move data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deployer.apimodel import input_shape
from deployer.changes import (
    Action,
    Change,
    LiveIndex,
    PropertyChange,
    flatten,
    known,
    show,
)
from deployer.convert import cfn_path
from deployer.flowconvert import CREATE_OPERATION as FLOW_CREATE
from deployer.flowconvert import destination_objects
from deployer.invocation import Invocation
from deployer.kinds import FLOW
from deployer.paths import KeyPath, format_path
from deployer.providers.cloudcontrol.resource import leaf_differences
from deployer.state import ResourceState, StackState
from deployer.validate import Desired


def flow_change(desired: Desired, state: StackState, live: LiveIndex, adopt: bool,
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
        moved = (f"FlowName changes from '{prior.identifier}' to '{show(desired.identifier)}'"
                 if prior.identifier != desired.identifier else f"region changes from {prior.region} to {region}")
        return make(Action.REPLACE, [f"{moved} (forces replacement)"], created)
    if found is None:
        return make(Action.CREATE, ["recorded in state but gone from AWS (deleted outside this stack)"], created)
    kms_before, kms_after = prior.applied.get("kmsArn"), desired.request.get("kmsArn")
    if not state.matches(kms_before, kms_after):
        return make(Action.REPLACE, ["KMSArn changes (forces replacement)"],
                    [PropertyChange("KMSArn", kms_before, known(kms_after), forces_replacement=True)])
    objects_before, objects_after = destination_objects(found.properties), destination_objects(desired.request)
    if objects_before != objects_after:
        return make(Action.REPLACE, ["the destination's Object changes (forces replacement: AppFlow cannot update "
                                     "it in place)"],
                    [PropertyChange("DestinationFlowConfigList[*].DestinationConnectorProperties.*.Object",
                                    objects_before, known(objects_after), forces_replacement=True)])
    wanted = {k: v for k, v in desired.request.items() if k != "kmsArn"}
    properties = [PropertyChange(flow_path(path), before, known(after))
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
    flatten(desired.properties, (), flat)
    return [PropertyChange(format_path(path), None, known(value)) for path, value in flat.items()]
