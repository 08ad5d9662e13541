from __future__ import annotations

from typing import Any

import pytest

from deployer.providers.cloudcontrol.replacement import replacement_reasons
from tests.providers.cloudcontrol.schemas import schema_for

BUDGET = {
    "Budget": {
        "BudgetName": "monthly",
        "BudgetType": "COST",
        "TimeUnit": "MONTHLY",
        "BudgetLimit": {"Amount": 10, "Unit": "USD"},
    }
}
ITEMS = [{"Name": "a", "Size": 1}, {"Name": "b", "Size": 2}]


@pytest.mark.parametrize(
    ("type_name", "last_applied", "desired", "expected"),
    [
        pytest.param(
            "AWS::S3::Bucket",
            {"BucketName": "a"},
            {"BucketName": "b"},
            ("BucketName changes (forces replacement)",),
            id="s3-bucket-name",
        ),
        pytest.param(
            "AWS::S3::Bucket", {}, {"BucketName": "b"}, ("BucketName changes (forces replacement)",), id="unset-to-set"
        ),
        pytest.param(
            "AWS::S3::Bucket", {"BucketName": "b"}, {}, ("BucketName changes (forces replacement)",), id="set-to-unset"
        ),
        pytest.param(
            "AWS::S3::Bucket",
            {"BucketName": "b", "Tags": [{"Key": "k", "Value": "1"}]},
            {"BucketName": "b", "Tags": [{"Key": "k", "Value": "2"}]},
            (),
            id="updatable-change-no-reason",
        ),
        pytest.param(
            "AWS::IAM::Role",
            {"RoleName": "r", "Path": "/"},
            {"RoleName": "s", "Path": "/svc/"},
            ("Path changes (forces replacement)", "RoleName changes (forces replacement)"),
            id="several-in-schema-order",
        ),
        pytest.param(
            "AWS::Budgets::Budget",
            BUDGET,
            {"Budget": {**BUDGET["Budget"], "BudgetName": "yearly"}},
            ("Budget.BudgetName changes (forces replacement)",),
            id="nested-create-only",
        ),
        pytest.param(
            "AWS::Budgets::Budget",
            BUDGET,
            {"Budget": {**BUDGET["Budget"], "BudgetLimit": {"Amount": 20, "Unit": "USD"}}},
            (),
            id="nested-sibling-change-no-reason",
        ),
        pytest.param(
            "AWS::Budgets::Budget",
            {},
            BUDGET,
            ("Budget.BudgetName changes (forces replacement)",),
            id="nested-parent-set",
        ),
        pytest.param(
            "AWS::Redshift::Cluster",
            {"ClusterIdentifier": "c", "SnapshotIdentifier": "s1"},
            {"ClusterIdentifier": "c", "SnapshotIdentifier": "s2"},
            ("SnapshotIdentifier changes (forces replacement)",),
            id="create-only-and-write-only",
        ),
        pytest.param(
            "AWS::AppFlow::ConnectorProfile",
            {"ConnectorProfileName": "p", "ConnectorType": "Salesforce"},
            {"ConnectorProfileName": "p", "ConnectorType": "Slack"},
            ("ConnectorType changes (forces replacement)",),
            id="appflow-connector-type",
        ),
        pytest.param(
            "Test::Escaping::Thing",
            {"Items": ITEMS},
            {"Items": ITEMS[::-1]},
            (),
            id="wildcard-in-unordered-array-reordered",
        ),
        pytest.param(
            "Test::Escaping::Thing",
            {"Items": ITEMS},
            {"Items": [ITEMS[0], {"Name": "c", "Size": 2}]},
            ("Items[*].Name changes (forces replacement)",),
            id="wildcard-item-changed",
        ),
        pytest.param(
            "Test::Escaping::Thing",
            {"Items": ITEMS},
            {"Items": [{"Name": "b", "Size": 3}, ITEMS[0]]},
            (),
            id="wildcard-other-member-changed-and-moved",
        ),
        pytest.param(
            "Test::Escaping::Thing",
            {"a/b~c": "1"},
            {"a/b~c": "2"},
            ("a/b~c changes (forces replacement)",),
            id="escaped-name-unescaped-in-reason",
        ),
    ],
)
def test_replacement_reasons(
    type_name: str, last_applied: dict[str, Any], desired: dict[str, Any], expected: tuple[str, ...]
) -> None:
    assert replacement_reasons(schema_for(type_name), last_applied, desired) == expected


def test_kms_key_has_no_create_only_properties() -> None:
    assert (
        replacement_reasons(schema_for("AWS::KMS::Key"), {"KeySpec": "SYMMETRIC_DEFAULT"}, {"KeySpec": "RSA_2048"})
        == ()
    )
