"""deployer.registry: every CloudFormation type from cfn-lint's provider schemas.

Every us-east-1 schema loads into a TypeSchema; the facts the engine will rely on
(primary identifier, create-only, read-only and write-only properties) read as AWS
ships them; types Cloud Control cannot provision are refused with the reason; StackQL
ids resolve to type names; ``stack types`` lists them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deployer import registry
from deployer.cli import main
from deployer.errors import StackError
from deployer.registry import (
    TypeSchema,
    UnknownType,
    compiled_schema_pattern,
    resolve_type,
    type_names,
    type_schema,
)

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "aws-appflow-connectorprofile.schema.json"


def _all() -> list[TypeSchema]:
    return [type_schema(name) for name in type_names()]


def test_every_us_east_1_schema_loads_into_a_type_schema() -> None:
    names = type_names()
    assert 1500 < len(names) < 4000, len(names)  # 1868 with cfn-lint 1.58.0 (schemas of 2026-10-20)
    assert names == tuple(sorted(set(names)))
    loaded = _all()
    assert [found.type_name for found in loaded] == list(names)
    for found in loaded:
        assert found.properties, found.type_name
        assert found.required <= found.properties, found.type_name
        assert found.primary_identifier or not found.provisionable, found.type_name  # some SAM types have none
        assert found.handlers <= set(registry.HANDLERS)
        for pointer in (*found.create_only, *found.read_only, *found.write_only, *found.primary_identifier):
            assert pointer.startswith("/properties/"), (found.type_name, pointer)


def test_counts_of_provisionable_and_refused_types() -> None:
    loaded = _all()
    refused = [found for found in loaded if not found.provisionable]
    provisionable = len(loaded) - len(refused)
    print(f"\n{len(loaded)} us-east-1 types: {provisionable} provisionable, {len(refused)} refused")
    assert 1400 < provisionable < 4000, provisionable  # 1737 with cfn-lint 1.58.0
    assert 50 < len(refused) < 300, len(refused)  # 131: 117 without create/read/delete, 14 AWS SAM
    for found in loaded:
        assert found.provisionable == (not found.why_not), found.type_name
        if found.provisionable:
            assert {"create", "read", "delete"} <= found.handlers, found.type_name


def test_a_type_without_handlers_is_refused_with_the_missing_ones_named() -> None:
    mesh = type_schema("AWS::AppMesh::Mesh")
    assert not mesh.provisionable and not mesh.handlers
    assert mesh.why_not == "its schema has no create, read or delete handler, so Cloud Control cannot provision it"
    policy = type_schema("AWS::IAM::Policy")  # create, update and delete, but no read
    assert not policy.provisionable
    assert policy.why_not == "its schema has no read handler, so Cloud Control cannot provision it"


def test_the_data_table_refuses_types_whatever_their_schema_says(monkeypatch: pytest.MonkeyPatch) -> None:
    table = json.loads((Path(registry.__file__).parent / "data" / "non_provisionable.json").read_text())
    assert "supported-resources" in " ".join(table["_comment"])  # the source is named
    assert set(table["types"]) <= set(type_names())  # no entry for a type that does not exist
    function = type_schema("AWS::Serverless::Function")
    assert not function.provisionable and "AWS SAM" in function.why_not

    monkeypatch.setattr(registry, "_refused", lambda: {"AWS::S3::Bucket": "not in AWS's list"})
    registry._type_schema.cache_clear()
    try:
        bucket = type_schema("AWS::S3::Bucket")
        assert not bucket.provisionable and bucket.why_not == "not in AWS's list"
        assert {"create", "read", "delete"} <= bucket.handlers  # the schema says otherwise
    finally:
        registry._type_schema.cache_clear()


def test_known_facts_of_s3_kms_and_appflow() -> None:
    bucket = type_schema("AWS::S3::Bucket")
    assert bucket.primary_identifier == ("/properties/BucketName",)
    assert "/properties/BucketName" in bucket.create_only
    assert bucket.provisionable and bucket.handlers == {"create", "read", "update", "delete", "list"}
    assert "BucketName" in bucket.properties and "definitions" in bucket.schema

    key = type_schema("AWS::KMS::Key")
    assert {"/properties/Arn", "/properties/KeyId"} <= set(key.read_only)

    profile = type_schema("AWS::AppFlow::ConnectorProfile")
    reference = json.loads(REFERENCE.read_text())
    assert set(profile.write_only) == {"/properties/ConnectorProfileConfig", "/properties/KMSArn"}
    assert list(profile.write_only) == reference["writeOnlyProperties"]
    assert list(profile.read_only) == reference["readOnlyProperties"]
    assert list(profile.create_only) == reference["createOnlyProperties"]
    assert list(profile.primary_identifier) == reference["primaryIdentifier"]
    assert profile.required == set(reference["required"])
    assert profile.properties == set(reference["properties"])
    assert dict(profile.schema) == reference  # the registry sees what shared/reference holds


def test_lookups_are_cached_and_a_schema_is_a_copy_cfn_lint_cannot_change() -> None:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    assert type_schema("AWS::S3::Bucket") is type_schema("AWS::S3::Bucket", "us-east-1")
    assert type_schema("AWS::S3::Bucket").schema is not PROVIDER_SCHEMA_MANAGER.get_resource_schema(
        "us-east-1", "AWS::S3::Bucket").schema
    assert type_schema("AWS::S3::Bucket", "eu-west-1").primary_identifier == ("/properties/BucketName",)


TIMED = """
import time
started = time.perf_counter()
from deployer.registry import type_names, type_schema
type_schema("AWS::EC2::VPC")
first = time.perf_counter() - started
started = time.perf_counter()
count = len([type_schema(name) for name in type_names()])
print(first, time.perf_counter() - started, count)
"""


def test_loading_is_fast_enough_for_validate() -> None:
    """In a fresh process: the first lookup pays for importing cfn-lint and reading one schema."""
    timed = subprocess.run([sys.executable, "-c", TIMED], capture_output=True, text=True, timeout=120,
                           cwd=Path(registry.__file__).parents[1])
    assert timed.returncode == 0, timed.stderr
    first, every, count = timed.stdout.split()
    print(f"\nfirst lookup {float(first) * 1000:.0f} ms, then all {count} us-east-1 types {float(every):.2f} s")
    assert float(first) < 5 and float(every) < 30


STACKQL_IDS = [
    ("aws.s3.buckets", "AWS::S3::Bucket"),
    ("awscc.s3.buckets", "AWS::S3::Bucket"),
    ("aws.appflow.connector_profiles", "AWS::AppFlow::ConnectorProfile"),
    ("aws.iam.roles", "AWS::IAM::Role"),
    ("aws.iam.policies", "AWS::IAM::Policy"),
    ("aws.ec2.vpcs", "AWS::EC2::VPC"),
    ("aws.ec2.eips", "AWS::EC2::EIP"),
    ("aws.ec2.dhcp_options", "AWS::EC2::DHCPOptions"),
    ("aws.ec2.vpc_endpoints", "AWS::EC2::VPCEndpoint"),
    ("aws.ec2.security_groups", "AWS::EC2::SecurityGroup"),
    ("aws.rds.db_instances", "AWS::RDS::DBInstance"),
    ("aws.kms.keys", "AWS::KMS::Key"),
    ("aws.lambda.functions", "AWS::Lambda::Function"),
    ("aws.wafv2.ip_sets", "AWS::WAFv2::IPSet"),
    ("aws.glue.classifiers", "AWS::Glue::Classifier"),
    ("aws.opensearchserverless.indices", None),  # Index: StackQL spells it indexes
    ("aws.opensearchserverless.indexes", "AWS::OpenSearchServerless::Index"),
    ("aws.ecs.cluster_capacity_provider_associations", "AWS::ECS::ClusterCapacityProviderAssociations"),
    ("AWS::S3::Bucket", "AWS::S3::Bucket"),
]


@pytest.mark.parametrize(("name", "expected"), STACKQL_IDS)
def test_stackql_ids_resolve_to_type_names(name: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(UnknownType):
            resolve_type(name)
    else:
        assert resolve_type(name) == expected


def test_every_aws_type_has_a_stackql_id_that_resolves_back() -> None:
    for name in type_names():
        organization, service, resource = name.split("::")
        if organization == "AWS":
            stackql_id = f"aws.{service.lower()}.{registry._snake_plural(resource)}"
            assert resolve_type(stackql_id) == name, stackql_id


def test_unknown_types_and_ids_say_what_was_meant() -> None:
    with pytest.raises(UnknownType, match=r"unknown resource type 'AWS::S3::Buckett' in us-east-1; "
                                          r"did you mean 'AWS::S3::Bucket'\?"):
        type_schema("AWS::S3::Buckett")
    with pytest.raises(UnknownType, match=r"unknown StackQL id 'aws.s3.bukets'; did you mean 'aws.s3.buckets'\?"):
        resolve_type("aws.s3.bukets")
    with pytest.raises(UnknownType, match="unknown StackQL service 'nosuch'"):
        resolve_type("aws.nosuch.things")
    with pytest.raises(UnknownType, match="expected a type such as AWS::S3::Bucket or a StackQL id"):
        type_schema("bucket")
    with pytest.raises(UnknownType, match="run `stack types` for the list"):  # nothing close: no list of 1868
        type_schema("AWS::Zzz::Qqq")
    with pytest.raises(StackError, match="unknown region 'us-east-9'; did you mean"):
        type_schema("AWS::S3::Bucket", "us-east-9")
    assert issubclass(UnknownType, StackError)


def test_java_style_patterns_compile_with_regex(capsys: pytest.CaptureFixture[str]) -> None:
    patterns: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    patterns.add(value)
                elif key == "patternProperties" and isinstance(value, dict):
                    patterns.update(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for found in _all():
        walk(found.schema)
    with_re = with_regex = 0
    for pattern in patterns:
        try:
            re.compile(pattern)
            with_re += 1
        except re.error:
            pass
        try:
            compiled_schema_pattern(pattern)
            with_regex += 1
        except StackError:
            pass
    print(f"\n{len(patterns)} distinct patterns: {with_regex} compile with regex, {with_re} with re")
    assert with_regex == len(patterns) > 2000
    assert with_re < with_regex

    printable = compiled_schema_pattern(r"^[\p{Print}]*$")
    assert printable.search("Hello") and not printable.search("a\x07b")
    stop = compiled_schema_pattern(r"^(?!(?i)(stop|help)$)[ \S]+")  # inline flag mid-pattern: re refuses it
    assert not stop.search("STOP") and stop.search("go")
    xml = compiled_schema_pattern(r"^[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\r\n\t]*$")
    assert xml.search("emoji \U0001F600\n") and not xml.search("bell \x07")
    with pytest.raises(StackError, match="does not compile"):
        compiled_schema_pattern("[unclosed")


def test_stack_types_lists_and_filters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["types", "s3::"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:-1] == [name for name in type_names() if "s3::" in name.lower()]
    assert "AWS::S3::Bucket" in out and "AWS::S3Express::DirectoryBucket" not in out
    assert out[-1].startswith(f"{len(out) - 1} types, 0 not provisionable through Cloud Control.")
    assert "not wired in yet" in out[-1]

    assert main(["types", "APPMESH::MESH"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("AWS::AppMesh::Mesh  not provisionable: its schema has no create, read or delete handler, "
                      "so Cloud Control cannot provision it")
    assert out[-1].startswith("1 type, 1 not provisionable")

    assert main(["types", "zzzq"]) == 1
    assert "Error: no resource type contains 'zzzq'" in capsys.readouterr().err
