"""Mistakes that used to pass quietly fail loudly: exit 1, one clear message, nothing called or written.

A mistyped --env, a stack never deployed where drift, promotion or the state commands look for it,
and an endpoint that refuses connections.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.support import MotoServer
from tests.test_lifecycle import write_stack
from tests.test_reliability import write_stack as write_plain_stack

PRDO = "Error: unknown environment 'prdo'; known: dev, prod, staging; did you mean 'prod'?\n"


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    """Environments dev and prod (files) and staging (a values: key); --env prdo is a typo of prod."""
    directory = write_stack(tmp_path / "stack")
    (directory / "environments" / "prod.yaml").write_text((directory / "environments" / "dev.yaml").read_text())
    manifest = directory / "stack.yaml"
    manifest.write_text(manifest.read_text().replace(
        "      - name: ConnectionMode\n        value: Public\n",
        "      - name: ConnectionMode\n        values:\n          staging: {value: Public}\n"
        "          default: {value: Public}\n"))
    return directory


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def with_stack(command: list[str], stack: Path) -> list[str]:
    """``command`` with STACK_DIR in its place: after the verb, or after ``state ACTION``."""
    verbs = 2 if command[0] == "state" else 1
    return [*command[:verbs], str(stack), *command[verbs:]]


# An unknown environment ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["validate"], ["render"], ["plan"], ["deploy", "--auto-approve"], ["destroy", "--auto-approve"], ["drift"],
        ["envs"], ["state", "list"], ["state", "show"], ["state", "pull"], ["state", "rm", "profile"],
        ["state", "import", "profile", "lifecycle-prdo-sf"], ["state", "migrate", "--to", "elsewhere.json"],
        ["state", "unlock", "some-lock-id"],
    ],
    ids=lambda command: "-".join(command[:2]),
)
def test_an_unknown_env_is_refused_by_every_command(command: list[str], stack: Path, against_emulator: Emulator,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, *with_stack(command, stack), "--env", "prdo") == (1, "", PRDO)
    assert against_emulator.stats.total == 0
    assert not (stack / ".stack").exists()


@pytest.mark.parametrize(("source", "target"), [("prdo", "prod"), ("dev", "prdo")], ids=["from", "to"])
def test_promote_refuses_an_unknown_env_on_either_side(source: str, target: str, stack: Path,
                                                       against_emulator: Emulator,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "promote", str(stack), "--from", source, "--to", target, "--auto-approve") == (1, "", PRDO)
    assert against_emulator.stats.total == 0
    assert not (stack / ".stack").exists()


def test_the_unknown_env_is_reported_before_problems_in_the_stack(stack: Path, aws_env: None,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace("{{ Token }}", "{{ Tokn }}"))
    assert run(capsys, "validate", str(stack), "--env", "prdo") == (1, "", PRDO)
    assert "undefined variable 'Tokn'" in run(capsys, "validate", str(stack), "--env", "prod")[2]


def test_no_did_you_mean_when_nothing_is_close(stack: Path, aws_env: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "plan", str(stack), "--env", "qa") == (
        1, "", "Error: unknown environment 'qa'; known: dev, prod, staging\n")


def test_environments_named_only_in_if_are_not_known(stack: Path, aws_env: None,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace(
        "    type: AWS::AppFlow::ConnectorProfile\n",
        "    type: AWS::AppFlow::ConnectorProfile\n    if: \"{{ stack_env in ['dev', 'qa'] }}\"\n"))
    assert run(capsys, "validate", str(stack), "--env", "qa") == (
        1, "", "Error: unknown environment 'qa'; known: dev, prod, staging\n")


def test_values_keys_of_templates_are_known(stack: Path, aws_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    (stack / "label.yaml").write_text(
        "props:\n  - name: ConnectorLabel\n    values:\n      uat: {value: null}\n      default: {value: null}\n")
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace(
        "    type: AWS::AppFlow::ConnectorProfile\n", "    type: AWS::AppFlow::ConnectorProfile\n"
        "    template: label.yaml\n"))
    variables = ["-e", "InstanceUrl=https://acme.my.salesforce.com", "-e", "Token=t"]
    assert run(capsys, "validate", str(stack), "--env", "prdo") == (
        1, "", "Error: unknown environment 'prdo'; known: dev, prod, staging, uat; did you mean 'prod'?\n")
    assert run(capsys, "validate", str(stack), "--env", "uat", *variables)[0] == 0
    assert run(capsys, "validate", str(stack), "--env", "staging", *variables)[0] == 0  # a values: key of the stack


def test_without_an_environments_directory_any_env_is_accepted(tmp_path: Path, aws_env: None,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    plain = write_plain_stack(tmp_path / "plain", 1)
    assert run(capsys, "validate", str(plain), "--env", "prdo", "-e", "Secret=s")[0] == 0


def test_envs_without_env_lists_a_stack_that_has_no_dev(stack: Path, aws_env: None,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (stack / "environments" / "dev.yaml").rename(stack / "environments" / "default.yaml")
    code, out, _ = run(capsys, "envs", str(stack))
    assert code == 0 and out.startswith("prod:\n")
    assert run(capsys, "envs", str(stack), "--env", "dev") == (
        1, "", "Error: unknown environment 'dev'; known: prod, staging\n")


# No state where one is needed -------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["drift"], ["state", "show"], ["state", "list"], ["state", "rm", "profile"]],
    ids=lambda command: "-".join(command),
)
def test_no_state_is_an_error_not_an_empty_stack(command: list[str], stack: Path, against_emulator: Emulator,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    location = stack / ".stack" / "state" / "prod.json"
    assert run(capsys, *with_stack(command, stack), "--env", "prod") == (
        1, "", f"Error: no state at {location}; deploy first (`stack deploy {stack} --env prod`) or check "
        "--state/--env\n")
    assert against_emulator.stats.total == 0
    assert not (stack / ".stack").exists()  # no state, no lock, no directory


def test_drift_of_an_env_that_was_never_deployed_is_an_error(stack: Path, against_emulator: Emulator,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "deploy", str(stack), "--auto-approve")[0] == 0
    assert run(capsys, "drift", str(stack))[0] == 0
    against_emulator.stats.reset()
    location = stack / ".stack" / "state" / "prod.json"
    assert run(capsys, "drift", str(stack), "--env", "prod") == (
        1, "", f"Error: no state at {location}; deploy first (`stack deploy {stack} --env prod`) or check "
        "--state/--env\n")
    elsewhere = stack.parent / "typo.json"
    assert run(capsys, "drift", str(stack), "--state", str(elsewhere)) == (
        1, "", f"Error: no state at {elsewhere}; deploy first (`stack deploy {stack} --state {elsewhere}`) or check "
        "--state/--env\n")
    assert against_emulator.stats.total == 0
    assert not location.exists() and not elsewhere.exists()


def test_promote_from_an_env_without_state(stack: Path, against_emulator: Emulator,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    location = stack / ".stack" / "state" / "staging.json"
    assert run(capsys, "promote", str(stack), "--from", "staging", "--to", "prod", "--auto-approve") == (
        1, "", f"Error: no state at {location}; deploy first (`stack deploy {stack} --env staging`) or check "
        "--state/--env\n")
    assert against_emulator.stats.total == 0
    assert not (stack / ".stack").exists()


def test_no_state_on_s3_names_the_object(stack: Path, against_emulator: Emulator, moto_server: MotoServer,
                                         monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    s3 = moto_server.client("s3")
    bucket = "loud-failures"
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server.endpoint)
    prefix = uuid.uuid4().hex
    for command in (["drift"], ["state", "show"]):
        assert run(capsys, *with_stack(command, stack), "--state", f"s3://{bucket}/{prefix}") == (
            1, "", f"Error: no state at s3://{bucket}/{prefix}/lifecycle/dev.json; deploy first (`stack deploy "
            f"{stack} --state s3://{bucket}/{prefix}`) or check --state/--env\n")
    assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount") == 0
    assert against_emulator.stats.total == 0


# An endpoint that refuses connections -----------------------------------------------------------


@pytest.mark.parametrize("command", [["plan"], ["deploy", "--auto-approve"]], ids=["plan", "deploy"])
def test_a_refused_endpoint_fails_fast_and_names_it(command: list[str], stack: Path, aws_env: None,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_APPFLOW", "http://127.0.0.1:1")  # nothing listens on port 1
    started = time.monotonic()
    code, out, err = run(capsys, command[0], str(stack), *command[1:])
    assert time.monotonic() - started < 10  # a bound, not a benchmark: the deployer's 8 retries took ~55 s
    assert (code, err) == (1, "Error: DescribeConnectorProfiles failed for 'lifecycle-dev-sf': cannot reach the "
                              "AppFlow endpoint http://127.0.0.1:1 (Connection refused); check the network and "
                              "AWS_ENDPOINT_URL_APPFLOW\n")
    assert "retrying" not in out
    assert not (stack / ".stack" / "state" / "dev.json").exists()
