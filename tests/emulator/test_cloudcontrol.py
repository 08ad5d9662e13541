"""Cloud Control API on the emulator's port, through real boto3 cloudcontrol clients."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from deployer.emulator import Emulator, Knobs
from deployer.emulator.cloudcontrol import HANDLER_ROUND_TRIPS, TOKEN_LIFETIME_S
from deployer.emulator.patch import values_at
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
    ("nested-read-only-set", "AWS::Redshift::Cluster",
     {"ClusterType": "single-node", "NodeType": "ra3.large", "DBName": "dev", "MasterUsername": "admin",
      "Endpoint": {"Address": "mine.example.com"}}, "InvalidRequest",
     "Model validation failed (#/Endpoint/Address: read-only property cannot be set)"),
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


# A "redshift pipeline" stack: a key, a staging bucket, a role Redshift assumes, the admin secret and the cluster.
ACCOUNT, REGION = "123456789012", "us-east-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
TRUST_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "redshift.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
READ_BUCKET = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}
CLUSTER = {"ClusterType": "multi-node", "NumberOfNodes": 2, "NodeType": "ra3.xlplus", "DBName": "analytics",
           "MasterUsername": "admin", "MasterUserPassword": "Sup3r-secret-pw", "Encrypted": True, "KmsKeyId": KEY_ARN,
           "IamRoles": [f"arn:aws:iam::{ACCOUNT}:role/pipeline-redshift"], "PubliclyAccessible": False}
NAME = r"cc-[0-9a-f]{16}"  # the emulator's generated names
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# (id, type, a realistic desired state, {schema pointer: the shape its value must have})
RECIPES = [
    ("kms-key", "AWS::KMS::Key",
     {"Description": "pipeline key", "EnableKeyRotation": True, "PendingWindowInDays": 7,
      "KeyPolicy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*",
                                                            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]}},
     {"/properties/KeyId": UUID, "/properties/Arn": rf"arn:aws:kms:{REGION}:{ACCOUNT}:key/{UUID}"}),
    ("s3-bucket", "AWS::S3::Bucket",
     {"VersioningConfiguration": {"Status": "Enabled"},
      "BucketEncryption": {"ServerSideEncryptionConfiguration": [
          {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN}}]},
      "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                         "IgnorePublicAcls": True, "RestrictPublicBuckets": True}},
     {"/properties/BucketName": NAME, "/properties/Arn": rf"arn:aws:s3:::{NAME}",
      "/properties/DomainName": rf"{NAME}\.s3\.amazonaws\.com",
      "/properties/RegionalDomainName": rf"{NAME}\.s3\.{REGION}\.amazonaws\.com",
      "/properties/DualStackDomainName": rf"{NAME}\.s3\.dualstack\.{REGION}\.amazonaws\.com",
      "/properties/WebsiteURL": rf"http://{NAME}\.s3-website-{REGION}\.amazonaws\.com"}),
    ("iam-role", "AWS::IAM::Role",
     {"AssumeRolePolicyDocument": TRUST_POLICY, "Description": "Redshift reads the staging bucket",
      "Policies": [{"PolicyName": "read-bucket", "PolicyDocument": READ_BUCKET}],
      "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AmazonRedshiftAllCommandsFullAccess"]},
     {"/properties/RoleName": NAME, "/properties/Arn": rf"arn:aws:iam::{ACCOUNT}:role/{NAME}",
      "/properties/RoleId": r"AROA[A-Z0-9]{17}"}),
    ("iam-role-with-path", "AWS::IAM::Role",
     {"RoleName": "pipeline-redshift", "Path": "/pipeline/", "AssumeRolePolicyDocument": json.dumps(TRUST_POLICY)},
     {"/properties/RoleName": "pipeline-redshift",
      "/properties/Arn": rf"arn:aws:iam::{ACCOUNT}:role/pipeline/pipeline-redshift",
      "/properties/RoleId": r"AROA[A-Z0-9]{17}"}),
    ("secret-generated", "AWS::SecretsManager::Secret",
     {"Description": "Redshift admin", "KmsKeyId": KEY_ARN,
      "GenerateSecretString": {"SecretStringTemplate": json.dumps({"username": "admin"}),
                               "GenerateStringKey": "password", "PasswordLength": 32, "ExcludeCharacters": "\"@/\\"}},
     {"/properties/Name": NAME,
      "/properties/Id": rf"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{NAME}-[A-Za-z0-9]{{6}}"}),
    ("secret-named", "AWS::SecretsManager::Secret",
     {"Name": "pipeline/redshift-admin", "SecretString": json.dumps({"username": "admin", "password": "pw"})},
     {"/properties/Name": "pipeline/redshift-admin",
      "/properties/Id": rf"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:pipeline/redshift-admin-[A-Za-z0-9]{{6}}"}),
    ("redshift-cluster", "AWS::Redshift::Cluster", CLUSTER,
     {"/properties/ClusterIdentifier": NAME,
      "/properties/Endpoint/Address": rf"{NAME}\.[a-z0-9]{{12}}\.{REGION}\.redshift\.amazonaws\.com",
      "/properties/Endpoint/Port": "5439",
      "/properties/ClusterNamespaceArn": rf"arn:aws:redshift:{REGION}:{ACCOUNT}:namespace:{UUID}"}),
    ("redshift-cluster-named-on-a-port", "AWS::Redshift::Cluster",
     {**CLUSTER, "ClusterIdentifier": "pipeline-warehouse", "Port": 5440},
     {"/properties/ClusterIdentifier": "pipeline-warehouse",
      "/properties/Endpoint/Address": rf"pipeline-warehouse\.[a-z0-9]{{12}}\.{REGION}\.redshift\.amazonaws\.com",
      "/properties/Endpoint/Port": "5440"}),
]


@pytest.mark.parametrize(("type_name", "state", "shapes"), [case[1:] for case in RECIPES], ids=[c[0] for c in RECIPES])
def test_a_new_resource_gets_realistic_attributes(cc: Any, clock: FakeClock, type_name: str, state: dict[str, Any],
                                                  shapes: dict[str, str]) -> None:
    done = create(cc, clock, state, type_name)
    assert done["OperationStatus"] == "SUCCESS", done.get("StatusMessage")
    model = properties(cc, done["Identifier"], type_name)
    for pointer, pattern in shapes.items():
        found = values_at(model, pointer)
        assert len(found) == 1 and re.fullmatch(pattern, found[0]), (pointer, found)
    assert [cc.list_resources(TypeName=type_name)["ResourceDescriptions"][0]["Identifier"]] == [done["Identifier"]]


# (id, type, desired state, the write-only properties it sets, which GetResource never returns)
WRITE_ONLY = [
    ("cluster-password", "AWS::Redshift::Cluster", {**CLUSTER, "ClusterIdentifier": "pipeline-wo"},
     ["MasterUserPassword"]),
    ("secret-string", "AWS::SecretsManager::Secret", {"Name": "wo-string", "SecretString": "hunter2"},
     ["SecretString"]),
    ("generated-secret", "AWS::SecretsManager::Secret",
     {"Name": "wo-generated", "GenerateSecretString": {"PasswordLength": 16}}, ["GenerateSecretString"]),
]


@pytest.mark.parametrize(("type_name", "state", "hidden"), [case[1:] for case in WRITE_ONLY],
                         ids=[case[0] for case in WRITE_ONLY])
def test_write_only_properties_are_never_read_back(cc: Any, clock: FakeClock, type_name: str, state: dict[str, Any],
                                                   hidden: list[str]) -> None:
    done = create(cc, clock, state, type_name)
    described = cc.get_resource(TypeName=type_name, Identifier=done["Identifier"])["ResourceDescription"]
    listed = cc.list_resources(TypeName=type_name)["ResourceDescriptions"]
    for text in (described["Properties"], listed[0]["Properties"]):
        assert not set(hidden) & set(json.loads(text))
    for secret in ("Sup3r-secret-pw", "hunter2"):
        assert secret not in described["Properties"]


def test_a_cluster_reads_back_its_endpoint_and_no_password(cc: Any, clock: FakeClock) -> None:
    done = create(cc, clock, {**CLUSTER, "ClusterIdentifier": "pipeline-dw"}, "AWS::Redshift::Cluster")
    model = properties(cc, "pipeline-dw", "AWS::Redshift::Cluster")
    assert done["Identifier"] == "pipeline-dw"
    assert re.fullmatch(r"pipeline-dw\.[a-z0-9]{12}\.us-east-1\.redshift\.amazonaws\.com", model["Endpoint"]["Address"])
    assert model["Endpoint"]["Port"] == "5439"  # a string in the schema, unlike the cluster's Port
    assert "MasterUserPassword" not in model
    move = [{"op": "replace", "path": "/Endpoint/Port", "value": "6000"}]
    event = cc.update_resource(TypeName="AWS::Redshift::Cluster", Identifier="pipeline-dw",
                               PatchDocument=json.dumps(move))["ProgressEvent"]
    assert finished(cc, event, clock)["StatusMessage"] == \
        "Invalid patch update: readOnlyProperties [/properties/Endpoint/Port] cannot be updated"
