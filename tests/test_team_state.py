"""Team state on S3 (moto server) with deploys against the AppFlow emulator: runners, migrate, pull, push."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from deployer.backends.s3 import S3Backend
from deployer.cli import main
from deployer.emulator import Emulator
from deployer.lock import acquire
from tests.support import MotoServer, appflow_client
from tests.test_reliability import write_stack

BUCKET = "team-state"


@pytest.fixture
def team(against_emulator: Emulator, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh prefix in a versioned bucket, and S3 pointed at moto the standard way."""
    s3 = moto_server.client("s3")
    try:
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server.endpoint)
    return f"s3://{BUCKET}/{uuid.uuid4().hex}"


def all_object_versions(moto_server: MotoServer, prefix: str) -> str:
    s3 = moto_server.client("s3")
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=prefix).get("Versions", [])
    return "\n".join(s3.get_object(Bucket=BUCKET, Key=v["Key"], VersionId=v["VersionId"])["Body"].read().decode()
                     for v in versions)


def live(emulator: Emulator) -> list[str]:
    details = appflow_client(emulator.endpoint).describe_connector_profiles()["connectorProfileDetails"]
    return sorted(d["connectorProfileName"] for d in details)


def test_two_runners_share_state_through_s3(team: str, against_emulator: Emulator, moto_server: MotoServer,
                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STACK_STATE", team)
    first = write_stack(tmp_path / "laptop", 2)
    second = tmp_path / "ci-runner"
    shutil.copytree(first, second)
    secret = ["-e", "Secret=team-secret-value-1"]

    assert main(["deploy", str(first), "--auto-approve", *secret]) == 0
    assert live(against_emulator) == ["reliable-p00", "reliable-p01"]
    assert not (first / ".stack").exists()  # nothing local: the state is in S3

    assert main(["plan", str(second), "--detailed-exitcode", *secret]) == 0  # the other runner sees it
    write_stack(second, 3)
    assert main(["deploy", str(second), "--auto-approve", *secret]) == 0
    assert main(["state", "list", str(first)]) == 0
    assert capsys.readouterr().out.count("AWS::AppFlow::ConnectorProfile") == 3

    assert main(["destroy", str(second), "--auto-approve", *secret]) == 0
    assert live(against_emulator) == []
    prefix = team.removeprefix(f"s3://{BUCKET}/")
    stored = all_object_versions(moto_server, prefix)
    assert stored.count('"lineage"') >= 5  # every version of the state is kept by bucket versioning
    assert "team-secret-value-1" not in stored


def test_a_runner_holding_the_s3_lock_stops_another(team: str, against_emulator: Emulator, moto_server: MotoServer,
                                                    tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    bucket, _, prefix = team.removeprefix("s3://").partition("/")
    client = moto_server.client("s3")
    holder, _ = acquire(S3Backend(lambda service, region: client, bucket, prefix, "reliable", "dev").lock, "deploy")
    assert main(["deploy", str(stack), "--auto-approve", "--state", team, "-e", "Secret=s"]) == 1
    assert f"the stack is locked: lock {holder.lock_id} held by" in capsys.readouterr().err
    assert against_emulator.stats.total == 0
    assert main(["state", "unlock", str(stack), holder.lock_id, "--state", team]) == 0
    assert main(["deploy", str(stack), "--auto-approve", "--state", team, "-e", "Secret=s"]) == 0


def test_migrate_local_state_to_s3(team: str, against_emulator: Emulator, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 2)
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=s"]) == 0
    capsys.readouterr()
    assert main(["state", "migrate", str(stack), "--to", team]) == 0
    assert f"Copied the state from {stack}/.stack/state/dev.json to {team}/reliable/dev.json" in capsys.readouterr().out
    assert main(["plan", str(stack), "--state", team, "-e", "Secret=s", "--detailed-exitcode"]) == 0
    assert main(["state", "migrate", str(stack), "--to", team]) == 1  # the target holds a state now
    assert "already holds a state; pass --force" in capsys.readouterr().err


def test_pull_and_push_follow_serial_and_lineage(team: str, against_emulator: Emulator, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    assert main(["deploy", str(stack), "--auto-approve", "--state", team, "-e", "Secret=s"]) == 0
    capsys.readouterr()
    assert main(["state", "pull", str(stack), "--state", team]) == 0
    pulled = capsys.readouterr().out
    saved = tmp_path / "pulled.json"
    saved.write_text(pulled)
    assert json.loads(pulled)["resources"]["p00"]["identifier"] == "reliable-p00"

    assert main(["state", "push", str(stack), str(saved), "--state", team]) == 1
    assert "not newer than the stored" in capsys.readouterr().err
    newer = json.loads(pulled)
    newer["serial"] += 5
    saved.write_text(json.dumps(newer))
    assert main(["state", "push", str(stack), str(saved), "--state", team]) == 0
    foreign = {**newer, "lineage": "another-lineage", "serial": 99}
    saved.write_text(json.dumps(foreign))
    assert main(["state", "push", str(stack), str(saved), "--state", team]) == 1
    assert "they are different states; pass --force" in capsys.readouterr().err
    assert main(["state", "push", str(stack), str(saved), "--state", team, "--force"]) == 0
    assert main(["plan", str(stack), "--state", team, "-e", "Secret=s", "--detailed-exitcode"]) == 0


def test_the_manifest_can_name_the_state_location(team: str, against_emulator: Emulator, moto_server: MotoServer,
                                                  tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "s", 1)
    (stack / "stack.yaml").write_text(f"state: {team}\n" + (stack / "stack.yaml").read_text())
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=s"]) == 0
    assert not (stack / ".stack").exists()
    prefix = team.removeprefix(f"s3://{BUCKET}/")
    keys = [o["Key"] for o in moto_server.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]]
    assert keys == [f"{prefix}/reliable/dev.json"]  # and the lock is gone again


@pytest.mark.parametrize("naming", ["manifest", "--state", "STACK_STATE"])
def test_a_saved_plan_applies_to_s3_state(naming: str, team: str, against_emulator: Emulator, moto_server: MotoServer,
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    secret = ["-e", "Secret=team-secret-value-1"]
    state = ["--state", team] if naming == "--state" else []
    if naming == "manifest":
        (stack / "stack.yaml").write_text(f"state: {team}\n" + (stack / "stack.yaml").read_text())
    elif naming == "STACK_STATE":
        monkeypatch.setenv("STACK_STATE", team)
    assert main(["deploy", str(stack), "--auto-approve", *state, *secret]) == 0
    (stack / "stack.yaml").write_text((stack / "stack.yaml").read_text().replace("p00.zendesk", "moved.zendesk"))
    plan = tmp_path / "plan.json"
    assert main(["plan", str(stack), "-o", str(plan), *state, *secret]) == 0
    monkeypatch.delenv("STACK_STATE", raising=False)  # the plan knows where its state is

    capsys.readouterr()
    assert main(["apply", str(plan), "--state", f"{team}-elsewhere", *secret]) == 1  # --state wins over the plan's
    assert "is stale, nothing was applied: the state is another one now" in capsys.readouterr().err
    assert main(["apply", str(plan), *secret]) == 0

    details = appflow_client(against_emulator.endpoint).describe_connector_profiles()["connectorProfileDetails"]
    assert [d["connectorProfileProperties"]["Zendesk"]["instanceUrl"] for d in details] == ["https://moved.zendesk.com"]
    prefix = team.removeprefix(f"s3://{BUCKET}/")
    s3 = moto_server.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]]
    assert keys == [f"{prefix}/reliable/dev.json"]  # not PREFIX/reliable/dev.json/reliable/dev.json, and unlocked
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read())
    assert stored["resources"]["p00"]["applied"]["connectorProfileConfig"]["connectorProfileProperties"] == {
        "Zendesk": {"instanceUrl": "https://moved.zendesk.com"}}
    if naming == "STACK_STATE":
        monkeypatch.setenv("STACK_STATE", team)
    assert main(["plan", str(stack), "--detailed-exitcode", *state, *secret]) == 0


def test_the_intent_journal_works_on_s3(team: str, against_emulator: Emulator, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 2)
    against_emulator.knobs.fail_next("LostResponse", operation="CreateConnectorProfile")
    assert main(["deploy", str(stack), "--auto-approve", "--state", team, "-e", "Secret=s", "--parallelism", "1",
                 "--max-attempts", "1"]) == 1
    capsys.readouterr()
    assert main(["state", "show", str(stack), "--state", team, "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["pending"]["p00"]["operation"] == "create"
    against_emulator.stats.reset()
    assert main(["deploy", str(stack), "--auto-approve", "--state", team, "-e", "Secret=s"]) == 0
    assert "Recovered: p00: an interrupted create of reliable-p00 had completed" in capsys.readouterr().err
    assert against_emulator.stats.calls["CreateConnectorProfile"] == 0
    assert live(against_emulator) == ["reliable-p00", "reliable-p01"]
