from __future__ import annotations

from typing import Any

import pytest

from deployer.providers.cloudcontrol.ordering import equivalent, normalize
from tests.providers.cloudcontrol.schemas import schema_for

RULES = [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".csv"}]


def _notify(rules: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "NotificationConfiguration": {
            "QueueConfigurations": [{"Event": "e", "Queue": "q", "Filter": {"S3Key": {"Rules": rules}}}]
        }
    }


@pytest.mark.parametrize(
    ("type_name", "a", "b", "expected"),
    [
        pytest.param(
            "AWS::S3::Bucket",
            {"Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]},
            {"Tags": [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]},
            True,
            id="top-level-tags",
        ),
        pytest.param("AWS::S3::Bucket", _notify(RULES), _notify(RULES[::-1]), True, id="deep-through-refs-and-items"),
        pytest.param(
            "AWS::S3::Bucket",
            {"CorsConfiguration": {"CorsRules": [{"AllowedMethods": ["GET", "PUT"]}]}},
            {"CorsConfiguration": {"CorsRules": [{"AllowedMethods": ["PUT", "GET"]}]}},
            False,
            id="ordered-array",
        ),
        pytest.param(
            "AWS::Redshift::Cluster",
            {"LoggingProperties": {"LogExports": ["a", "b"]}},
            {"LoggingProperties": {"LogExports": ["b", "a"]}},
            True,
            id="redshift-definition-array",
        ),
        pytest.param(
            "AWS::IAM::Role",
            {"ManagedPolicyArns": ["x", "x", "y"]},
            {"ManagedPolicyArns": ["x", "y", "y"]},
            False,
            id="multiset-counts-duplicates",
        ),
        pytest.param(
            "AWS::IAM::Role",
            {"ManagedPolicyArns": ["x", "y"]},
            {"ManagedPolicyArns": ["x", "y", "y"]},
            False,
            id="extra-item",
        ),
        pytest.param(
            "AWS::IAM::Role",
            {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [1, 2]}}]},
            {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [2, 1]}}]},
            False,
            id="free-form-json-keeps-order",
        ),
        pytest.param("AWS::KMS::Key", {"Tags": []}, {}, False, id="empty-is-not-unset"),
    ],
)
def test_equivalent(type_name: str, a: dict[str, Any], b: dict[str, Any], expected: bool) -> None:
    assert equivalent(schema_for(type_name), a, b) is expected


def test_equivalent_at_a_property() -> None:
    assert equivalent(
        schema_for("AWS::KMS::Key"),
        [{"Key": "a", "Value": ""}, {"Key": "b", "Value": ""}],
        [{"Key": "b", "Value": ""}, {"Key": "a", "Value": ""}],
        at=("Tags",),
    )


def test_normalize_sorts_canonically_and_leaves_input() -> None:
    value = {"IamRoles": ["arn:b", "arn:a"], "NodeType": "ra3.xlplus"}
    assert normalize(schema_for("AWS::Redshift::Cluster"), value) == {
        "IamRoles": ["arn:a", "arn:b"],
        "NodeType": "ra3.xlplus",
    }
    assert value["IamRoles"] == ["arn:b", "arn:a"]
