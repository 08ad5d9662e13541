"""AppFlow flows in the emulator, through real boto3 clients over HTTP: the operations, AppFlow's rules across
profiles, buckets and flows, the status of scheduled and on-demand flows, and their runs."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from deployer.emulator import Emulator, Knobs
from tests.support import FakeClock, appflow_client, cloudcontrol_client, full_create_request, signed_call

BUCKET = "flow-bucket"
ARN_PREFIX = "arn:aws:appflow:us-east-1:123456789012:flow/"
SCHEDULED = {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {"scheduleExpression": "rate(1hours)"}}}
EVENT = {"triggerType": "Event"}
ON_DEMAND = {"triggerType": "OnDemand"}


def flow_request(name: str = "accounts", trigger: dict[str, Any] = ON_DEMAND, bucket: str = BUCKET,
                 **overrides: Any) -> dict[str, Any]:
    """A CreateFlow request: Salesforce (profile 'crm') to S3."""
    request: dict[str, Any] = {
        "flowName": name,
        "triggerConfig": trigger,
        "sourceFlowConfig": {
            "connectorType": "Salesforce",
            "connectorProfileName": "crm",
            "sourceConnectorProperties": {"Salesforce": {"object": "Account"}},
        },
        "destinationFlowConfigList": [{
            "connectorType": "S3",
            "destinationConnectorProperties": {"S3": {"bucketName": bucket, "bucketPrefix": "accounts"}},
        }],
        "tasks": [{"sourceFields": ["Id"], "connectorOperator": {"Salesforce": "PROJECTION"}, "taskType": "Filter"}],
    }
    request.update(overrides)
    return request


def update_request(request: dict[str, Any]) -> dict[str, Any]:
    """The UpdateFlow request that says the same as a CreateFlow request."""
    return {key: value for key, value in request.items() if key not in ("kmsArn", "tags")}


def make_bucket(endpoint: str, clock: FakeClock, name: str = BUCKET, region: str = "us-east-1") -> None:
    cc = cloudcontrol_client(endpoint, region)
    event = cc.create_resource(TypeName="AWS::S3::Bucket", DesiredState=json.dumps({"BucketName": name}))
    clock.advance(3600)
    status = cc.get_resource_request_status(RequestToken=event["ProgressEvent"]["RequestToken"])["ProgressEvent"]
    assert status["OperationStatus"] == "SUCCESS"


def make_profile(appflow: Any, name: str = "crm", connector_type: str = "Salesforce") -> None:
    appflow.create_connector_profile(**full_create_request(connector_type, name))


@pytest.fixture
def world(emulator: Emulator, appflow: Any, clock: FakeClock) -> Any:
    """An AppFlow client for an emulator that holds the Salesforce profile 'crm' and the bucket BUCKET."""
    make_profile(appflow)
    make_bucket(emulator.endpoint, clock)
    return appflow


def code_and_message(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return str(error.value.response["Error"]["Code"]), str(error.value.response["Error"]["Message"])


def at(clock: FakeClock) -> datetime:
    return datetime.fromtimestamp(clock(), tz=timezone.utc)


def test_create_then_describe_answers_what_was_asked(world: Any, clock: FakeClock) -> None:
    request = flow_request(description="Accounts to S3", tags={"team": "crm"})
    created = world.create_flow(**request)
    assert created["flowArn"] == ARN_PREFIX + "accounts"
    assert created["flowStatus"] == "Active"

    described = world.describe_flow(flowName="accounts")
    assert described["flowArn"] == created["flowArn"]
    assert described["flowStatus"] == "Active"
    assert described["description"] == "Accounts to S3"
    for member in ("triggerConfig", "sourceFlowConfig", "destinationFlowConfigList", "tasks"):
        assert described[member] == request[member], member
    assert described["tags"] == {"team": "crm"}
    assert described["createdAt"] == described["lastUpdatedAt"] == at(clock)
    assert described["createdBy"] == "arn:aws:iam::123456789012:root"
    assert "kmsArn" not in described and "lastRunExecutionDetails" not in described


def test_list_flows_pages_by_next_token(world: Any) -> None:
    for name in ("fe", "fb", "fd", "fa", "fc"):
        world.create_flow(**flow_request(name))
    pages, token = [], None
    while True:
        page = world.list_flows(maxResults=2, **({"nextToken": token} if token else {}))
        pages.append([flow["flowName"] for flow in page["flows"]])
        token = page.get("nextToken")
        if token is None:
            break
    assert pages == [["fa", "fb"], ["fc", "fd"], ["fe"]]
    [listed] = world.list_flows(maxResults=1)["flows"]
    assert listed["flowArn"] == ARN_PREFIX + "fa"
    assert (listed["sourceConnectorType"], listed["destinationConnectorType"]) == ("Salesforce", "S3")
    assert (listed["triggerType"], listed["flowStatus"]) == ("OnDemand", "Active")
    assert len(world.list_flows()["flows"]) == 5


def test_a_next_token_of_another_listing_is_refused(world: Any) -> None:
    world.create_flow(**flow_request("fa"))
    world.create_flow(**flow_request("fb"))
    world.start_flow(flowName="fa")
    world.start_flow(flowName="fa")
    records_token = world.describe_flow_execution_records(flowName="fa", maxResults=1)["nextToken"]
    with pytest.raises(ClientError) as error:
        world.list_flows(nextToken=records_token)
    assert code_and_message(error) == ("ValidationException", "Invalid nextToken: pass the nextToken of an earlier "
                                       "response to the same operation, or start again without one.")


def test_update_changes_the_flow_in_place(world: Any, clock: FakeClock) -> None:
    world.create_flow(**flow_request(tags={"team": "crm"}))
    created_at = at(clock)
    clock.advance(60)
    changed = update_request(flow_request(description="now with a prefix"))
    changed["destinationFlowConfigList"][0]["destinationConnectorProperties"]["S3"]["bucketPrefix"] = "v2"
    assert world.update_flow(**changed)["flowStatus"] == "Active"

    described = world.describe_flow(flowName="accounts")
    assert described["description"] == "now with a prefix"
    assert described["destinationFlowConfigList"] == changed["destinationFlowConfigList"]
    assert described["tags"] == {"team": "crm"}  # tags are not UpdateFlow's to change
    assert (described["createdAt"], described["lastUpdatedAt"]) == (created_at, at(clock))


@pytest.mark.parametrize(
    ("before", "after", "status"),
    [
        pytest.param(ON_DEMAND, SCHEDULED, "Draft", id="on-demand-to-scheduled-is-a-draft"),
        pytest.param(SCHEDULED, ON_DEMAND, "Active", id="scheduled-to-on-demand-is-active"),
        pytest.param(SCHEDULED, EVENT, "Active", id="active-scheduled-to-event-stays-active"),
    ],
)
def test_update_of_the_trigger_sets_the_status(world: Any, before: dict[str, Any], after: dict[str, Any],
                                               status: str) -> None:
    world.create_flow(**flow_request(trigger=before))
    if before is not ON_DEMAND:
        world.start_flow(flowName="accounts")
    assert world.update_flow(**update_request(flow_request(trigger=after)))["flowStatus"] == status
    assert world.describe_flow(flowName="accounts")["flowStatus"] == status


def test_update_refuses_what_only_create_takes(world: Any, emulator: Emulator) -> None:
    # boto3 refuses these before sending; another client could send them.
    world.create_flow(**flow_request())
    body = {**update_request(flow_request()), "kmsArn": "arn:aws:kms:us-east-1:123456789012:key/k", "tags": {}}
    status, headers, answer = signed_call(emulator.endpoint, "/update-flow", json.dumps(body))
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert answer["message"] == (
        "2 validation errors detected: 'kmsArn' unknown member (allowed: clientToken, description, "
        "destinationFlowConfigList, flowName, metadataCatalogConfig, sourceFlowConfig, tasks, triggerConfig); "
        "'tags' unknown member (did you mean 'tasks'?)"
    )


def test_delete_removes_the_flow_and_its_name(world: Any) -> None:
    world.create_flow(**flow_request())
    world.delete_flow(flowName="accounts")
    with pytest.raises(ClientError) as error:
        world.describe_flow(flowName="accounts")
    assert code_and_message(error) == ("ResourceNotFoundException", "Flow 'accounts' does not exist.")
    assert world.create_flow(**flow_request())["flowStatus"] == "Active"  # the name is free again


def _other_source_type(request: dict[str, Any]) -> None:
    request["sourceFlowConfig"] = {"connectorType": "Zendesk", "connectorProfileName": "crm",
                                   "sourceConnectorProperties": {"Zendesk": {"object": "tickets"}}}
    request["tasks"][0]["connectorOperator"] = {"Zendesk": "PROJECTION"}


REFUSALS: list[Any] = [
    pytest.param(
        lambda r: r["sourceFlowConfig"].update(connectorProfileName="nope"),
        "ResourceNotFoundException", "Connector Profile with name nope does not exist.",
        id="profile-does-not-exist",
    ),
    pytest.param(
        _other_source_type,
        "ValidationException",
        "'sourceFlowConfig.connectorProfileName': connector profile 'crm' is for Salesforce, not Zendesk. "
        "Name a Zendesk profile, or change the connectorType.",
        id="profile-of-another-connector-type",
    ),
    pytest.param(
        lambda r: r["destinationFlowConfigList"][0]["destinationConnectorProperties"]["S3"].update(
            bucketName="absent-bucket"),
        "ValidationException",
        "'destinationFlowConfigList[0].destinationConnectorProperties.S3.bucketName': bucket 'absent-bucket' "
        "does not exist in us-east-1. Create the bucket first, in the flow's region.",
        id="bucket-does-not-exist",
    ),
    pytest.param(
        lambda r: r["destinationFlowConfigList"][0]["destinationConnectorProperties"]["S3"].update(
            bucketName="west-bucket"),
        "ValidationException",
        "'destinationFlowConfigList[0].destinationConnectorProperties.S3.bucketName': bucket 'west-bucket' "
        "does not exist in us-east-1. Create the bucket first, in the flow's region.",
        id="bucket-in-another-region",
    ),
    pytest.param(
        lambda r: r["destinationFlowConfigList"].append(copy.deepcopy(r["destinationFlowConfigList"][0])),
        "ValidationException",
        "'destinationFlowConfigList' has 2 items: a flow has exactly one destination.",
        id="two-destinations",
    ),
    pytest.param(
        lambda r: r["sourceFlowConfig"].update(sourceConnectorProperties={"Zendesk": {"object": "tickets"}}),
        "ValidationException",
        "'sourceFlowConfig.sourceConnectorProperties' has Zendesk: a Salesforce flow config takes exactly the "
        "'Salesforce' block.",
        id="properties-of-another-connector",
    ),
    pytest.param(
        lambda r: r["destinationFlowConfigList"][0].update(connectorType="Amplitude"),
        "ValidationException",
        "'destinationFlowConfigList[0].connectorType': Amplitude is not supported as a destination.",
        id="connector-not-a-destination",
    ),
    pytest.param(
        lambda r: r.update(flowName="two words"),
        "ValidationException",
        "1 validation error detected: Value \"two words\" at 'flowName' does not match the required pattern "
        "(the whole value must match [a-zA-Z0-9][\\w!@#.-]+, where \\w is A-Z, a-z, 0-9 or _)",
        id="model-violation-names-the-member",
    ),
]


@pytest.mark.parametrize(("change", "code", "message"), REFUSALS)
def test_create_refuses_a_flow_aws_refuses(world: Any, emulator: Emulator, clock: FakeClock,
                                           change: Callable[[dict[str, Any]], None], code: str, message: str) -> None:
    make_bucket(emulator.endpoint, clock, "west-bucket", region="us-west-2")
    request = flow_request()
    change(request)
    with pytest.raises(ClientError) as error:
        world.create_flow(**request)
    assert code_and_message(error) == (code, message)
    assert world.list_flows()["flows"] == []


@pytest.mark.parametrize(("change", "code", "message"),
                         [p for p in REFUSALS if p.id != "model-violation-names-the-member"])
def test_update_refuses_what_create_refuses(world: Any, emulator: Emulator, clock: FakeClock,
                                            change: Callable[[dict[str, Any]], None], code: str, message: str) -> None:
    make_bucket(emulator.endpoint, clock, "west-bucket", region="us-west-2")
    world.create_flow(**flow_request())
    request = update_request(flow_request())
    change(request)
    with pytest.raises(ClientError) as error:
        world.update_flow(**request)
    assert code_and_message(error) == (code, message)
    assert world.describe_flow(flowName="accounts")["sourceFlowConfig"] == flow_request()["sourceFlowConfig"]


def test_a_flow_name_is_unique(world: Any) -> None:
    world.create_flow(**flow_request())
    with pytest.raises(ClientError) as error:
        world.create_flow(**flow_request(description="another"))
    assert code_and_message(error) == ("ConflictException", "Flow with name 'accounts' already exists.")


def test_the_bucket_rule_can_be_turned_off_for_buckets_kept_elsewhere(world: Any, emulator: Emulator) -> None:
    emulator.knobs.check_buckets = False
    assert world.create_flow(**flow_request(bucket="in-moto"))["flowStatus"] == "Active"


@pytest.mark.parametrize("trigger", [pytest.param(SCHEDULED, id="scheduled"), pytest.param(EVENT, id="event")])
def test_a_scheduled_or_event_flow_is_a_draft_until_started(world: Any, trigger: dict[str, Any]) -> None:
    arn = ARN_PREFIX + "accounts"
    assert world.create_flow(**flow_request(trigger=trigger))["flowStatus"] == "Draft"
    steps: list[tuple[str, Any]] = [
        ("start", {"flowArn": arn, "flowStatus": "Active"}),
        ("start", ("ConflictException", "Flow 'accounts' is already active.")),
        ("stop", {"flowArn": arn, "flowStatus": "Suspended"}),
        ("stop", ("ConflictException", "Flow 'accounts' is not active (status Suspended).")),
        ("start", {"flowArn": arn, "flowStatus": "Active"}),
    ]
    for verb, expected in steps:
        call = world.start_flow if verb == "start" else world.stop_flow
        if isinstance(expected, dict):
            answer = call(flowName="accounts")
            assert {k: answer.get(k) for k in ("flowArn", "flowStatus", "executionId")} == {**expected,
                                                                                              "executionId": None}
            assert world.describe_flow(flowName="accounts")["flowStatus"] == expected["flowStatus"]
        else:
            with pytest.raises(ClientError) as error:
                call(flowName="accounts")
            assert code_and_message(error) == expected
    assert world.describe_flow_execution_records(flowName="accounts")["flowExecutions"] == []


def test_starting_an_on_demand_flow_runs_it_once(world: Any, emulator: Emulator, clock: FakeClock) -> None:
    world.create_flow(**flow_request())
    assert emulator.stats.calls["StartFlow"] == 0  # a deploy that never starts a flow leaves no run
    assert world.describe_flow_execution_records(flowName="accounts")["flowExecutions"] == []

    started = world.start_flow(flowName="accounts")
    assert started["flowStatus"] == "Active" and started["executionId"]
    assert emulator.stats.calls["StartFlow"] == 1
    [record] = world.describe_flow_execution_records(flowName="accounts")["flowExecutions"]
    assert record["executionId"] == started["executionId"]
    assert record["executionStatus"] == "Successful"
    assert record["startedAt"] == at(clock)
    last = world.describe_flow(flowName="accounts")["lastRunExecutionDetails"]
    assert last["mostRecentExecutionStatus"] == "Successful"


def test_stopping_an_on_demand_flow_is_unsupported(world: Any) -> None:
    world.create_flow(**flow_request())
    with pytest.raises(ClientError) as error:
        world.stop_flow(flowName="accounts")
    assert code_and_message(error) == (
        "UnsupportedOperationException",
        "Flow 'accounts' runs on demand: only scheduled and event-triggered flows can be stopped.",
    )
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_execution_records_are_newest_first_and_paged(world: Any, clock: FakeClock) -> None:
    world.create_flow(**flow_request())
    ids = []
    for _ in range(3):
        ids.append(world.start_flow(flowName="accounts")["executionId"])
        clock.advance(60)
    first = world.describe_flow_execution_records(flowName="accounts", maxResults=2)
    second = world.describe_flow_execution_records(flowName="accounts", maxResults=2, nextToken=first["nextToken"])
    assert [r["executionId"] for r in first["flowExecutions"] + second["flowExecutions"]] == ids[::-1]
    assert "nextToken" not in second


def test_a_run_in_progress_blocks_delete_unless_forced(world: Any, emulator: Emulator, clock: FakeClock) -> None:
    emulator.knobs.run_duration_s = 300
    world.create_flow(**flow_request())
    execution = world.start_flow(flowName="accounts")["executionId"]
    [record] = world.describe_flow_execution_records(flowName="accounts")["flowExecutions"]
    assert record["executionStatus"] == "InProgress"
    with pytest.raises(ClientError) as error:
        world.delete_flow(flowName="accounts")
    assert code_and_message(error) == (
        "ConflictException",
        f"Flow 'accounts' has a run in progress ({execution}). Wait for it to end, or pass forceDelete.",
    )
    clock.advance(300)
    [record] = world.describe_flow_execution_records(flowName="accounts")["flowExecutions"]
    assert record["executionStatus"] == "Successful"
    emulator.knobs.run_duration_s = 300
    world.start_flow(flowName="accounts")
    world.delete_flow(flowName="accounts", forceDelete=True)
    assert world.list_flows()["flows"] == []


def test_a_profile_a_flow_uses_is_deleted_only_by_force(world: Any) -> None:
    world.create_flow(**flow_request("fa"))
    world.create_flow(**flow_request("fb"))
    with pytest.raises(ClientError) as error:
        world.delete_connector_profile(connectorProfileName="crm")
    assert code_and_message(error) == (
        "ConflictException",
        "Connector profile 'crm' is in use by flow(s) fa, fb. Delete or change those flows first, or pass forceDelete.",
    )
    world.delete_connector_profile(connectorProfileName="crm", forceDelete=True)
    assert world.describe_connector_profiles()["connectorProfileDetails"] == []
    assert world.describe_flow(flowName="fa")["sourceFlowConfig"]["connectorProfileName"] == "crm"


def test_cloud_control_cannot_delete_a_profile_a_flow_uses(world: Any, emulator: Emulator, clock: FakeClock) -> None:
    world.create_flow(**flow_request())
    cc = cloudcontrol_client(emulator.endpoint)
    event = cc.delete_resource(TypeName="AWS::AppFlow::ConnectorProfile", Identifier="crm")["ProgressEvent"]
    clock.advance(3600)
    status = cc.get_resource_request_status(RequestToken=event["RequestToken"])["ProgressEvent"]
    assert (status["OperationStatus"], status["ErrorCode"]) == ("FAILED", "ResourceConflict")
    assert status["StatusMessage"] == ("Connector profile 'crm' is in use by flow(s) accounts. "
                                       "Delete or change those flows first, or pass forceDelete.")
    assert len(world.describe_connector_profiles()["connectorProfileDetails"]) == 1


def test_a_profile_no_flow_uses_any_more_is_deleted(world: Any) -> None:
    world.create_flow(**flow_request())
    world.delete_flow(flowName="accounts")
    world.delete_connector_profile(connectorProfileName="crm")
    assert world.describe_connector_profiles()["connectorProfileDetails"] == []


def test_tags_of_a_flow(world: Any) -> None:
    arn = world.create_flow(**flow_request(tags={"team": "crm"}))["flowArn"]
    world.tag_resource(resourceArn=arn, tags={"env": "dev", "owner": "data"})
    world.untag_resource(resourceArn=arn, tagKeys=["team", "owner"])
    assert world.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "dev"}
    assert world.describe_flow(flowName="accounts")["tags"] == {"env": "dev"}
    with pytest.raises(ClientError) as error:
        world.list_tags_for_resource(resourceArn=ARN_PREFIX + "nope")
    assert code_and_message(error) == ("ResourceNotFoundException", f"Resource '{ARN_PREFIX}nope' does not exist.")


def test_a_client_token_replays_create_flow(world: Any, emulator: Emulator) -> None:
    first = world.create_flow(**flow_request(clientToken="token-1"))
    again = world.create_flow(**flow_request(clientToken="token-1"))
    assert {k: again[k] for k in ("flowArn", "flowStatus")} == {k: first[k] for k in ("flowArn", "flowStatus")}
    assert emulator.stats.replayed["CreateFlow"] == 1
    with pytest.raises(ClientError) as error:
        world.create_flow(**flow_request(clientToken="token-1", description="different"))
    assert code_and_message(error)[0] == "ConflictException"


def test_knobs_apply_to_flow_operations(world: Any, emulator: Emulator, clock: FakeClock) -> None:
    emulator.knobs.fail_next("InternalServerException", operation="CreateFlow")
    with pytest.raises(ClientError) as error:
        world.create_flow(**flow_request())
    assert code_and_message(error)[0] == "InternalServerException"
    assert world.list_flows()["flows"] == []  # a fault comes before any effect
    emulator.knobs.latency_ms = 250
    world.create_flow(**flow_request())
    assert clock.slept[-1] == 0.25


def test_flows_and_runs_survive_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    with Emulator(Knobs(), data_dir=tmp_path, clock=clock, sleep=clock.sleep) as first:
        client = appflow_client(first.endpoint)
        make_profile(client)
        make_bucket(first.endpoint, clock)
        client.create_flow(**flow_request(trigger=SCHEDULED))
        client.start_flow(flowName="accounts")
        client.create_flow(**flow_request("runs"))
        execution = client.start_flow(flowName="runs")["executionId"]
    with Emulator(Knobs(), data_dir=tmp_path, clock=clock, sleep=clock.sleep) as second:
        client = appflow_client(second.endpoint)
        assert client.describe_flow(flowName="accounts")["flowStatus"] == "Active"
        [record] = client.describe_flow_execution_records(flowName="runs")["flowExecutions"]
        assert record["executionId"] == execution
        with pytest.raises(ClientError) as error:
            client.delete_connector_profile(connectorProfileName="crm")
        assert code_and_message(error)[0] == "ConflictException"
