"""deployer.schemacheck: properties checked against real CloudFormation resource schemas.

Each case is a type, the properties a manifest sets (CloudFormation spelling, as rendered) and the
exact lines a user reads. Every type's full example passes; every us-east-1 type takes an empty
mapping without an exception, quickly.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from deployer.registry import TypeSchema, type_names, type_schema
from deployer.render import Unknown
from deployer.schemacheck import MAX_DEPTH, MAX_REPORTED, check_properties, describe, skipped_patterns

S3, KMS, IAM = "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::IAM::Role"
REDSHIFT, SECRET, APPFLOW = "AWS::Redshift::Cluster", "AWS::SecretsManager::Secret", "AWS::AppFlow::ConnectorProfile"
REDSHIFT_MINIMAL = {"ClusterType": "single-node", "DBName": "dev", "MasterUsername": "admin", "NodeType": "ra3.xlplus"}
APPFLOW_MINIMAL = {"ConnectorProfileName": "crm-dev-sf", "ConnectionMode": "Public", "ConnectorType": "Salesforce"}
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}
MANAGED_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"

VALID: dict[str, dict[str, Any]] = {
    S3: {
        "BucketName": "crm-dev-exports",
        "VersioningConfiguration": {"Status": "Enabled"},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/crm"},
             "BucketKeyEnabled": True}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": "true",
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "LifecycleConfiguration": {"Rules": [{"Id": "expire", "Status": "Enabled", "ExpirationInDays": "30"}]},
        "WebsiteConfiguration": {"IndexDocument": "index.html", "RoutingRules": [
            {"RoutingRuleCondition": {"KeyPrefixEquals": "docs/"}, "RedirectRule": {"ReplaceKeyPrefixWith": "d/"}}]},
        "LoggingConfiguration": {"DestinationBucketName": "logs", "TargetObjectKeyFormat": {"SimplePrefix": {}}},
        "Tags": [{"Key": "team", "Value": "crm"}],
    },
    KMS: {
        "Description": "CRM exports", "Enabled": True, "EnableKeyRotation": "true", "KeySpec": "SYMMETRIC_DEFAULT",
        "KeyUsage": "ENCRYPT_DECRYPT", "MultiRegion": False, "PendingWindowInDays": 7, "RotationPeriodInDays": 365,
        "KeyPolicy": {"Version": "2012-10-17", "Statement": []}, "Tags": [{"Key": "team", "Value": "crm"}],
    },
    IAM: {
        "RoleName": "crm-dev-exporter", "Path": "/crm/", "AssumeRolePolicyDocument": TRUST,
        "ManagedPolicyArns": [MANAGED_POLICY], "MaxSessionDuration": "3600",
        "Policies": [{"PolicyName": "read", "PolicyDocument": {"Version": "2012-10-17", "Statement": []}}],
        "Tags": [{"Key": "team", "Value": "crm"}],
    },
    REDSHIFT: {
        **REDSHIFT_MINIMAL, "ClusterIdentifier": "crm-dev", "MasterUserPassword": "Sup3rSecret!", "NumberOfNodes": 2,
        "Port": "5439", "Encrypted": True, "PubliclyAccessible": False,
        "IamRoles": ["arn:aws:iam::123456789012:role/r"],
        "LoggingProperties": {"BucketName": "logs"}, "Tags": [{"Key": "team", "Value": "crm"}],
    },
    SECRET: {
        "Name": "crm/dev/token", "Description": "CRM token", "KmsKeyId": "alias/crm",
        "GenerateSecretString": {"PasswordLength": 32, "ExcludePunctuation": "true", "SecretStringTemplate": "{}",
                                 "GenerateStringKey": "password"},
        "ReplicaRegions": [{"Region": "eu-west-1"}], "Tags": [{"Key": "team", "Value": "crm"}],
    },
    APPFLOW: {
        **APPFLOW_MINIMAL, "KMSArn": "arn:aws:kms:us-east-1:123456789012:key/abc",
        "ConnectorProfileConfig": {
            "ConnectorProfileProperties": {"Salesforce": {"InstanceUrl": "https://x.my.salesforce.com",
                                                          "isSandboxEnvironment": "false"}},
            "ConnectorProfileCredentials": {"Salesforce": {"AccessToken": "00Dabc", "RefreshToken": "5Aep"}},
        },
    },
}

PATTERN_ARN = r"arn:(aws[a-zA-Z-]*)?:iam::(\d{12}|aws):policy/[a-zA-Z_0-9+=,.@\-_/]+"
CASES = [
    # (id, type, props, the lines the user reads)
    ("enum", S3, {"VersioningConfiguration": {"Status": "Enabld"}},
     ['VersioningConfiguration.Status: "Enabld" is not an allowed value; allowed: Enabled, Suspended']),
    ("nested-required", S3, {"VersioningConfiguration": {}},
     ["VersioningConfiguration.Status: required property is missing; add Status"]),
    ("unknown-top", S3, {"BucketNme": "x"}, ["BucketNme: unknown property; did you mean 'BucketName'?"]),
    ("unknown-nested", S3, {"VersioningConfiguration": {"Status": "Enabled", "Stat": 1}},
     ["VersioningConfiguration.Stat: unknown property; did you mean 'Status'?"]),
    ("unknown-name-of-unknown-value", S3, {"BucketNme": Unknown("resources.a.Name")},
     ["BucketNme: unknown property; did you mean 'BucketName'?"]),
    ("unknown-value-skipped", S3, {"BucketName": Unknown("resources.a.Name"),
                                   "VersioningConfiguration": Unknown("resources.a.V")}, []),
    ("null-is-not-set", S3, {"BucketName": None}, []),
    ("anchored-pattern", S3, {"BucketName": "My_Bucket"},
     ['BucketName: "My_Bucket" does not match the required pattern; it must match ^([a-z0-9][a-z0-9.-]*[a-z0-9])?$']),
    ("max-length", S3, {"BucketName": "a" * 64},
     [f'BucketName: "{"a" * 64}" is 64 characters long, longer than the maximum of 63']),
    ("read-only", S3, {"Arn": "arn:aws:s3:::x"}, ["Arn: read-only: AWS sets it; remove it"]),
    ("anyOf-required", S3, {"WebsiteConfiguration": {"RoutingRules": [
        {"RoutingRuleCondition": {}, "RedirectRule": {"HostName": "x"}}]}},
     ["WebsiteConfiguration.RoutingRules[0].RoutingRuleCondition: needs one of HttpErrorCodeReturnedEquals or "
      "KeyPrefixEquals; add HttpErrorCodeReturnedEquals or KeyPrefixEquals"]),
    ("oneOf-closest-branch", S3, {"LoggingConfiguration": {"TargetObjectKeyFormat": {"SimplePrefix": {},
                                                                                     "PartitionedPrefix": {}}}},
     ["LoggingConfiguration.TargetObjectKeyFormat.PartitionedPrefix: unknown property; allowed: SimplePrefix"]),
    ("boolean-word", S3, {"ObjectLockEnabled": "yes"},
     ['ObjectLockEnabled: expected a boolean, got string: "yes"; use true or false']),
    ("boolean-string", S3, {"ObjectLockEnabled": "True"}, []),
    ("single-item-as-list", S3, {"Tags": {"Key": "a", "Value": "b"}}, []),
    ("not-a-list", S3, {"Tags": "a"}, ['Tags: expected a list, got string: "a"; use a list']),
    ("minimum", KMS, {"PendingWindowInDays": 3}, ["PendingWindowInDays: 3 is below the minimum of 7"]),
    ("maximum-of-integer-string", KMS, {"PendingWindowInDays": "45"},
     ["PendingWindowInDays: 45 is above the maximum of 30"]),
    ("integer-string", KMS, {"PendingWindowInDays": "7"}, []),
    ("fraction-for-integer", KMS, {"PendingWindowInDays": 7.5},
     ["PendingWindowInDays: expected an integer, got number: 7.5; use a whole number"]),
    ("number-for-boolean", KMS, {"Enabled": 1}, ["Enabled: expected a boolean, got integer: 1; use true or false"]),
    ("unique-items", KMS, {"Tags": [{"Key": "a", "Value": "b"}, {"Key": "a", "Value": "b"}]},
     ["Tags[1]: repeats item [0]; remove it; the items must be unique"]),
    ("required-in-list-item", KMS, {"Tags": [{"Key": "a"}]},
     ["Tags[0].Value: required property is missing; add Value"]),
    ("required-top", IAM, {}, ["AssumeRolePolicyDocument: required property is missing; add AssumeRolePolicyDocument"]),
    ("type-list", IAM, {"AssumeRolePolicyDocument": []},
     ["AssumeRolePolicyDocument: expected a mapping or a string, got list: []; "
      "use a mapping of property names to values"]),
    ("required-via-ref", IAM, {"AssumeRolePolicyDocument": TRUST, "Policies": [{"PolicyName": "p"}]},
     ["Policies[0].PolicyDocument: required property is missing; add PolicyDocument"]),
    ("minimum-iam", IAM, {"AssumeRolePolicyDocument": TRUST, "MaxSessionDuration": 60},
     ["MaxSessionDuration: 60 is below the minimum of 3600"]),
    ("unanchored-pattern-and-unique", IAM, {"AssumeRolePolicyDocument": TRUST, "ManagedPolicyArns": ["a", "a"]},
     [f'ManagedPolicyArns[0]: "a" does not match the required pattern; the whole value must match {PATTERN_ARN}',
      f'ManagedPolicyArns[1]: "a" does not match the required pattern; the whole value must match {PATTERN_ARN}',
      "ManagedPolicyArns[1]: repeats item [0]; remove it; the items must be unique"]),
    ("required-several", REDSHIFT, {},
     [f"{name}: required property is missing; add {name}"
      for name in ("NodeType", "MasterUsername", "DBName", "ClusterType")]),
    ("write-only-secret-hidden", REDSHIFT, {**REDSHIFT_MINIMAL, "MasterUserPassword": "x" * 65},
     ["MasterUserPassword: (sensitive) is 65 characters long, longer than the maximum of 64"]),
    ("minimum-nodes", REDSHIFT, {**REDSHIFT_MINIMAL, "NumberOfNodes": 0},
     ["NumberOfNodes: 0 is below the minimum of 1"]),
    ("nested-read-only", REDSHIFT, {**REDSHIFT_MINIMAL, "Endpoint": {"Address": "x"}},
     ["Endpoint.Address: read-only: AWS sets it; remove it"]),
    ("integer-garbage", REDSHIFT, {**REDSHIFT_MINIMAL, "Port": "5439x"},
     ['Port: expected an integer, got string: "5439x"; use a whole number']),
    ("secret-min-length", SECRET, {"SecretString": ""},
     ["SecretString: (sensitive) is 0 characters long, shorter than the minimum of 1"]),
    ("write-only-not-secret-shown", SECRET, {"GenerateSecretString": {"ExcludeLowercase": "maybe"}},
     ['GenerateSecretString.ExcludeLowercase: expected a boolean, got string: "maybe"; use true or false']),
    ("required-in-replica", SECRET, {"ReplicaRegions": [{"KmsKeyId": "k"}]},
     ["ReplicaRegions[0].Region: required property is missing; add Region"]),
    ("appflow-required", APPFLOW, {},
     [f"{name}: required property is missing; add {name}"
      for name in ("ConnectorProfileName", "ConnectionMode", "ConnectorType")]),
    ("appflow-enum", APPFLOW, {**APPFLOW_MINIMAL, "ConnectionMode": "Hybrid"},
     ['ConnectionMode: "Hybrid" is not an allowed value; allowed: Public, Private']),
    ("appflow-typo-deep", APPFLOW, {**APPFLOW_MINIMAL, "ConnectorProfileConfig": {
        "ConnectorProfileProperties": {"Salesforce": {"InstanceURL": "https://x"}}}},
     ["ConnectorProfileConfig.ConnectorProfileProperties.Salesforce.InstanceURL: unknown property; "
      "did you mean 'InstanceUrl'?"]),
    ("appflow-name-pattern", APPFLOW, {**APPFLOW_MINIMAL, "ConnectorProfileName": "has space"},
     [r'ConnectorProfileName: "has space" does not match the required pattern; the whole value must match '
      r"[\w/!@#+=.-]+"]),
    ("appflow-credential-hidden", APPFLOW, {**APPFLOW_MINIMAL, "ConnectorProfileConfig": {
        "ConnectorProfileCredentials": {"Salesforce": {"AccessToken": "a b"}}}},
     [r"ConnectorProfileConfig.ConnectorProfileCredentials.Salesforce.AccessToken: (sensitive) does not match "
      r"the required pattern; the whole value must match \S+"]),
    ("appflow-read-only", APPFLOW, {**APPFLOW_MINIMAL, "CredentialsArn": "arn:x"},
     ["CredentialsArn: read-only: AWS sets it; remove it"]),
]


@pytest.mark.parametrize(("type_name", "props", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_problem_reads_as_one_exact_line(type_name: str, props: dict[str, Any], expected: list[str]) -> None:
    assert [describe(v) for v in check_properties(type_schema(type_name), props)] == expected


def test_a_violation_carries_path_value_problem_and_fix() -> None:
    [violation] = check_properties(type_schema(S3), {"VersioningConfiguration": {"Status": "Enabld"}})
    assert violation.path == ("VersioningConfiguration", "Status")
    assert (violation.value, violation.has_value, violation.sensitive) == ("Enabld", True, False)
    assert violation.problem == "is not an allowed value"
    assert violation.fix == "allowed: Enabled, Suspended"


@pytest.mark.parametrize("type_name", sorted(VALID))
def test_a_full_valid_example_passes(type_name: str) -> None:
    assert [describe(v) for v in check_properties(type_schema(type_name), VALID[type_name])] == []


def test_reports_are_bounded_per_resource() -> None:
    found = check_properties(type_schema(KMS), {f"Bad{i}": 1 for i in range(MAX_REPORTED + 10)})
    assert len(found) == MAX_REPORTED + 1
    assert describe(found[-1]) == "... and 10 more problems"


def _synthetic(schema: dict[str, Any]) -> TypeSchema:
    return TypeSchema(type_name="Test::Cyclic::Thing", schema=schema, properties=frozenset(schema["properties"]),
                      required=frozenset(), create_only=(), read_only=(), write_only=(), primary_identifier=(),
                      handlers=frozenset(), provisionable=False)


def test_ref_cycles_and_depth_are_bounded() -> None:
    schema = {
        "definitions": {"Node": {"type": "object", "properties": {"Child": {"$ref": "#/definitions/Node"}},
                                 "additionalProperties": False},
                        "Loop": {"$ref": "#/definitions/Loop"}},
        "properties": {"Root": {"$ref": "#/definitions/Node"}, "Loop": {"$ref": "#/definitions/Loop"}},
        "additionalProperties": False,
    }
    deep: dict[str, Any] = {}
    for _ in range(MAX_DEPTH + 5):
        deep = {"Child": deep}
    found = check_properties(_synthetic(schema), {"Root": deep, "Loop": "anything"})
    assert [describe(v) for v in found] == [
        "Root" + ".Child" * MAX_DEPTH + f": is nested more than {MAX_DEPTH} levels deep; stack checks no deeper"]


def test_every_us_east_1_type_takes_an_empty_mapping_quickly() -> None:
    started = time.perf_counter()
    with_required = 0
    for name in type_names():
        schema = type_schema(name)
        found = check_properties(schema, {})
        top_read_only = {p.split("/")[2] for p in schema.read_only if p.count("/") == 2}
        missing = {v.path[0] for v in found if v.problem == "required property is missing"}
        assert missing >= schema.required - top_read_only, name  # more from a top-level allOf, oneOf or anyOf
        others = [describe(v) for v in found if v.problem != "required property is missing"]
        assert all(line.startswith("needs ") for line in others), (name, others)
        with_required += bool(missing)
    elapsed = time.perf_counter() - started
    # 1,605 of 1,868 with cfn-lint 1.58.0; 35 of them also need one of several properties
    assert 1000 < with_required < len(type_names()), with_required
    assert elapsed < 30, elapsed  # 0.8 s loading the schemas from cfn-lint, then 0.03 s for the checks


def test_a_pattern_that_does_not_compile_is_skipped_and_counted() -> None:
    schema = {"properties": {"Name": {"type": "string", "pattern": "^([a-z$"}}, "additionalProperties": False}
    assert check_properties(_synthetic(schema), {"Name": "Anything At All"}) == []
    assert "^([a-z$" in skipped_patterns()


def test_one_of_bare_required_lists_names_the_choice() -> None:
    schema = {"properties": {"A": {"type": "string"}, "B": {"type": "string"}}, "additionalProperties": False,
              "oneOf": [{"required": ["A"]}, {"required": ["B"]}]}
    checked = _synthetic(schema)
    assert [describe(v) for v in check_properties(checked, {})] == ["needs one of A or B; add A or B"]
    assert [describe(v) for v in check_properties(checked, {"A": "x", "B": "y"})] == [
        "sets A and B, which cannot be set together; keep only one of A or B"]
    grouped = _synthetic({**schema, "properties": {**schema["properties"], "C": {"type": "string"}},
                          "oneOf": [{"required": ["A"]}, {"required": ["B", "C"]}]})
    assert [describe(v) for v in check_properties(grouped, {"B": "y"})] == ["needs A, or B and C; add A, or B and C"]
    assert [describe(v) for v in check_properties(grouped, {})] == ["needs A, or B and C; add A, or B and C"]
    assert check_properties(checked, {"B": "y"}) == []
