from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest

from deployer.providers.cloudcontrol.ordering import normalize
from deployer.providers.cloudcontrol.patch import update_patch
from deployer.providers.cloudcontrol.pointers import pointer_segments, without
from tests.providers.cloudcontrol.schemas import schema_for

S3, KMS, IAM = "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::IAM::Role"
REDSHIFT, APPFLOW, SYNTH = "AWS::Redshift::Cluster", "AWS::AppFlow::ConnectorProfile", "Test::Escaping::Thing"

TAGS = [{"Key": "team", "Value": "data"}, {"Key": "env", "Value": "dev"}]
CORS = {"CorsRules": [{"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["*"]}]}
CORS_REORDERED = {"CorsRules": [{"AllowedMethods": ["PUT", "GET"], "AllowedOrigins": ["*"]}]}
NOTIFY = {
    "LambdaConfigurations": [
        {
            "Event": "s3:ObjectCreated:*",
            "Function": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".csv"}]}},
        }
    ]
}
NOTIFY_REORDERED = copy.deepcopy(NOTIFY)
NOTIFY_REORDERED["LambdaConfigurations"][0]["Filter"]["S3Key"]["Rules"].reverse()
LIFECYCLE = {
    "Rules": [{"Id": "old", "Status": "Enabled", "Transition": {"StorageClass": "GLACIER", "TransitionInDays": 30}}]
}
METADATA = {
    "JournalTableConfiguration": {
        "RecordExpiration": {"Expiration": "DISABLED"},
        "EncryptionConfiguration": {"SseAlgorithm": "AES256"},
    }
}
CLUSTER = {
    "ClusterIdentifier": "c1",
    "NodeType": "ra3.xlplus",
    "MasterUsername": "admin",
    "MasterUserPassword": "Secret1!",
}
PROFILE_CONFIG = {
    "ConnectorProfileProperties": {"Salesforce": {"InstanceUrl": "https://x.my.salesforce.com"}},
    "ConnectorProfileCredentials": {"Salesforce": {"AccessToken": "tok"}},
}
PROFILE = {
    "ConnectorProfileName": "p",
    "ConnectorType": "Salesforce",
    "ConnectionMode": "Public",
    "ConnectorProfileConfig": PROFILE_CONFIG,
}

