"""Any CloudFormation type, end to end: the redshift-pipeline example against the emulator's Cloud Control.

KMS key, S3 bucket, IAM role, Secrets Manager secret and Redshift cluster go through Cloud Control; the
connector profile that reads their attributes through the native AppFlow API. Every test checks what the
emulator holds afterwards (through boto3 ``cloudcontrol`` and ``appflow`` clients), and that the next plan
is clean; the CLI runs in-process on a copy of the example.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.support import appflow_client, cloudcontrol_client

EXAMPLE = Path(__file__).resolve().parent.parent / "manifests" / "redshift-pipeline"
CLOUD_RESOURCES = {"key": "AWS::KMS::Key", "bucket": "AWS::S3::Bucket", "role": "AWS::IAM::Role",
                   "credentials": "AWS::SecretsManager::Secret", "cluster": "AWS::Redshift::Cluster"}
BUCKET = "redshift-pipeline-dev-123456789012-staging"
PROFILE = "redshift-pipeline-dev-redshift"


@pytest.fixture
def against_emulator(against_live_emulator: Emulator) -> Emulator:
    return against_live_emulator


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    copy = tmp_path / "redshift-pipeline"
    shutil.copytree(EXAMPLE, copy)
    return copy


def state_of(stack: Path) -> dict[str, Any]:
    return dict(json.loads((stack / ".stack" / "state" / "dev.json").read_text()))


def read(emulator: Emulator, type_name: str, identifier: str) -> dict[str, Any] | None:
    client = cloudcontrol_client(emulator.endpoint)
    try:
        found = client.get_resource(TypeName=type_name, Identifier=identifier)
    except client.exceptions.ResourceNotFoundException:
        return None
    return dict(json.loads(found["ResourceDescription"]["Properties"]))


def listed(emulator: Emulator, type_name: str) -> list[str]:
    pages = cloudcontrol_client(emulator.endpoint).get_paginator("list_resources").paginate(TypeName=type_name)
    return [d["Identifier"] for page in pages for d in page["ResourceDescriptions"]]


def profile(emulator: Emulator) -> dict[str, Any] | None:
    details = appflow_client(emulator.endpoint).describe_connector_profiles(
        connectorProfileNames=[PROFILE])["connectorProfileDetails"]
    return details[0] if details else None


def deploy(stack: Path, *extra: str) -> None:
    assert main(["deploy", str(stack), "--auto-approve", *extra]) == 0


def assert_settled(stack: Path, *extra: str) -> None:
    assert main(["plan", str(stack), "--detailed-exitcode", *extra]) == 0
    assert state_of(stack)["pending"] == {}


def assert_state_is_aws(emulator: Emulator, stack: Path) -> None:
    """Exactly one resource of each type, the one state records, and the profile wired to them."""
    resources = state_of(stack)["resources"]
    for name, type_name in CLOUD_RESOURCES.items():
        assert listed(emulator, type_name) == [resources[name]["identifier"]], name
    cluster = read(emulator, "AWS::Redshift::Cluster", resources["cluster"]["identifier"])
    role = read(emulator, "AWS::IAM::Role", resources["role"]["identifier"])
    bucket = resources["bucket"]["identifier"]
    assert cluster is not None and role is not None
    redshift = profile(emulator)["connectorProfileProperties"]["Redshift"]  # type: ignore[index]
    endpoint = cluster["Endpoint"]
    assert redshift["databaseUrl"] == f"jdbc:redshift://{endpoint['Address']}:{endpoint['Port']}/analytics"
    assert redshift["bucketName"] == bucket
    assert redshift["roleArn"] == role["Arn"]
    assert redshift["clusterIdentifier"] == cluster["ClusterIdentifier"]
    assert role["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"] == [
        f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


def test_the_pipeline_deploys_and_a_second_run_changes_nothing(against_emulator: Emulator, stack: Path) -> None:
    deploy(stack)
    assert_state_is_aws(against_emulator, stack)
    key = state_of(stack)["resources"]["key"]
    assert read(against_emulator, "AWS::KMS::Key", key["identifier"])["Arn"] == key["arn"]  # type: ignore[index]
    cluster = read(against_emulator, "AWS::Redshift::Cluster", "redshift-pipeline-dev-warehouse")
    assert cluster is not None and "MasterUserPassword" not in cluster  # write-only: never read back
    assert cluster["KmsKeyId"] == key["arn"]
    assert_settled(stack)
    against_emulator.stats.reset()
    deploy(stack)
    changes = {op: n for op, n in against_emulator.stats.calls.items()
               if op.startswith(("Create", "Update", "Delete"))}
    assert changes == {}


def test_no_secret_reaches_state_or_output(against_emulator: Emulator, stack: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    deploy(stack)
    assert main(["plan", str(stack)]) == 0
    seen = capsys.readouterr()
    state = (stack / ".stack" / "state" / "dev.json").read_text()
    for text in (seen.out, seen.err, state):
        assert "example-dev-Passw0rd" not in text


def test_a_tag_change_is_an_update_in_place(against_emulator: Emulator, stack: Path) -> None:
    deploy(stack)
    before = {name: r["identifier"] for name, r in state_of(stack)["resources"].items()}
    against_emulator.stats.reset()
    deploy(stack, "-e", "Team=analytics")
    assert {name: r["identifier"] for name, r in state_of(stack)["resources"].items()} == before
    assert against_emulator.stats.calls["UpdateResource"] == 4  # key, bucket, role, cluster carry the tag
    assert against_emulator.stats.calls["CreateResource"] == 0
    for name in ("key", "bucket", "role", "cluster"):
        found = read(against_emulator, CLOUD_RESOURCES[name], before[name])
        assert found is not None and found["Tags"] == [{"Key": "team", "Value": "analytics"}], name
    assert_settled(stack, "-e", "Team=analytics")


def test_a_bucket_rename_replaces_it_and_what_reads_it_follows(against_emulator: Emulator, stack: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    deploy(stack)
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace("-{{ AccountId }}-staging'", "-{{ AccountId }}-landing'"))
    capsys.readouterr()
    assert main(["plan", str(stack)]) == 0
    shown = capsys.readouterr().out
    assert "-/+ bucket [redshift-pipeline-dev-123456789012-landing in us-east-1] must be replaced" in shown
    assert "# BucketName changes (forces replacement)" in shown
    assert 'BucketName: "(known after apply)"' not in shown
    assert ".Redshift.BucketName: \"redshift-pipeline-dev-123456789012-staging\" -> \"(known after apply)\"" in shown
    deploy(stack)
    assert read(against_emulator, "AWS::S3::Bucket", BUCKET) is None
    assert read(against_emulator, "AWS::S3::Bucket", "redshift-pipeline-dev-123456789012-landing") is not None
    assert_state_is_aws(against_emulator, stack)
    assert_settled(stack)


def test_destroy_removes_dependents_first_and_deploy_makes_it_all_again(
        against_emulator: Emulator, stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        deploy(stack)
        assert_state_is_aws(against_emulator, stack)
        assert_settled(stack)
        capsys.readouterr()
        assert main(["destroy", str(stack), "--auto-approve", "--output", "json"]) == 0
        events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        deleted = [e["resource"] for e in events if e["type"] == "change_finished" and e["outcome"] == "done"]
        assert deleted.index("profile") < deleted.index("cluster") < deleted.index("role")
        assert deleted.index("role") < deleted.index("bucket") < deleted.index("key")
        assert deleted.index("credentials") < deleted.index("key")
        for type_name in CLOUD_RESOURCES.values():
            assert listed(against_emulator, type_name) == []
        assert profile(against_emulator) is None
        assert state_of(stack)["resources"] == {}


def test_drift_is_found_and_repaired(against_emulator: Emulator, stack: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    deploy(stack)
    patch = [{"op": "replace", "path": "/VersioningConfiguration/Status", "value": "Suspended"}]
    client = cloudcontrol_client(against_emulator.endpoint)
    client.update_resource(TypeName="AWS::S3::Bucket", Identifier=BUCKET, PatchDocument=json.dumps(patch))
    capsys.readouterr()
    assert main(["drift", str(stack)]) == 2
    assert 'VersioningConfiguration.Status: "Enabled" (last applied) -> "Suspended" (AWS)' in capsys.readouterr().out
    deploy(stack)
    assert read(against_emulator, "AWS::S3::Bucket", BUCKET)["VersioningConfiguration"] == {  # type: ignore[index]
        "Status": "Enabled"}
    assert main(["drift", str(stack)]) == 0
    assert_settled(stack)


def test_a_resource_deleted_outside_is_created_again(against_emulator: Emulator, stack: Path) -> None:
    deploy(stack)
    secret = state_of(stack)["resources"]["credentials"]["identifier"]
    cloudcontrol_client(against_emulator.endpoint).delete_resource(
        TypeName="AWS::SecretsManager::Secret", Identifier=secret)
    assert listed(against_emulator, "AWS::SecretsManager::Secret") == []
    deploy(stack)
    assert len(listed(against_emulator, "AWS::SecretsManager::Secret")) == 1
    assert_state_is_aws(against_emulator, stack)
    assert_settled(stack)


def test_a_bucket_that_exists_outside_the_stack_blocks_the_plan_until_adopted(
        against_emulator: Emulator, stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cloudcontrol_client(against_emulator.endpoint).create_resource(
        TypeName="AWS::S3::Bucket", DesiredState=json.dumps({"BucketName": BUCKET}))
    assert main(["plan", str(stack)]) == 1
    shown = capsys.readouterr()
    assert f"a AWS::S3::Bucket '{BUCKET}' exists in AWS but not in this stack's state" in shown.out
    assert f"stack state import {stack} bucket {BUCKET}" in shown.out + shown.err
    assert main(["deploy", str(stack), "--auto-approve"]) == 1
    assert listed(against_emulator, "AWS::KMS::Key") == []  # a blocked plan applies nothing at all
    deploy(stack, "--adopt")
    assert listed(against_emulator, "AWS::S3::Bucket") == [BUCKET]
    adopted = read(against_emulator, "AWS::S3::Bucket", BUCKET)
    assert adopted is not None and adopted["VersioningConfiguration"] == {"Status": "Enabled"}
    assert_state_is_aws(against_emulator, stack)
    assert_settled(stack)


def test_a_request_aws_fails_is_reported_and_leaves_nothing_pending(
        against_emulator: Emulator, stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    against_emulator.knobs.fail_next("ServiceQuotaExceededException", operation="CreateResource")
    assert main(["deploy", str(stack), "--auto-approve"]) == 1
    out = capsys.readouterr()
    assert ("Error: key: CreateResource failed for a new AWS::KMS::Key: ServiceQuotaExceededException: "
            in out.err)
    assert state_of(stack)["pending"] == {}
    assert listed(against_emulator, "AWS::KMS::Key") == []
    deploy(stack)
    assert_state_is_aws(against_emulator, stack)
    assert_settled(stack)
