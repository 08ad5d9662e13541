from __future__ import annotations

from typing import Any

import pytest

from deployer.providers.cloudcontrol.drift import drift_comparable
from tests.providers.cloudcontrol.schemas import schema_for


@pytest.mark.parametrize(
    ("type_name", "value", "expected"),
    [
        pytest.param(
            "AWS::Redshift::Cluster",
            {
                "ClusterIdentifier": "c",
                "MasterUserPassword": "pw",
                "Endpoint": {"Address": "h", "Port": "5439"},
                "IamRoles": ["arn:b", "arn:a"],
            },
            {"ClusterIdentifier": "c", "Endpoint": {}, "IamRoles": ["arn:a", "arn:b"]},
            id="redshift",
        ),
        pytest.param(
            "AWS::AppFlow::ConnectorProfile",
            {"ConnectorProfileName": "p", "ConnectorProfileConfig": {"x": 1}, "ConnectorProfileArn": "arn:p"},
            {"ConnectorProfileName": "p"},
            id="appflow",
        ),
        pytest.param(
            "AWS::S3::Bucket",
            {
                "BucketName": "b",
                "LifecycleConfiguration": {
                    "Rules": [{"Id": "r", "Status": "Enabled", "Transition": {"StorageClass": "GLACIER"}}]
                },
            },
            {"BucketName": "b", "LifecycleConfiguration": {"Rules": [{"Id": "r", "Status": "Enabled"}]}},
            id="write-only-in-every-array-item",
        ),
    ],
)
def test_drift_comparable(type_name: str, value: dict[str, Any], expected: dict[str, Any]) -> None:
    assert drift_comparable(schema_for(type_name), value) == expected


def test_desired_and_read_compare_equal_when_nothing_drifted() -> None:
    schema = schema_for("AWS::KMS::Key")
    desired = {
        "Enabled": True,
        "PendingWindowInDays": 7,
        "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
    }
    read = {
        "Enabled": True,
        "Arn": "arn:k",
        "KeyId": "k",
        "Tags": [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}],
    }
    assert drift_comparable(schema, desired) == drift_comparable(schema, read)