# (type, last applied, desired, expected ops)
CASES: list[Any] = [
    pytest.param(
        S3,
        {"BucketName": "b", "Tags": TAGS},
        {"BucketName": "b", "Tags": TAGS[:1] + [{"Key": "env", "Value": "prod"}]},
        [{"op": "add", "path": "/Tags", "value": TAGS[:1] + [{"Key": "env", "Value": "prod"}]}],
        id="tag-change-is-one-op",
    ),
    pytest.param(
        S3,
        {"BucketName": "b"},
        {"BucketName": "b", "Tags": TAGS},
        [{"op": "add", "path": "/Tags", "value": TAGS}],
        id="new-property-is-add",
    ),
    pytest.param(
        S3,
        {"BucketName": "b", "Tags": TAGS},
        {"BucketName": "b", "Tags": TAGS[::-1]},
        [],
        id="reordered-unordered-tags-no-op",
    ),
    pytest.param(
        IAM,
        {
            "RoleName": "r",
            "ManagedPolicyArns": ["arn:a", "arn:b"],
            "Policies": [{"PolicyName": "x"}, {"PolicyName": "y"}],
        },
        {
            "RoleName": "r",
            "ManagedPolicyArns": ["arn:b", "arn:a"],
            "Policies": [{"PolicyName": "y"}, {"PolicyName": "x"}],
        },
        [],
        id="reordered-iam-arrays-no-op",
    ),
    pytest.param(
        S3,
        {"BucketName": "b", "NotificationConfiguration": NOTIFY},
        {"BucketName": "b", "NotificationConfiguration": NOTIFY_REORDERED},
        [],
        id="reordered-nested-unordered-through-refs-no-op",
    ),
    pytest.param(
        S3,
        {"BucketName": "b", "CorsConfiguration": CORS},
        {"BucketName": "b", "CorsConfiguration": CORS_REORDERED},
        [{"op": "add", "path": "/CorsConfiguration", "value": CORS_REORDERED}],
        id="reordered-ordered-array-sent-whole",
    ),
    pytest.param(
        KMS,
        {"Description": "k", "Enabled": True},
        {"Enabled": True},
        [{"op": "remove", "path": "/Description"}],
        id="removal",
    ),
    pytest.param(
        KMS,
        {"Enabled": True, "PendingWindowInDays": 7},
        {"Enabled": True},
        [],
        id="removed-write-only-has-nothing-to-remove",
    ),
    pytest.param(
        KMS,
        {"Enabled": True, "PendingWindowInDays": 7},
        {"Enabled": False, "PendingWindowInDays": 7},
        [{"op": "add", "path": "/Enabled", "value": False}, {"op": "add", "path": "/PendingWindowInDays", "value": 7}],
        id="kms-write-only-resent",
    ),
    pytest.param(
        S3,
        {"BucketName": "b", "Arn": "arn:aws:s3:::b"},
        {"BucketName": "b", "Arn": "arn:aws:s3:::other"},
        [],
        id="read-only-never-sent",
    ),
    pytest.param(
        REDSHIFT,
        CLUSTER,
        {**CLUSTER, "NodeType": "ra3.4xlarge"},
        [
            {"op": "add", "path": "/MasterUserPassword", "value": "Secret1!"},
            {"op": "add", "path": "/NodeType", "value": "ra3.4xlarge"},
        ],
        id="redshift-password-resent",
    ),
    pytest.param(
        REDSHIFT,
        CLUSTER,
        CLUSTER,
        [{"op": "add", "path": "/MasterUserPassword", "value": "Secret1!"}],
        id="redshift-password-resent-when-nothing-changed",
    ),
    pytest.param(
        REDSHIFT,
        {**CLUSTER, "Endpoint": {"Address": "old"}},
        {**CLUSTER, "Endpoint": {"Address": "new", "Port": "5439"}},
        [{"op": "add", "path": "/MasterUserPassword", "value": "Secret1!"}],
        id="redshift-nested-read-only-never-sent",
    ),
    pytest.param(
        APPFLOW,
        PROFILE,
        {**PROFILE, "ConnectionMode": "Private"},
        [
            {"op": "add", "path": "/ConnectionMode", "value": "Private"},
            {"op": "add", "path": "/ConnectorProfileConfig", "value": PROFILE_CONFIG},
        ],
        id="appflow-config-resent",
    ),
    pytest.param(
        S3,
        {"BucketName": "b", "LifecycleConfiguration": LIFECYCLE},
        {"BucketName": "b", "LifecycleConfiguration": LIFECYCLE},
        [{"op": "add", "path": "/LifecycleConfiguration", "value": LIFECYCLE}],
        id="write-only-inside-array-resends-property",
    ),
    pytest.param(
        S3,
        {"BucketName": "b", "MetadataConfiguration": METADATA},
        {"BucketName": "b", "MetadataConfiguration": METADATA},
        [
            {
                "op": "add",
                "path": "/MetadataConfiguration/JournalTableConfiguration/EncryptionConfiguration",
                "value": {"SseAlgorithm": "AES256"},
            }
        ],
        id="nested-write-only-resent-at-its-path",
    ),
    pytest.param(
        SYNTH,
        {"Name": "n", "a/b~c": "1"},
        {"Name": "n", "a/b~c": "2"},
        [{"op": "add", "path": "/a~1b~0c", "value": "2"}],
        id="escaped-property-name",
    ),
    pytest.param(
        SYNTH, {"Name": "n", "a/b~c": "1"}, {"Name": "n"}, [{"op": "remove", "path": "/a~1b~0c"}], id="escaped-removal"
    ),
    pytest.param(
        SYNTH,
        {"Name": "n", "Config": {"Mode": "x", "se/cret~": "s"}},
        {"Name": "n", "Config": {"Mode": "x", "se/cret~": "s"}},
        [{"op": "add", "path": "/Config/se~1cret~0", "value": "s"}],
        id="escaped-nested-write-only",
    ),
]


@pytest.mark.parametrize(("type_name", "last_applied", "desired", "expected"), CASES)
def test_update_patch(
    type_name: str, last_applied: dict[str, Any], desired: dict[str, Any], expected: list[dict[str, Any]]
) -> None:
    assert update_patch(schema_for(type_name), last_applied, desired) == expected


@pytest.mark.parametrize(("type_name", "last_applied", "desired", "expected"), CASES)
def test_patch_applied_to_read_model_gives_desired(
    type_name: str, last_applied: dict[str, Any], desired: dict[str, Any], expected: list[dict[str, Any]]
) -> None:
    """As Cloud Control does: the patch goes onto what a read returns (no write-only), and must yield desired."""
    schema = schema_for(type_name)
    write_only = pointer_segments(schema, "writeOnlyProperties")
    read_only = pointer_segments(schema, "readOnlyProperties")
    read_model = without(last_applied, write_only)
    patched = jsonpatch.apply_patch(read_model, update_patch(schema, last_applied, desired))
    assert normalize(schema, without(patched, read_only)) == normalize(schema, without(desired, read_only))


def test_inputs_not_changed() -> None:
    last, desired = copy.deepcopy(CLUSTER), {**copy.deepcopy(CLUSTER), "Endpoint": {"Port": "1"}}
    before = (copy.deepcopy(last), copy.deepcopy(desired))
    update_patch(schema_for(REDSHIFT), last, desired)
    assert (last, desired) == before
