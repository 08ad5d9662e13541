"""Cloud Control API on the emulator's port, through real boto3 cloudcontrol clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from deployer.emulator import Emulator, Knobs
from deployer.emulator.cloudcontrol import HANDLER_ROUND_TRIPS, TOKEN_LIFETIME_S
from tests.support import FakeClock, appflow_client, cloudcontrol_client

BUCKET = "AWS::S3::Bucket"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[Emulator]:
    with Emulator(clock=clock, sleep=clock.sleep) as running:
        yield running


@pytest.fixture
def cc(emulator: Emulator) -> Any:
    return cloudcontrol_client(emulator.endpoint)


def finished(cc: Any, event: dict[str, Any], clock: FakeClock) -> dict[str, Any]:
    """The request's last progress event, after its time in progress has passed."""
    clock.advance(3600)
    status = cc.get_resource_request_status(RequestToken=event["RequestToken"])["ProgressEvent"]
    assert status["OperationStatus"] in ("SUCCESS", "FAILED")
    return status


def create(cc: Any, clock: FakeClock, state: dict[str, Any], type_name: str = BUCKET, **extra: Any) -> dict[str, Any]:
    event = cc.create_resource(TypeName=type_name, DesiredState=json.dumps(state), **extra)["ProgressEvent"]
    return finished(cc, event, clock)


def properties(cc: Any, identifier: str, type_name: str = BUCKET) -> dict[str, Any]:
    described = cc.get_resource(TypeName=type_name, Identifier=identifier)["ResourceDescription"]
    assert described["Identifier"] == identifier
    return dict(json.loads(described["Properties"]))


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_a_bucket_from_create_to_delete(emulator: Emulator, cc: Any, clock: FakeClock) -> None:
    emulator.knobs.latency_ms = 100  # a request stays IN_PROGRESS for HANDLER_ROUND_TRIPS latencies
    state = {"BucketName": "cc-life", "AccessControl": "Private", "Tags": [{"Key": "team", "Value": "data"}]}
    made = cc.create_resource(TypeName=BUCKET, DesiredState=json.dumps(state))["ProgressEvent"]
    assert (made["Operation"], made["OperationStatus"]) == ("CREATE", "IN_PROGRESS")
    assert "Identifier" not in made and "RetryAfter" in made

    polled = cc.get_resource_request_status(RequestToken=made["RequestToken"])["ProgressEvent"]
    assert polled["OperationStatus"] == "IN_PROGRESS"
    clock.advance(HANDLER_ROUND_TRIPS * 0.1)
    done = cc.get_resource_request_status(RequestToken=made["RequestToken"])["ProgressEvent"]
    assert (done["OperationStatus"], done["Identifier"]) == ("SUCCESS", "cc-life")
    assert "ErrorCode" not in done and "RetryAfter" not in done

    model = properties(cc, "cc-life")
    assert "AccessControl" not in model  # write-only: never read back
    assert model["Arn"] == "arn:aws:s3:::cc-life"
    assert model["DomainName"] == "cc-life.s3.amazonaws.com"
    assert model["Tags"] == [{"Key": "team", "Value": "data"}]

    tag = [{"op": "add", "path": "/Tags/-", "value": {"Key": "env", "Value": "dev"}}]
    updated = cc.update_resource(TypeName=BUCKET, Identifier="cc-life", PatchDocument=json.dumps(tag))
    assert finished(cc, updated["ProgressEvent"], clock)["OperationStatus"] == "SUCCESS"
    assert properties(cc, "cc-life")["Tags"] == [{"Key": "team", "Value": "data"}, {"Key": "env", "Value": "dev"}]

    rename = [{"op": "replace", "path": "/BucketName", "value": "cc-other"}]
    refused = cc.update_resource(TypeName=BUCKET, Identifier="cc-life", PatchDocument=json.dumps(rename))
    failed = finished(cc, refused["ProgressEvent"], clock)
    assert (failed["OperationStatus"], failed["ErrorCode"]) == ("FAILED", "NotUpdatable")
    assert failed["StatusMessage"] == \
        "Invalid patch update: createOnlyProperties [/properties/BucketName] cannot be updated"
    assert properties(cc, "cc-life")["BucketName"] == "cc-life"

    deleted = cc.delete_resource(TypeName=BUCKET, Identifier="cc-life")["ProgressEvent"]
    assert finished(cc, deleted, clock)["OperationStatus"] == "SUCCESS"
    with pytest.raises(ClientError) as gone:
        cc.get_resource(TypeName=BUCKET, Identifier="cc-life")
    assert error_code(gone) == "ResourceNotFoundException"
    again = finished(cc, cc.delete_resource(TypeName=BUCKET, Identifier="cc-life")["ProgressEvent"], clock)
    assert (again["OperationStatus"], again["ErrorCode"]) == ("FAILED", "NotFound")


