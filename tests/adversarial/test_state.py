"""State that is hand-edited, corrupted, deleted or cannot be written, and AWS_REGION on its own.

Every run is the real CLI against the AppFlow emulator, with state in a local file or in S3 on
moto. A state that cannot be trusted stops the command with "the state file is unreadable (...)"
naming the first problem at its JSON path and how to get a good state back, before any AWS call;
a write that fails leaves the stored state as it was and the next run carries on.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from deployer.backends.local import LocalBackend
from deployer.cli import main
from deployer.emulator import Emulator
from deployer.errors import StateError
from deployer.state import MAX_STATE_BYTES, StackState
from tests.support import DUMMY_CREDENTIALS, MotoServer, appflow_client
from tests.test_reliability import live_names, write_stack

BUCKET = "adversarial-state"
SECRET = ["-e", "Secret=adversarial-secret-1"]
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Place:
    """Where a deployed one-profile stack keeps its state, and how to reach the stored bytes."""

    stack: Path
    args: list[str]  # what a command needs to find the state
    get: Callable[[], bytes]
    put: Callable[[bytes], None]
    recovery: str  # what every "unreadable" message says here


def s3_prefix(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh prefix in a versioned bucket, with S3 pointed at moto the standard way."""
    s3 = moto_server.client("s3")
    try:
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server.endpoint)
    return uuid.uuid4().hex


