"""The AppFlow flow operations, as the emulator performs them, and the rules AppFlow enforces across resources.

``FlowOperations.answer`` takes an operation and a request body the API model already accepted
(``service.request_violations``) and returns the response body or raises ``ApiError``; ``service.py``
routes to it, inside one store transaction, with the same knobs and clientToken memory as profiles.

Status model. A new on-demand flow is ``Active``; a new scheduled or event flow is ``Draft``, not yet
active (CloudFormation's AWS::AppFlow::Flow ``FlowStatus``: "The default status for on-demand flows is
Active. The default status for scheduled and event-triggered flows is Draft"). ``StartFlow`` runs an
on-demand flow at once (it stays ``Active``) and activates a scheduled or event flow (``Draft`` or
``Suspended`` -> ``Active``); ``StopFlow`` deactivates one (``Active`` -> ``Suspended``) and answers an
on-demand flow with ``UnsupportedOperationException`` (both from the operations' documentation in
botocore's model). Starting an active scheduled flow, or stopping one that is not active, is a
``ConflictException``: the emulator's choice, stricter than knowing what AWS does, so that a deployer
that calls them needlessly is caught. Every start of an on-demand flow leaves an execution record,
``InProgress`` for ``Knobs.run_duration_s`` and then ``Successful``, so that a test can prove a deploy
ran, or never ran, a flow. An update keeps the status unless it moves the flow between on-demand and
scheduled/event triggers; then the flow takes the new trigger's starting status.

Rules across resources, on create and update: a flow config's ``connectorProfileName`` must name a
profile of the account and region (``ResourceNotFoundException`` "Connector Profile with name ... does
not exist.", AWS's words) of the same ``connectorType`` (``ValidationException``); its connector
properties must be the block of its ``connectorType``; an ``S3`` source or destination's bucket must be
an ``AWS::S3::Bucket`` of Cloud Control's store in the same region (``ValidationException``; AppFlow's
S3 guide: "Your S3 buckets must be in the same AWS Region as your ... flow"), unless
``Knobs.check_buckets`` is off for buckets kept elsewhere; and there is one destination (CreateFlow's
documentation: "Amazon AppFlow does not currently support flows to multiple destinations at once").
A flow's name is unique (``ConflictException``). A profile a flow uses is not deleted without
``forceDelete`` (``service.delete_profile``); a flow with a run in progress is not deleted without it.

What UpdateFlow cannot change: ``flowName`` (the key), ``kmsArn`` and ``tags`` are not members of
UpdateFlowRequest, so the model refuses them as unknown members (the CloudFormation schema agrees:
FlowName and KMSArn are create-only; tags change through TagResource). Nothing else is refused:
the schema updates SourceFlowConfig, DestinationFlowConfigList, TriggerConfig and Tasks in place, except
the object a destination writes to: AWS answers a change of it with ValidationException "Update Flow
request failed due to:[Destination object for the destination connector can not be updated]"
(terraform-provider-aws issue 42482).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import replace
from typing import Any

from deployer.apimodel import shape
from deployer.emulator.apierror import ApiError
from deployer.emulator.flowstore import FlowStore, StoredFlow, StoredRun
from deployer.emulator.knobs import Clock, Knobs
from deployer.emulator.resources import ResourceStore, decode_next_token, encode_next_token
from deployer.emulator.store import Store
from deployer.flowconvert import destination_objects

DEFAULT_MAX_RESULTS = 20  # the model: "The default for maxResults is 20 (for all paginated API operations)"
BUCKET_TYPE = "AWS::S3::Bucket"
ON_DEMAND = "OnDemand"

OPERATIONS = {
    "/create-flow": "CreateFlow",
    "/update-flow": "UpdateFlow",
    "/delete-flow": "DeleteFlow",
    "/describe-flow": "DescribeFlow",
    "/list-flows": "ListFlows",
    "/start-flow": "StartFlow",
    "/stop-flow": "StopFlow",
    "/describe-flow-execution-records": "DescribeFlowExecutionRecords",
}
TAG_OPERATIONS = {"POST": "TagResource", "DELETE": "UntagResource", "GET": "ListTagsForResource"}  # /tags/{arn}


class FlowStatus(enum.Enum):
    ACTIVE = "Active"
    DRAFT = "Draft"
    SUSPENDED = "Suspended"


class FlowOperations:
    def __init__(self, store: Store, knobs: Knobs, clock: Clock) -> None:
        self._flows = FlowStore(store)
        self._resources = ResourceStore(store)  # for the S3 buckets Cloud Control holds
        self._store = store
        self._knobs = knobs
        self._clock = clock

    def answer(self, operation: str, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        """Inside ``Store.transaction()``."""
        handler = {
            "CreateFlow": self._create,
            "UpdateFlow": self._update,
            "DeleteFlow": self._delete,
            "DescribeFlow": self._describe,
            "ListFlows": self._list,
            "StartFlow": self._start,
            "StopFlow": self._stop,
            "DescribeFlowExecutionRecords": self._records,
            "TagResource": self._tag,
            "UntagResource": self._untag,
            "ListTagsForResource": self._list_tags,
        }[operation]
        return handler(account, region, body)

    def _create(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body["flowName"]
        if self._flows.get(account, region, name) is not None:
            raise ApiError("ConflictException", f"Flow with name '{name}' already exists.")
        self._check_references(account, region, body)
        now = self._clock()
        flow = StoredFlow(
            account=account, region=region, name=name, status=_starting_status(body).value,
            definition=_definition(body), kms_arn=body.get("kmsArn"), tags=body.get("tags", {}),
            created_at=now, updated_at=now,
        )
        self._flows.put(flow)
        return {"flowArn": flow_arn(flow), "flowStatus": flow.status}

    def _update(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        current = self._get(account, region, body["flowName"])
        self._check_references(account, region, body)
        if destination_objects(current.definition) != destination_objects(body):
            raise ApiError("ValidationException", "Update Flow request failed due to:[Destination object for the "
                                                  "destination connector can not be updated]")
        status = current.status
        if (current.trigger_type == ON_DEMAND) != (body["triggerConfig"]["triggerType"] == ON_DEMAND):
            status = _starting_status(body).value
        updated = StoredFlow(
            account=account, region=region, name=current.name, status=status, definition=_definition(body),
            kms_arn=current.kms_arn, tags=current.tags, created_at=current.created_at, updated_at=self._clock(),
        )
        self._flows.put(updated)
        return {"flowStatus": updated.status}

    def _delete(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        flow = self._get(account, region, body["flowName"])
        running = [run for run in self._flows.runs(account, region, flow.name) if run.done_at > self._clock()]
        if running and not body.get("forceDelete"):
            raise ApiError(
                "ConflictException",
                f"Flow '{flow.name}' has a run in progress ({running[0].execution_id}). "
                "Wait for it to end, or pass forceDelete.",
            )
        self._flows.delete(account, region, flow.name)
        return {}

    def _describe(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        flow = self._get(account, region, body["flowName"])
        detail = {
            "flowArn": flow_arn(flow),
            "flowName": flow.name,
            "flowStatus": flow.status,
            **flow.definition,
            "createdAt": flow.created_at,
            "lastUpdatedAt": flow.updated_at,
            "createdBy": _caller(account),
            "lastUpdatedBy": _caller(account),
            "tags": flow.tags,
        }
        if flow.kms_arn:
            detail["kmsArn"] = flow.kms_arn
        last_run = self._last_run(flow)
        if last_run:
            detail["lastRunExecutionDetails"] = last_run
        return detail

    def _list(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        page_size = body.get("maxResults", DEFAULT_MAX_RESULTS)
        after = _cursor(body.get("nextToken"), ["ListFlows", account, region])
        flows = self._flows.ordered(account, region, after)
        page = flows[:page_size]
        response: dict[str, Any] = {"flows": [self._definition_of(flow) for flow in page]}
        if len(flows) > page_size:
            response["nextToken"] = encode_next_token(page[-1].name, ["ListFlows", account, region])
        return response

    def _definition_of(self, flow: StoredFlow) -> dict[str, Any]:
        """A flow as ListFlows' FlowDefinition shape has it."""
        source, destination = flow.definition["sourceFlowConfig"], flow.definition["destinationFlowConfigList"][0]
        listed: dict[str, Any] = {
            "flowArn": flow_arn(flow),
            "flowName": flow.name,
            "flowStatus": flow.status,
            "sourceConnectorType": source["connectorType"],
            "destinationConnectorType": destination["connectorType"],
            "triggerType": flow.trigger_type,
            "createdAt": flow.created_at,
            "lastUpdatedAt": flow.updated_at,
            "createdBy": _caller(account=flow.account),
            "lastUpdatedBy": _caller(account=flow.account),
            "tags": flow.tags,
        }
        if "description" in flow.definition:
            listed["description"] = flow.definition["description"]
        last_run = self._last_run(flow)
        if last_run:
            listed["lastRunExecutionDetails"] = last_run
        return listed

    def _start(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        flow = self._get(account, region, body["flowName"])
        if flow.trigger_type == ON_DEMAND:
            now = self._clock()
            run = StoredRun(flow.name, str(uuid.uuid4()), now, now + self._knobs.run_duration_s)
            self._flows.add_run(account, region, run)
            return {"flowArn": flow_arn(flow), "flowStatus": flow.status, "executionId": run.execution_id}
        if flow.status == FlowStatus.ACTIVE.value:
            raise ApiError("ConflictException", f"Flow '{flow.name}' is already active.")
        active = self._set_status(flow, FlowStatus.ACTIVE)
        return {"flowArn": flow_arn(active), "flowStatus": active.status}

    def _stop(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        flow = self._get(account, region, body["flowName"])
        if flow.trigger_type == ON_DEMAND:
            raise ApiError(
                "UnsupportedOperationException",
                f"Flow '{flow.name}' runs on demand: only scheduled and event-triggered flows can be stopped.",
            )
        if flow.status != FlowStatus.ACTIVE.value:
            raise ApiError("ConflictException", f"Flow '{flow.name}' is not active (status {flow.status}).")
        suspended = self._set_status(flow, FlowStatus.SUSPENDED)
        return {"flowArn": flow_arn(suspended), "flowStatus": suspended.status}

    def _records(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        flow = self._get(account, region, body["flowName"])
        page_size = body.get("maxResults", DEFAULT_MAX_RESULTS)
        scope = ["DescribeFlowExecutionRecords", account, region, flow.name]
        after = _cursor(body.get("nextToken"), scope)
        runs = self._flows.runs(account, region, flow.name, int(after) if after is not None else None)
        page = runs[:page_size]
        response: dict[str, Any] = {"flowExecutions": [self._record(run) for run in page]}
        if len(runs) > page_size:
            response["nextToken"] = encode_next_token(str(page[-1].seq), scope)
        return response

    def _record(self, run: StoredRun) -> dict[str, Any]:
        done = self._clock() >= run.done_at
        record: dict[str, Any] = {
            "executionId": run.execution_id,
            "executionStatus": "Successful" if done else "InProgress",
            "startedAt": run.started_at,
            "lastUpdatedAt": run.done_at if done else run.started_at,
        }
        if done:
            record["executionResult"] = {"bytesProcessed": 0, "bytesWritten": 0, "recordsProcessed": 0}
        return record

    def _last_run(self, flow: StoredFlow) -> dict[str, Any] | None:
        runs = self._flows.runs(flow.account, flow.region, flow.name)
        if not runs:
            return None
        record = self._record(runs[0])
        return {"mostRecentExecutionStatus": record["executionStatus"],
                "mostRecentExecutionTime": record["lastUpdatedAt"]}

    def _tag(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        flow = self._tagged(account, region, body["resourceArn"])
        self._flows.put(_with_tags(flow, {**flow.tags, **body["tags"]}))
        return {}

    def _untag(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        flow = self._tagged(account, region, body["resourceArn"])
        self._flows.put(_with_tags(flow, {k: v for k, v in flow.tags.items() if k not in body["tagKeys"]}))
        return {}

    def _list_tags(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"tags": self._tagged(account, region, body["resourceArn"]).tags}

    def _tagged(self, account: str, region: str, arn: str) -> StoredFlow:
        """The flow an ARN names; only flows are tagged here (profiles keep no tags in this emulator)."""
        prefix = f"arn:aws:appflow:{region}:{account}:flow/"
        flow = self._flows.get(account, region, arn[len(prefix):]) if arn.startswith(prefix) else None
        if flow is None:
            raise ApiError("ResourceNotFoundException", f"Resource '{arn}' does not exist.")
        return flow

    def _get(self, account: str, region: str, name: str) -> StoredFlow:
        flow = self._flows.get(account, region, name)
        if flow is None:
            raise ApiError("ResourceNotFoundException", f"Flow '{name}' does not exist.")
        return flow

    def _set_status(self, flow: StoredFlow, status: FlowStatus) -> StoredFlow:
        changed = replace(flow, status=status.value, updated_at=self._clock())
        self._flows.put(changed)
        return changed

    def _check_references(self, account: str, region: str, body: dict[str, Any]) -> None:
        """AppFlow's rules across resources (the module docstring), the first broken one raised."""
        destinations = body["destinationFlowConfigList"]
        if len(destinations) != 1:
            raise ApiError(
                "ValidationException",
                f"'destinationFlowConfigList' has {len(destinations)} items: a flow has exactly one destination.",
            )
        configs = [("sourceFlowConfig", "sourceConnectorProperties", body["sourceFlowConfig"]),
                   ("destinationFlowConfigList[0]", "destinationConnectorProperties", destinations[0])]
        for path, properties_member, config in configs:
            connector_type = config["connectorType"]
            self._check_properties(path, properties_member, config, connector_type)
            profile_name = config.get("connectorProfileName")
            if profile_name is not None:
                self._check_profile(account, region, path, profile_name, connector_type)
            if connector_type == "S3" and self._knobs.check_buckets:
                bucket = config[properties_member]["S3"]["bucketName"]
                if self._resources.get(account, region, BUCKET_TYPE, bucket) is None:
                    raise ApiError(
                        "ValidationException",
                        f"'{path}.{properties_member}.S3.bucketName': bucket '{bucket}' does not exist "
                        f"in {region}. Create the bucket first, in the flow's region.",
                    )

    @staticmethod
    def _check_properties(path: str, member: str, config: dict[str, Any], connector_type: str) -> None:
        allowed = list(shape(member[0].upper() + member[1:]).members)  # type: ignore[attr-defined]
        key = next((name for name in allowed if name.lower() == connector_type.lower()), None)
        given = sorted(config[member])
        if key is None:
            role = "source" if member.startswith("source") else "destination"
            raise ApiError("ValidationException", f"'{path}.connectorType': {connector_type} is not supported "
                                                  f"as a {role}.")
        if given != [key]:
            raise ApiError(
                "ValidationException",
                f"'{path}.{member}' has {', '.join(given) or 'no block'}: a {connector_type} flow config "
                f"takes exactly the '{key}' block.",
            )

    def _check_profile(self, account: str, region: str, path: str, name: str, connector_type: str) -> None:
        profile = self._store.get(account, region, name)
        if profile is None:
            raise ApiError("ResourceNotFoundException", f"Connector Profile with name {name} does not exist.")
        if profile.connector_type != connector_type:
            raise ApiError(
                "ValidationException",
                f"'{path}.connectorProfileName': connector profile '{name}' is for {profile.connector_type}, "
                f"not {connector_type}. Name a {connector_type} profile, or change the connectorType.",
            )


def flow_arn(flow: StoredFlow) -> str:
    return f"arn:aws:appflow:{flow.region}:{flow.account}:flow/{flow.name}"


def _starting_status(body: dict[str, Any]) -> FlowStatus:
    return FlowStatus.ACTIVE if body["triggerConfig"]["triggerType"] == ON_DEMAND else FlowStatus.DRAFT


def _definition(body: dict[str, Any]) -> dict[str, Any]:
    """What DescribeFlow echoes of a create or update request; the rest has columns or is not kept."""
    return {key: value for key, value in body.items() if key not in ("flowName", "kmsArn", "tags", "clientToken")}


def _with_tags(flow: StoredFlow, tags: dict[str, str]) -> StoredFlow:
    return replace(flow, tags=tags)


def _caller(account: str) -> str:
    return f"arn:aws:iam::{account}:root"  # the emulator does not know the caller: the account stands for it


def _cursor(token: str | None, scope: list[Any]) -> str | None:
    try:
        return decode_next_token(token, scope)
    except ValueError:
        raise ApiError("ValidationException", "Invalid nextToken: pass the nextToken of an earlier response to "
                                              "the same operation, or start again without one.") from None