def test_the_paginator_lists_25_buckets(cc: Any, clock: FakeClock) -> None:
    for index in range(25):
        create(cc, clock, {"BucketName": f"cc-page-{index:02d}"})
    paginator = cc.get_paginator("list_resources")
    pages = list(paginator.paginate(TypeName=BUCKET, PaginationConfig={"PageSize": 10}))
    assert [len(page["ResourceDescriptions"]) for page in pages] == [10, 10, 5]
    names = [d["Identifier"] for page in pages for d in page["ResourceDescriptions"]]
    assert names == [f"cc-page-{index:02d}" for index in range(25)]
    default_pages = list(paginator.paginate(TypeName=BUCKET))
    assert [len(page["ResourceDescriptions"]) for page in default_pages] == [20, 5]
    with pytest.raises(ClientError) as elsewhere:  # a token is good only for the type it was issued for
        cc.list_resources(TypeName="AWS::KMS::Key", NextToken=pages[0]["NextToken"])
    assert error_code(elsewhere) == "ValidationException"


def test_resource_requests_are_listed_and_filtered(cc: Any, clock: FakeClock) -> None:
    create(cc, clock, {"BucketName": "cc-requests"})
    finished(cc, cc.delete_resource(TypeName=BUCKET, Identifier="nothing-here")["ProgressEvent"], clock)
    summaries = cc.list_resource_requests()["ResourceRequestStatusSummaries"]
    assert [(s["Operation"], s["OperationStatus"]) for s in summaries] == [("DELETE", "FAILED"), ("CREATE", "SUCCESS")]
    failed = cc.list_resource_requests(ResourceRequestStatusFilter={"OperationStatuses": ["FAILED"]})
    assert [s["Identifier"] for s in failed["ResourceRequestStatusSummaries"]] == ["nothing-here"]
    paged = list(cc.get_paginator("list_resource_requests").paginate(PaginationConfig={"PageSize": 1}))
    assert len(paged) == 2


def test_a_client_token_replays_its_request_for_36_hours(emulator: Emulator, cc: Any, clock: FakeClock) -> None:
    state = json.dumps({"BucketName": "cc-token"})
    first = cc.create_resource(TypeName=BUCKET, DesiredState=state, ClientToken="tok-1")["ProgressEvent"]
    again = cc.create_resource(TypeName=BUCKET, DesiredState=state, ClientToken="tok-1")["ProgressEvent"]
    assert again["RequestToken"] == first["RequestToken"]
    assert emulator.stats.replayed["CreateResource"] == 1
    assert finished(cc, again, clock)["OperationStatus"] == "SUCCESS"  # one bucket, not an AlreadyExists

    with pytest.raises(ClientError) as conflict:
        cc.create_resource(TypeName=BUCKET, DesiredState=json.dumps({"BucketName": "cc-x"}), ClientToken="tok-1")
    assert error_code(conflict) == "ClientTokenConflictException"

    clock.advance(TOKEN_LIFETIME_S)
    late = cc.create_resource(TypeName=BUCKET, DesiredState=state, ClientToken="tok-1")["ProgressEvent"]
    assert late["RequestToken"] != first["RequestToken"]  # a new request, which finds the name taken
    assert finished(cc, late, clock)["ErrorCode"] == "AlreadyExists"


# (id, type, desired state, the FAILED event's ErrorCode and StatusMessage)
HANDLER_REFUSALS = [
    ("unknown-property", BUCKET, {"BucketName": "cc-v", "Colour": "red"}, "InvalidRequest",
     "Model validation failed (#: Additional properties are not allowed ('Colour' was unexpected))"),
    ("too-long", BUCKET, {"BucketName": "b" * 64}, "InvalidRequest",
     f"Model validation failed (#/BucketName: '{'b' * 64}' is too long)"),
    ("wrong-type", BUCKET, {"Tags": "team=data"}, "InvalidRequest",
     "Model validation failed (#/Tags: 'team=data' is not of type 'array')"),
    ("read-only-set", BUCKET, {"Arn": "arn:aws:s3:::mine"}, "InvalidRequest",
     "Model validation failed (#/Arn: read-only property cannot be set)"),
    ("required-missing", "AWS::SSM::Parameter", {"Type": "String"}, "InvalidRequest",
     "Model validation failed (#: 'Value' is a required property)"),
]


@pytest.mark.parametrize(("type_name", "state", "code", "message"),
                         [case[1:] for case in HANDLER_REFUSALS], ids=[case[0] for case in HANDLER_REFUSALS])
def test_a_model_the_schema_refuses_fails_the_request(cc: Any, clock: FakeClock, type_name: str,
                                                      state: dict[str, Any], code: str, message: str) -> None:
    failed = create(cc, clock, state, type_name)
    assert (failed["OperationStatus"], failed["ErrorCode"], failed["StatusMessage"]) == ("FAILED", code, message)
    assert cc.list_resources(TypeName=type_name)["ResourceDescriptions"] == []