def deployed(kind: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Place:
    stack = write_stack(tmp_path / "s", 1)
    if kind == "local":
        path = stack / ".stack" / "state" / "dev.json"
        found = Place(stack, [], path.read_bytes, path.write_bytes, f"Restore it from {path}.backup")
    else:
        moto_server: MotoServer = request.getfixturevalue("moto_server")
        prefix = s3_prefix(moto_server, monkeypatch)
        s3, key = moto_server.client("s3"), f"{prefix}/reliable/dev.json"
        found = Place(stack, ["--state", f"s3://{BUCKET}/{prefix}"],
                      lambda: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read(),
                      lambda data: s3.put_object(Bucket=BUCKET, Key=key, Body=data),
                      f"`aws s3api list-object-versions --bucket {BUCKET} --prefix {key}`")
    assert main(["deploy", str(stack), "--auto-approve", *found.args, *SECRET]) == 0
    return found


@pytest.fixture(params=["local", "s3"])
def place(request: pytest.FixtureRequest, against_emulator: Emulator, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Place:
    found = deployed(request.param, tmp_path, request, monkeypatch)
    capsys.readouterr()
    return found


def edited(change: Callable[[dict[str, Any]], object]) -> Callable[[bytes], bytes]:
    """A hand edit of the stored document."""
    def corrupt(data: bytes) -> bytes:
        document = json.loads(data)
        change(document)
        return json.dumps(document, indent=2).encode()
    return corrupt


def profile(document: dict[str, Any]) -> dict[str, Any]:
    return dict(document["resources"]["p00"])


def set_in(where: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any) -> Callable[[bytes], bytes]:
    def change(document: dict[str, Any]) -> None:
        target = where(document)
        target[key] = value
        if where is profile:
            document["resources"]["p00"] = target
    return edited(change)


def top(document: dict[str, Any]) -> dict[str, Any]:
    return document


BROKEN = [
    pytest.param(lambda data: b"\xff" + data, "not UTF-8 text: byte 0xff at offset 0", id="not-utf8"),
    pytest.param(lambda data: re.sub(rb'"serial": \d+', b'"serial": 1e400', data, count=1),
                 "$.serial: inf is not a finite number", id="serial-1e400"),
    pytest.param(lambda data: re.sub(rb'"serial": \d+', b'"serial": NaN', data, count=1),
                 "$.serial: nan is not a finite number", id="serial-NaN"),
    pytest.param(lambda data: b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply", id="100k-deep"),
    pytest.param(set_in(profile, "applied", json.loads("[" * 80 + "]" * 80)),
                 "$.resources.p00.applied[0][0][0][0][0]...: nested deeper than 64 levels", id="80-deep"),
    pytest.param(set_in(profile, "identifier", 5), "$.resources.p00.identifier: 5 is not of type 'string'",
                 id="identifier-5"),
    pytest.param(set_in(profile, "region", None), "$.resources.p00.region: None is not of type 'string'",
                 id="region-null"),
    pytest.param(set_in(profile, "applied", "x"), "$.resources.p00.applied: 'x' is not of type 'object'",
                 id="applied-x"),
    pytest.param(set_in(profile, "exports", [1]), "$.resources.p00.exports: [1] is not of type 'object'",
                 id="exports-list"),
    pytest.param(set_in(profile, "retain", "yes"), "$.resources.p00.retain: 'yes' is not of type 'boolean'",
                 id="retain-string"),
    pytest.param(set_in(top, "fingerprint_key", "not-hex-" * 8),
                 "$.fingerprint_key: is not 64 lowercase hexadecimal digits", id="fingerprint-key-not-hex"),
    pytest.param(set_in(top, "serial", -1), "$.serial: -1 is less than the minimum of 0", id="serial-negative"),
    pytest.param(set_in(top, "serial", "7"), "$.serial: '7' is not of type 'integer'", id="serial-string"),
    pytest.param(set_in(top, "serial", True), "$.serial: True is not of type 'integer'", id="serial-bool"),
    pytest.param(edited(lambda d: d.pop("lineage")), "$: 'lineage' is a required property", id="no-lineage"),
    pytest.param(edited(lambda d: d.pop("resources")), "$: 'resources' is a required property", id="no-resources"),
    pytest.param(edited(lambda d: d["resources"]["p00"].pop("arn")), "$.resources.p00: 'arn' is a required property",
                 id="resource-without-arn"),
    pytest.param(set_in(profile, "owner", "me"),
                 "$.resources.p00: Additional properties are not allowed ('owner' was unexpected)",
                 id="resource-extra-key"),
    pytest.param(set_in(top, "owner", "me"), "$: Additional properties are not allowed ('owner' was unexpected)",
                 id="top-extra-key"),
    pytest.param(edited(lambda d: d["resources"].__setitem__("renamed", d["resources"].pop("p00"))),
                 "$.resources.renamed.name: 'p00' differs from its key 'renamed'", id="resource-key-not-its-name"),
    pytest.param(set_in(top, "resources", []), "$.resources: [] is not of type 'object'", id="resources-list"),
    pytest.param(set_in(top, "pending", [1]), "$.pending: [1] is not of type 'object'", id="pending-list"),
    pytest.param(edited(lambda d: d["pending"].__setitem__("p00", {
        "resource": "p00", "operation": "explode", "identifier": "reliable-p00", "region": "us-east-1",
        "client_token": "t"})), "$.pending.p00.operation: 'explode' is not one of ['create', 'update', 'delete']",
        id="pending-bad-operation"),
    pytest.param(edited(lambda d: d["pending"].__setitem__("p00", {"resource": "p00", "operation": "create"})),
                 "$.pending.p00: 'identifier' is a required property (and 2 more problems)",
                 id="pending-incomplete"),
    pytest.param(set_in(top, "history", "lost"), "$.history: 'lost' is not of type 'array'", id="history-string"),
    pytest.param(set_in(top, "history", [{"serial": "3", "time": "t", "resource": "p00", "event": "e"}]),
                 "$.history[0].serial: '3' is not of type 'integer'", id="history-bad-serial"),
    pytest.param(set_in(top, "history", [None]), "$.history[0]: None is not of type 'object'", id="history-null"),
    pytest.param(set_in(top, "deployment", {"failed": "p00"}),
                 "$.deployment.failed: 'p00' is not of type 'array'", id="deployment-failed-string"),
    pytest.param(lambda data: b"[]", "$: [] is not of type 'object'", id="not-an-object"),
    pytest.param(lambda data: b"", "JSONDecodeError: Expecting value: line 1 column 1 (char 0)", id="empty"),
    pytest.param(lambda data: data[: len(data) // 2], "JSONDecodeError", id="truncated"),
    pytest.param(lambda data: data + b" " * (MAX_STATE_BYTES + 1 - len(data)),
                 "it is larger than 64 MiB, so it is not a state", id="huge"),
]


@pytest.mark.parametrize(("corrupt", "problem"), BROKEN)
def test_a_broken_state_stops_every_command_before_any_aws_call(
        place: Place, against_emulator: Emulator, corrupt: Callable[[bytes], bytes], problem: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    broken = corrupt(place.get())
    place.put(broken)
    write_stack(place.stack, 2)  # a deploy would have something to create
    against_emulator.stats.reset()
    stack = str(place.stack)
    for command in (["plan", stack, *SECRET], ["deploy", stack, "--auto-approve", *SECRET],
                    ["destroy", stack, "--auto-approve", *SECRET], ["drift", stack, *SECRET],
                    ["state", "list", stack], ["state", "rm", stack, "p00"]):
        assert main([*command, *place.args]) == 1, command
        err = capsys.readouterr().err
        assert f"the state file is unreadable ({problem}" in err, (command, err)
        assert "; nothing was changed. " in err and place.recovery in err
        assert "Traceback" not in err
        assert "not-hex-" not in err  # the fingerprint key, even a broken one, is never shown
        assert not place.args or ".backup" not in err  # S3 keeps no backup object to point at
    assert against_emulator.stats.total == 0
    assert place.get() == broken


def test_an_endless_file_as_state_is_refused_after_the_size_limit(
        against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    assert main(["plan", str(stack), "--state", "/dev/zero", *SECRET]) == 1
    err = capsys.readouterr().err
    assert "/dev/zero: the state file is unreadable (it is larger than 64 MiB, so it is not a state)" in err
    assert "There is no dev.json.backup beside it" not in err and "Traceback" not in err
    assert against_emulator.stats.total == 0


def test_an_unreadable_state_without_a_backup_does_not_point_at_one(
        against_emulator: Emulator, tmp_path: Path, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    place = deployed("local", tmp_path, request, monkeypatch)
    backup = place.stack / ".stack" / "state" / "dev.json.backup"
    backup.unlink()
    place.put(b"{")
    assert main(["plan", str(place.stack), *SECRET]) == 1
    err = capsys.readouterr().err
    assert "There is no dev.json.backup beside it: restore it from version control" in err
    assert "Restore it from" not in err


def test_the_s3_advice_works_restoring_a_previous_object_version(
        against_emulator: Emulator, moto_server: MotoServer, tmp_path: Path, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    place = deployed("s3", tmp_path, request, monkeypatch)
    good = place.get()
    place.put(b'{"version": 1, "stack": "rel')
    assert main(["plan", str(place.stack), *place.args, *SECRET]) == 1
    err = capsys.readouterr().err
    assert ".backup" not in err and "--copy-source" in err
    bucket, _, prefix = place.args[1].removeprefix("s3://").partition("/")
    key = f"{prefix}/reliable/dev.json"
    s3 = moto_server.client("s3")
    versions = [v for v in s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"] if v["Key"] == key]
    previous = versions[1]  # newest first: the one before the broken one
    s3.copy_object(Bucket=bucket, Key=key,
                   CopySource={"Bucket": bucket, "Key": key, "VersionId": previous["VersionId"]})
    assert place.get() == good
    assert main(["plan", str(place.stack), *place.args, *SECRET, "--detailed-exitcode"]) == 0
    assert main(["state", "restore", str(place.stack), *place.args]) == 1
    assert "S3 state has none. With bucket versioning on" in capsys.readouterr().err


# A state file deleted while its backup exists ---------------------------------------------------------------


def state_dir(stack: Path) -> Path:
    return stack / ".stack" / "state"


def test_a_deleted_state_file_is_restored_not_started_afresh(
        against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    assert main(["deploy", str(stack), "--auto-approve", *SECRET]) == 0
    state = state_dir(stack) / "dev.json"
    lineage = json.loads(state.read_text())["lineage"]
    backup_serial = json.loads((state_dir(stack) / "dev.json.backup").read_text())["serial"]
    state.unlink()
    write_stack(stack, 2)
    against_emulator.stats.reset()
    capsys.readouterr()
    (tmp_path / "other.json").write_text(StackState.new("reliable", "dev").to_json())
    for argv in (["deploy", str(stack), "--auto-approve", *SECRET], ["plan", str(stack), *SECRET],
                 ["state", "list", str(stack)], ["state", "push", str(stack), str(tmp_path / "other.json")]):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert (f"{state} is missing but {state}.backup is there (serial {backup_serial}, lineage {lineage}): the "
                "state file was deleted or moved") in err, err
        assert f"Restore it: `stack state restore {stack}`;" in err and f"delete {state}.backup too" in err
        assert "Traceback" not in err
    assert against_emulator.stats.total == 0
    assert not state.exists()

    assert main(["state", "restore", str(stack)]) == 0
    assert f"Restored {state} from its backup (serial {backup_serial}, lineage {lineage})." in capsys.readouterr().out
    assert main(["deploy", str(stack), "--auto-approve", *SECRET]) == 0
    assert json.loads(state.read_text())["lineage"] == lineage
    assert sorted(live_names(against_emulator.endpoint)) == ["reliable-p00", "reliable-p01"]
    assert main(["plan", str(stack), "--detailed-exitcode", *SECRET]) == 0


def test_restore_keeps_what_it_replaces(against_emulator: Emulator, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    assert main(["deploy", str(stack), "--auto-approve", *SECRET]) == 0
    state = state_dir(stack) / "dev.json"
    readable = state.read_bytes()
    capsys.readouterr()

    assert main(["state", "restore", str(stack)]) == 1  # a readable state is never replaced without --force
    assert (f"{state} holds a readable state (serial 3); restore only replaces a missing or unreadable one. To go "
            "back to dev.json.backup (serial 2) anyway, pass --force") in capsys.readouterr().err
    assert state.read_bytes() == readable

    state.write_bytes(b'{"version": 1, "serial": 1e400}')
    assert main(["state", "restore", str(stack)]) == 0  # an unreadable one is, and it is kept
    [unreadable] = state_dir(stack).glob("dev.json.unreadable-*")
    assert unreadable.read_bytes() == b'{"version": 1, "serial": 1e400}'
    assert f"The file that was there is kept as {unreadable}." in capsys.readouterr().out
    assert main(["plan", str(stack), "--detailed-exitcode", *SECRET]) == 0

    assert main(["state", "restore", str(stack), "--force"]) == 0
    [replaced] = state_dir(stack).glob("dev.json.replaced-*")
    assert json.loads(replaced.read_text())["serial"] == 2
    assert "Traceback" not in capsys.readouterr().err


def test_restore_needs_a_backup_of_this_stack_and_environment(
        against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    assert main(["state", "restore", str(stack)]) == 1
    assert f"there is no {state_dir(stack)}/dev.json.backup to restore" in capsys.readouterr().err
    assert main(["deploy", str(stack), "--auto-approve", *SECRET]) == 0
    os.link(state_dir(stack) / "dev.json.backup", state_dir(stack) / "prod.json.backup")
    assert main(["state", "restore", str(stack), "--env", "prod"]) == 1
    assert ("prod.json.backup is the state of stack 'reliable' environment 'dev', not 'reliable' 'prod'; nothing "
            "was restored") in capsys.readouterr().err
    assert not (state_dir(stack) / "prod.json").exists()


def test_a_backup_of_another_lineage_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    backup = tmp_path / "dev.json.backup"
    first = LocalBackend(path).write(StackState.new("crm", "dev"))
    LocalBackend(path).write(first)
    old_backup = backup.read_bytes()

    path.unlink()  # deleted: no new lineage is started over the backup
    with pytest.raises(StateError, match="is missing but .* is there"):
        LocalBackend(path).write(StackState.new("crm", "dev"))
    assert not path.exists() and backup.read_bytes() == old_backup

    other = replace(StackState.new("crm", "dev"), serial=1)  # another lineage's file put in place by hand
    path.write_text(other.to_json())
    LocalBackend(path).write(other)
    assert (tmp_path / f"dev.json.backup-{first.lineage}").read_bytes() == old_backup
    assert json.loads(backup.read_text())["lineage"] == other.lineage
    LocalBackend(path).write(LocalBackend(path).read())  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.json", "dev.json.backup",
                                                          f"dev.json.backup-{first.lineage}"]


# Failed writes -------------------------------------------------------------------------------------------------


def test_a_write_blocked_by_a_directory_changes_nothing_and_the_next_run_recovers(
        against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    assert main(["deploy", str(stack), "--auto-approve", *SECRET]) == 0
    state, backup = state_dir(stack) / "dev.json", state_dir(stack) / "dev.json.backup"
    before = state.read_bytes()
    backup.unlink()
    backup.mkdir()  # in the way of the backup the next write makes
    write_stack(stack, 2)
    against_emulator.stats.reset()
    capsys.readouterr()

    assert main(["deploy", str(stack), "--auto-approve", *SECRET]) == 1
    err = capsys.readouterr().err
    assert f"{state}: cannot write the state: Is a directory ({backup}); it still holds serial 3." in err
    assert "Traceback" not in err
    assert against_emulator.stats.calls["CreateConnectorProfile"] == 0  # the intent was not stored: no call
    assert state.read_bytes() == before
    assert sorted(p.name for p in state_dir(stack).iterdir()) == ["dev.json", "dev.json.backup"]

    backup.rmdir()
    assert main(["deploy", str(stack), "--auto-approve", *SECRET]) == 0
    assert sorted(live_names(against_emulator.endpoint)) == ["reliable-p00", "reliable-p01"]


def test_a_disk_that_fills_up_mid_deploy_leaves_a_state_the_next_run_finishes(
        against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file-size limit makes every write past 4 KiB fail as a full disk would, in a deploy of its own process."""
    stack = write_stack(tmp_path / "s", 6)

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # Python ignores SIGXFSZ: writes fail with EFBIG

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run([sys.executable, "-m", "deployer", "deploy", str(stack), "--auto-approve", *SECRET,
                          "--parallelism", "2"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
                         preexec_fn=limited)
    state = state_dir(stack) / "dev.json"
    assert run.returncode == 1, run.stderr
    assert f"{state}: cannot write the state: File too large" in run.stderr
    assert "Traceback" not in run.stderr
    assert sorted(p.name for p in state_dir(stack).iterdir()) == ["dev.json", "dev.json.backup"]
    stored = LocalBackend(state).read()
    assert stored is not None and len(stored.resources) < 6

    assert main(["deploy", str(stack), "--auto-approve", *SECRET]) == 0
    assert sorted(live_names(against_emulator.endpoint)) == [f"reliable-p{i:02d}" for i in range(6)]
    assert main(["plan", str(stack), "--detailed-exitcode", *SECRET]) == 0


# AWS_REGION on its own ---------------------------------------------------------------------------------------

REGIONLESS = """\
version: 1
name: regional
globals:
  - name: api_key
    value: "{{ secret('adversarial/region-secret') }}"
resources:
  - name: custom
    props:
      - name: ConnectorProfileName
        value: regional-custom
      - name: ConnectionMode
        value: Public
      - name: ConnectorType
        value: CustomConnector
      - name: ConnectorLabel
        value: my-connector
      - name: ConnectorProfileConfig
        value:
          ConnectorProfileProperties:
            CustomConnector:
              ProfileProperties:
                key: '{{ api_key }}'
          ConnectorProfileCredentials:
            CustomConnector:
              AuthenticationType: CUSTOM
              Custom:
                CustomAuthenticationType: token
                CredentialsMap:
                  token: '{{ api_key }}'
"""


@pytest.mark.parametrize("default_region", [None, "us-west-2"], ids=["AWS_REGION-only", "AWS_REGION-wins"])
def test_aws_region_alone_is_honoured_by_plan_deploy_and_a_secret_in_a_global(
        against_emulator: Emulator, with_moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        default_region: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    if default_region:
        monkeypatch.setenv("AWS_DEFAULT_REGION", default_region)
    assert not Path(os.environ["AWS_CONFIG_FILE"]).exists()
    manager = boto3.client("secretsmanager", endpoint_url=with_moto.endpoint, region_name="eu-west-3",
                           **DUMMY_CREDENTIALS)
    try:
        manager.create_secret(Name="adversarial/region-secret", SecretString="eu-west-3-secret-value")
    except manager.exceptions.ResourceExistsException:
        pass
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "stack.yaml").write_text(REGIONLESS)

    assert main(["plan", str(tmp_path / "s"), "--output", "json"]) == 0, capsys.readouterr().err
    assert main(["deploy", str(tmp_path / "s"), "--auto-approve"]) == 0
    [detail] = appflow_client(against_emulator.endpoint, "eu-west-3").describe_connector_profiles()[
        "connectorProfileDetails"]
    assert ":eu-west-3:" in detail["connectorProfileArn"]
    assert detail["connectorProfileProperties"]["CustomConnector"]["profileProperties"] == {
        "key": "eu-west-3-secret-value"}
    assert "eu-west-3-secret-value" not in capsys.readouterr().out
    assert json.loads((tmp_path / "s" / ".stack" / "state" / "dev.json").read_text())["resources"]["custom"][
        "region"] == "eu-west-3"