def test_a_taken_name_fails_with_already_exists(cc: Any, clock: FakeClock) -> None:
    assert create(cc, clock, {"BucketName": "cc-taken"})["OperationStatus"] == "SUCCESS"
    failed = create(cc, clock, {"BucketName": "cc-taken"})
    assert (failed["ErrorCode"], failed["StatusMessage"]) == (
        "AlreadyExists", "Resource of type 'AWS::S3::Bucket' with identifier 'cc-taken' already exists.")


# (id, type name, desired state as sent, the error Cloud Control answers with at once)
REQUEST_REFUSALS = [
    ("not-json", BUCKET, "{BucketName: x}", "ValidationException"),
    ("not-an-object", BUCKET, "[]", "ValidationException"),
    ("unknown-type", "AWS::Nope::Nope", "{}", "TypeNotFoundException"),
    ("not-provisionable", "AWS::CDK::Metadata", "{}", "UnsupportedActionException"),
    ("malformed-type-name", "AWS-S3-Bucket", "{}", "ValidationException"),
]


@pytest.mark.parametrize(("type_name", "state", "code"),
                         [case[1:] for case in REQUEST_REFUSALS], ids=[case[0] for case in REQUEST_REFUSALS])
def test_a_request_cloud_control_refuses_is_an_error(cc: Any, type_name: str, state: str, code: str) -> None:
    with pytest.raises(ClientError) as refused:
        cc.create_resource(TypeName=type_name, DesiredState=state)
    assert error_code(refused) == code


def test_a_kms_key_gets_its_id_and_arn(cc: Any, clock: FakeClock) -> None:
    done = create(cc, clock, {"Description": "cc key", "PendingWindowInDays": 7}, "AWS::KMS::Key")
    model = properties(cc, done["Identifier"], "AWS::KMS::Key")
    assert model["KeyId"] == done["Identifier"]
    assert model["Arn"] == f"arn:aws:kms:us-east-1:123456789012:key/{done['Identifier']}"
    assert "PendingWindowInDays" not in model


def test_a_bucket_without_a_name_gets_one(cc: Any, clock: FakeClock) -> None:
    done = create(cc, clock, {})
    assert properties(cc, done["Identifier"])["BucketName"] == done["Identifier"]


def test_an_update_that_breaks_the_schema_fails(cc: Any, clock: FakeClock) -> None:
    create(cc, clock, {"BucketName": "cc-patch"})
    for patch, message in [
        ([{"op": "add", "path": "/Colour", "value": "red"}],
         "Model validation failed (#: Additional properties are not allowed ('Colour' was unexpected))"),
        ([{"op": "remove", "path": "/Tags"}], "Invalid patch document: '/Tags' does not exist"),
        ([{"op": "replace", "path": "/Arn", "value": "arn:aws:s3:::x"}],
         "Invalid patch update: readOnlyProperties [/properties/Arn] cannot be updated"),
    ]:
        event = cc.update_resource(TypeName=BUCKET, Identifier="cc-patch", PatchDocument=json.dumps(patch))
        failed = finished(cc, event["ProgressEvent"], clock)
        assert (failed["ErrorCode"], failed["StatusMessage"]) == ("InvalidRequest", message)


def test_unknown_request_token(cc: Any) -> None:
    with pytest.raises(ClientError) as unknown:
        cc.get_resource_request_status(RequestToken="no-such-token")
    assert error_code(unknown) == "RequestTokenNotFoundException"


def test_the_knobs_throttle_and_fail_cloud_control_calls(emulator: Emulator, cc: Any) -> None:
    emulator.knobs.fail_next("ThrottlingException", operation="ListResources")
    with pytest.raises(ClientError) as throttled:
        cc.list_resources(TypeName=BUCKET)
    assert error_code(throttled) == "ThrottlingException"
    emulator.knobs.fail_next("InternalServerException")
    with pytest.raises(ClientError) as failed:
        cc.list_resources(TypeName=BUCKET)
    assert (error_code(failed), failed.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ServiceInternalErrorException", 500)
    assert emulator.stats.errors["ThrottlingException"] == 1


def test_appflow_and_cloud_control_share_the_port(emulator: Emulator, cc: Any) -> None:
    appflow = appflow_client(emulator.endpoint)
    assert appflow.describe_connector_profiles()["connectorProfileDetails"] == []
    assert cc.list_resources(TypeName=BUCKET)["ResourceDescriptions"] == []


def test_resources_and_requests_survive_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    with Emulator(Knobs(), data_dir=tmp_path, clock=clock, sleep=clock.sleep) as first:
        done = create(cloudcontrol_client(first.endpoint), clock, {"BucketName": "cc-kept", "AccessControl": "Private"})
    with Emulator(Knobs(), data_dir=tmp_path, clock=clock, sleep=clock.sleep) as second:
        cc = cloudcontrol_client(second.endpoint)
        assert properties(cc, "cc-kept")["BucketName"] == "cc-kept"
        kept = cc.get_resource_request_status(RequestToken=done["RequestToken"])["ProgressEvent"]
        assert kept["OperationStatus"] == "SUCCESS"
