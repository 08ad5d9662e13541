"""Deploys that survive throttling, server faults, crashes and a second operator."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from deployer.cli import main
from deployer.emulator import Emulator, Knobs
from deployer.engine import Engine, Options
from deployer.render import Inputs
from tests.support import FakeClock, appflow_client, cloudcontrol_client

PROFILE = """\
  - name: {name}
    type: AWS::AppFlow::ConnectorProfile
    props:
      - name: ConnectorProfileName
        value: '{{{{ stack_name }}}}-{name}'
      - name: ConnectionMode
        value: {mode}
      - name: ConnectorType
        value: Zendesk
      - name: ConnectorProfileConfig
        value:
          ConnectorProfileProperties:
            Zendesk:
              InstanceUrl: https://{name}.zendesk.com
          ConnectorProfileCredentials:
            Zendesk:
              ClientId: client-{name}
              ClientSecret: '{{{{ Secret }}}}'
"""


def write_stack(directory: Path, count: int, *, mode: str = "Public", name: str = "reliable") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    head = f"version: 1\nname: {name}\nglobals:\n  - name: region\n    value: us-east-1\nresources:\n"
    body = "".join(PROFILE.format(name=f"p{i:02d}", mode=mode) for i in range(count))
    (directory / "stack.yaml").write_text(head + body)
    return directory


def live_names(endpoint: str) -> list[str]:
    client = appflow_client(endpoint)
    names: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = client.describe_connector_profiles(maxResults=100, **token)
        names += [d["connectorProfileName"] for d in page["connectorProfileDetails"]]
        if "nextToken" not in page:
            return names
        token = {"nextToken": page["nextToken"]}


def engine_options(clock: FakeClock, **extra: Any) -> Options:
    return Options(inputs=Inputs(cli_vars={"Secret": "s3cret"}, environ={}), sleep=clock.sleep, **extra)


def test_fifty_profiles_through_faults_and_throttling(against_emulator: Emulator, clock: FakeClock,
                                                      tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "s", 50)
    against_emulator.knobs.fault_rate = 0.2
    against_emulator.knobs.seed = 11
    against_emulator.knobs.tps = 10  # the emulator's bucket refills on the same fake clock the retries sleep on
    with Engine(stack, engine_options(clock, max_attempts=12)) as engine:
        planned = engine.plan()
        result = engine.apply(planned)
    assert result.failed == ()
    against_emulator.knobs.fault_rate, against_emulator.knobs.tps = 0.0, None
    names = live_names(against_emulator.endpoint)
    assert sorted(names) == sorted(f"reliable-p{i:02d}" for i in range(50))
    assert against_emulator.stats.errors["InternalServerException"] > 5
    assert against_emulator.stats.errors["ThrottlingException"] > 0
    assert clock.slept  # waited, on the fake clock only


def test_validation_errors_are_never_retried(against_emulator: Emulator, clock: FakeClock, tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "s", 1)
    against_emulator.knobs.fail_next("ValidationException", operation="CreateConnectorProfile")
    with Engine(stack, engine_options(clock)) as engine:
        result = engine.apply(engine.plan())
    [failure] = result.failed
    assert "CreateConnectorProfile failed for 'reliable-p00': ValidationException" in failure.message
    assert "attempts" not in failure.message
    assert against_emulator.stats.calls["CreateConnectorProfile"] == 1
    state = json.loads((stack / ".stack" / "state" / "dev.json").read_text())
    assert state["pending"] == {}  # AWS answered, so nothing is left in doubt


def test_retries_that_run_out_name_everything(against_emulator: Emulator, clock: FakeClock, tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "s", 1)
    against_emulator.knobs.fail_next("ThrottlingException", operation="CreateConnectorProfile", times=4)
    with Engine(stack, engine_options(clock, max_attempts=4)) as engine:
        [failure] = engine.apply(engine.plan()).failed
    assert failure.message == ("CreateConnectorProfile failed for 'reliable-p00': ThrottlingException: Rate exceeded "
                               "(gave up after 4 attempts)")
    assert len(clock.slept) == 3


@pytest.mark.parametrize("seed", range(20))
def test_a_killed_deploy_is_finished_by_the_next_run(seed: int, tmp_path: Path, aws_env: None) -> None:
    """SIGKILL at a seeded point of the apply; the next run leaves every profile existing exactly once."""
    rng = random.Random(seed)
    with Emulator(Knobs(latency_ms=15)) as emulator:
        stack = write_stack(tmp_path / "s", 6)
        env = {**os.environ, "AWS_ENDPOINT_URL_APPFLOW": emulator.endpoint, "AWS_MAX_ATTEMPTS": "1",
               "AWS_REGION": "us-east-1", "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "deployer", "deploy", str(stack), "--auto-approve", "-e", "Secret=s3cret",
                   "--parallelism", str(rng.choice([1, 2, 4]))]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        kill_after = rng.randint(1, 6)  # resources started before the kill
        started = 0
        for line in process.stdout:
            if " started" in line:
                started += 1
                if started == kill_after:
                    time.sleep(rng.choice([0.0, 0.005, 0.01, 0.02, 0.03]))
                    break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

        again = subprocess.run(command[:-2], env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        names = live_names(emulator.endpoint)
        assert sorted(names) == [f"reliable-p{i:02d}" for i in range(6)]  # each exactly once, no orphans
        state = json.loads((stack / ".stack" / "state" / "dev.json").read_text())
        assert sorted(r["identifier"] for r in state["resources"].values()) == sorted(names)
        assert state["pending"] == {}
        settled = subprocess.run([*command[:3], "plan", str(stack), "-e", "Secret=s3cret", "--detailed-exitcode"],
                                 env=env, capture_output=True, text=True, timeout=120)
        assert settled.returncode == 0, settled.stdout + settled.stderr


REPO = Path(__file__).resolve().parent.parent
KEYS = 4


def write_key_stack(directory: Path) -> Path:
    """KMS keys: AWS gives each its identifier, so nothing but the request's client token stops a second one."""
    directory.mkdir(parents=True)
    resources = "".join(
        f"  - name: key{i}\n    type: AWS::KMS::Key\n    props:\n      - name: Description\n"
        f"        value: key {i}\n" for i in range(KEYS))
    (directory / "stack.yaml").write_text(f"name: keys\nresources:\n{resources}")
    return directory


def live_keys(endpoint: str) -> list[str]:
    pages = cloudcontrol_client(endpoint).get_paginator("list_resources").paginate(TypeName="AWS::KMS::Key")
    return [d["Identifier"] for page in pages for d in page["ResourceDescriptions"]]


@pytest.mark.parametrize("seed", range(10))
def test_a_killed_deploy_of_generated_identifiers_makes_each_resource_once(seed: int, tmp_path: Path,
                                                                          aws_env: None) -> None:
    """SIGKILL at a seeded point while keys are created (before a request is sent, while AWS works on it, after
    it is done): the next run resumes the recorded request or makes the same one again with its client token,
    and every key exists exactly once, the one state records."""
    rng = random.Random(seed)
    with Emulator(Knobs(latency_ms=rng.choice([5, 15, 30]))) as emulator:
        stack = write_key_stack(tmp_path / "keys")
        env = {**os.environ, "AWS_ENDPOINT_URL_CLOUDCONTROL": emulator.endpoint, "AWS_MAX_ATTEMPTS": "1",
               "AWS_REGION": "us-east-1", "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "deployer", "deploy", str(stack), "--auto-approve",
                   "--parallelism", str(rng.choice([1, 2, 4]))]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        kill_after = rng.randint(1, KEYS)
        started = 0
        for line in process.stdout:
            if " started" in line:
                started += 1
                if started == kill_after:
                    time.sleep(rng.choice([0.0, 0.01, 0.05, 0.1, 0.2, 0.3]))
                    break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        made_before = len(live_keys(emulator.endpoint))

        again = subprocess.run(command[:-2], env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        keys = live_keys(emulator.endpoint)
        assert len(keys) == KEYS, f"{made_before} made before the kill; now {keys}"
        state = json.loads((stack / ".stack" / "state" / "dev.json").read_text())
        assert sorted(r["identifier"] for r in state["resources"].values()) == sorted(keys)
        assert state["pending"] == {}
        settled = subprocess.run([*command[:3], "plan", str(stack), "--detailed-exitcode"],
                                 env=env, capture_output=True, text=True, timeout=120)
        assert settled.returncode == 0, settled.stdout + settled.stderr


FLOWS = 4


def write_flow_stack(directory: Path) -> Path:
    """A profile, a bucket and flows reading the one into the other (the flows' names are theirs: a client token
    and the name guard each create)."""
    shutil.copytree(REPO / "manifests" / "salesforce-to-s3", directory)
    manifest = directory / "stack.yaml"
    text = manifest.read_text()
    flows = "".join(f"""  - name: flow{i}
    type: AWS::AppFlow::Flow
    template: flows/salesforce_to_s3.yaml
    vars:
      FlowName: '{{{{ prefix }}}}-flow{i}'
      ProfileName: '{{{{ resources.salesforce.ConnectorProfileName }}}}'
      Object: Object{i}
      BucketName: '{{{{ resources.landing.BucketName }}}}'
      Schedule: rate(1days)
      FlowStatus: Active
""" for i in range(FLOWS))
    manifest.write_text(text[:text.index("  - name: accounts\n")] + flows)
    return directory


@pytest.mark.parametrize("seed", range(5))
def test_a_killed_deploy_of_flows_makes_each_flow_once(seed: int, tmp_path: Path, aws_env: None) -> None:
    """SIGKILL at a seeded point while a profile, a bucket and flows are created and started: the next run
    leaves each flow existing once, started, and state equal to AWS."""
    rng = random.Random(seed)
    with Emulator(Knobs(latency_ms=rng.choice([5, 15, 30]))) as emulator:
        stack = write_flow_stack(tmp_path / "flows")
        env = {**os.environ, "AWS_ENDPOINT_URL_APPFLOW": emulator.endpoint, "AWS_MAX_ATTEMPTS": "1",
               "AWS_ENDPOINT_URL_CLOUDCONTROL": emulator.endpoint, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "deployer", "deploy", str(stack), "--auto-approve",
                   "--parallelism", str(rng.choice([1, 2, 4]))]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        kill_after = rng.randint(1, FLOWS + 2)
        started = 0
        for line in process.stdout:
            if " started" in line:
                started += 1
                if started == kill_after:
                    time.sleep(rng.choice([0.0, 0.01, 0.05, 0.1, 0.2]))
                    break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

        again = subprocess.run(command[:-2], env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        client = appflow_client(emulator.endpoint)
        flows = {f["flowName"]: f["flowStatus"] for f in client.list_flows()["flows"]}
        assert flows == {f"salesforce-to-s3-dev-flow{i}": "Active" for i in range(FLOWS)}
        state = json.loads((stack / ".stack" / "state" / "dev.json").read_text())
        assert sorted(r["identifier"] for r in state["resources"].values() if r["type"] == "AWS::AppFlow::Flow") \
            == sorted(flows)
        assert state["pending"] == {}
        settled = subprocess.run([*command[:3], "plan", str(stack), "--detailed-exitcode"],
                                 env=env, capture_output=True, text=True, timeout=120)
        assert settled.returncode == 0, settled.stdout + settled.stderr


def test_a_second_deploy_waits_for_or_names_the_lock_holder(against_emulator: Emulator, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from deployer.backends.local import LocalBackend
    from deployer.lock import acquire

    stack = write_stack(tmp_path / "s", 1)
    holder, _ = acquire(LocalBackend(stack / ".stack" / "state" / "dev.json").lock, "deploy")  # we are alive
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=s"]) == 1
    err = capsys.readouterr().err
    assert f"the stack is locked: lock {holder.lock_id} held by {holder.user}@{holder.host} (pid {os.getpid()}) " \
           f"for deploy since {holder.started}" in err
    assert f"release it with `stack state unlock {stack} {holder.lock_id}`" in err
    assert against_emulator.stats.total == 0

    assert main(["state", "unlock", str(stack), holder.lock_id]) == 0
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=s"]) == 0


def test_two_concurrent_deploys_exactly_one_proceeds(tmp_path: Path, aws_env: None) -> None:
    with Emulator(Knobs(latency_ms=100)) as emulator:
        stack = write_stack(tmp_path / "s", 8)
        env = {**os.environ, "AWS_ENDPOINT_URL_APPFLOW": emulator.endpoint, "AWS_MAX_ATTEMPTS": "1",
               "AWS_REGION": "us-east-1"}
        command = [sys.executable, "-m", "deployer", "deploy", str(stack), "--auto-approve", "-e", "Secret=s",
                   "--parallelism", "1"]
        runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
        results = [(run.wait(timeout=120), *run.communicate()) for run in runs]
        assert sorted(code for code, _, _ in results) == [0, 1]
        [(_, _, loser_err)] = [r for r in results if r[0] == 1]
        assert "the stack is locked: lock " in loser_err and "for deploy since" in loser_err
        assert sorted(live_names(emulator.endpoint)) == [f"reliable-p{i:02d}" for i in range(8)]


def test_a_dead_runs_lock_is_taken_over_with_a_warning(against_emulator: Emulator, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    stack = write_stack(tmp_path / "s", 1)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    lock_file = stack / ".stack" / "state" / "dev.json.lock"
    lock_file.parent.mkdir(parents=True)
    lock_file.write_text(json.dumps({"lock_id": "old-lock", "operation": "deploy", "user": "ci", "pid": gone.pid,
                                     "host": socket.gethostname(), "started": "2026-11-24T10:00:00+00:00"}))
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=s"]) == 0
    assert "Warning: took over a lock whose run is gone: lock old-lock held by ci@" in capsys.readouterr().err
    assert not lock_file.exists()


def test_a_truncated_state_file_stops_before_any_change(against_emulator: Emulator, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 2)
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=s"]) == 0
    state_file = stack / ".stack" / "state" / "dev.json"
    state_file.write_text(state_file.read_text()[:200])
    write_stack(stack, 3)
    against_emulator.stats.reset()
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=s"]) == 1
    err = capsys.readouterr().err
    assert "dev.json: the state file is unreadable (JSONDecodeError" in err
    assert "Restore it from" in err and "dev.json.backup" in err
    assert against_emulator.stats.calls["CreateConnectorProfile"] == 0
    assert set(against_emulator.stats.calls) <= {"DescribeConnectorProfiles"}


class TestExistingProfiles:
    @pytest.fixture
    def taken(self, against_emulator: Emulator, tmp_path: Path) -> Path:
        stack = write_stack(tmp_path / "s", 1)
        appflow_client(against_emulator.endpoint).create_connector_profile(
            connectorProfileName="reliable-p00", connectorType="Zendesk", connectionMode="Public",
            connectorProfileConfig={
                "connectorProfileProperties": {"Zendesk": {"instanceUrl": "https://elsewhere.zendesk.com"}},
                "connectorProfileCredentials": {"Zendesk": {"clientId": "theirs", "clientSecret": "theirs"}},
            })
        return stack

    def test_plan_shows_it_blocked_and_deploy_refuses(self, taken: Path, against_emulator: Emulator,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["plan", str(taken), "-e", "Secret=s"]) == 1
        out, err = capsys.readouterr()
        assert "  ! p00 [reliable-p00 in us-east-1] cannot be applied as it is" in out
        assert "a connector profile named 'reliable-p00' exists in AWS but not in this stack's state" in out
        assert f"! to go ahead: import it with `stack state import {taken} p00 reliable-p00`" in out
        assert "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 0 to forget, 0 unchanged, 1 blocked." in out
        assert err == "Error: the plan cannot be applied as it is: 'p00' is blocked (see ! in the plan)\n"
        assert main(["plan", str(taken), "-e", "Secret=s", "--output", "json"]) == 1
        document = json.loads(capsys.readouterr().out)
        assert [c["action"] for c in document["changes"]] == ["blocked"]
        assert document["summary"]["blocked"] == 1 and document["summary"]["create"] == 0

        against_emulator.stats.reset()
        assert main(["deploy", str(taken), "--auto-approve", "-e", "Secret=s"]) == 1
        err = capsys.readouterr().err
        assert "'p00' is blocked (see ! in the plan); nothing was applied" in err
        assert set(against_emulator.stats.calls) == {"DescribeConnectorProfiles"}
        [detail] = appflow_client(against_emulator.endpoint).describe_connector_profiles()["connectorProfileDetails"]
        assert detail["connectorProfileProperties"]["Zendesk"]["instanceUrl"] == "https://elsewhere.zendesk.com"

    def test_plan_adopt_previews_the_adoption(self, taken: Path, against_emulator: Emulator,
                                              capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["plan", str(taken), "-e", "Secret=s", "--adopt", "--output", "json"]) == 0
        [change] = json.loads(capsys.readouterr().out)["changes"]
        assert change["action"] == "update"
        assert change["reasons"][0] == "adopts the existing profile 'reliable-p00' (--adopt)"
        assert set(against_emulator.stats.calls) <= {"DescribeConnectorProfiles", "CreateConnectorProfile"}
        assert against_emulator.stats.calls["UpdateConnectorProfile"] == 0
        assert not (taken / ".stack" / "state" / "dev.json").exists()

    def test_a_saved_adopting_plan_applies(self, taken: Path, against_emulator: Emulator,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(taken)
        assert main(["plan", str(taken), "-e", "Secret=s", "--adopt", "-o", "p.json"]) == 0
        assert main(["apply", "p.json", "-e", "Secret=s"]) == 0
        [detail] = appflow_client(against_emulator.endpoint).describe_connector_profiles()["connectorProfileDetails"]
        assert detail["connectorProfileProperties"]["Zendesk"]["instanceUrl"] == "https://p00.zendesk.com"
        assert main(["plan", str(taken), "-e", "Secret=s", "--detailed-exitcode"]) == 0

    def test_import_refuses_another_connector_type(self, taken: Path, against_emulator: Emulator,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
        text = (taken / "stack.yaml").read_text()
        (taken / "stack.yaml").write_text(text.replace("Zendesk", "Slack").replace(
            "              ClientId: client-p00\n              ClientSecret: '{{ Secret }}'\n",
            "              ClientId: client-p00\n              ClientSecret: '{{ Secret }}'\n"
            "              AccessToken: '{{ Secret }}'\n"))
        assert main(["state", "import", str(taken), "p00", "reliable-p00", "-e", "Secret=s"]) == 1
        err = capsys.readouterr().err
        assert ("'reliable-p00' is a Zendesk connector profile; p00 in the manifest is Slack: import a profile of "
                "the same connector type, or change ConnectorType in the manifest") in err
        assert not (taken / ".stack" / "state" / "dev.json").exists()

    def test_import_refuses_a_profile_another_resource_owns(self, taken: Path, against_emulator: Emulator,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["deploy", str(taken), "--auto-approve", "--adopt", "-e", "Secret=s"]) == 0
        text = (taken / "stack.yaml").read_text()
        second = text[text.index("  - name: p00"):].replace("name: p00", "name: p01").replace("-p00'", "-p01'")
        (taken / "stack.yaml").write_text(text + second)
        before = (taken / ".stack" / "state" / "dev.json").read_text()
        capsys.readouterr()
        assert main(["state", "import", str(taken), "p01", "reliable-p00", "-e", "Secret=s"]) == 1
        assert ("'reliable-p00' is already in the state as p00; a profile belongs to one resource: "
                f"rename it with `stack state mv {taken} p00 p01`, or remove it with `stack state rm {taken} p00` "
                "first") in capsys.readouterr().err
        assert (taken / ".stack" / "state" / "dev.json").read_text() == before

    def test_adopt_takes_it_over(self, taken: Path, against_emulator: Emulator,
                                 capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["deploy", str(taken), "--auto-approve", "--adopt", "-e", "Secret=s"]) == 0
        assert "adopts the existing profile 'reliable-p00' (--adopt)" in capsys.readouterr().out
        [detail] = appflow_client(against_emulator.endpoint).describe_connector_profiles()["connectorProfileDetails"]
        assert detail["connectorProfileProperties"]["Zendesk"]["instanceUrl"] == "https://p00.zendesk.com"
        assert main(["plan", str(taken), "-e", "Secret=s", "--detailed-exitcode"]) == 0

    def test_state_import_then_deploy(self, taken: Path, against_emulator: Emulator,
                                      capsys: pytest.CaptureFixture[str]) -> None:
        arn = "arn:aws:appflow:us-east-1:123456789012:connectorprofile/reliable-p00"
        assert main(["state", "import", str(taken), "p00", arn, "-e", "Secret=s"]) == 0
        assert main(["state", "list", str(taken)]) == 0
        assert "p00\tAWS::AppFlow::ConnectorProfile\treliable-p00\tus-east-1" in capsys.readouterr().out
        assert main(["plan", str(taken), "-e", "Secret=s", "--output", "json"]) == 0
        [change] = json.loads(capsys.readouterr().out)["changes"]
        assert change["action"] == "update"
        assert "credentials changed" in change["reasons"]
        assert main(["deploy", str(taken), "--auto-approve", "-e", "Secret=s"]) == 0
        assert main(["state", "show", str(taken)]) == 0
        shown = capsys.readouterr().out
        assert "imported reliable-p00" in shown and "updated reliable-p00" in shown
        assert "fingerprint_key" not in shown and "s3cret" not in shown

    def test_state_rm_forgets_but_keeps_it_in_aws(self, taken: Path, against_emulator: Emulator) -> None:
        assert main(["deploy", str(taken), "--auto-approve", "--adopt", "-e", "Secret=s"]) == 0
        assert main(["state", "rm", str(taken), "p00"]) == 0
        assert live_names(against_emulator.endpoint) == ["reliable-p00"]
        assert main(["state", "rm", str(taken), "p00"]) == 1


class TestPrivateConnections:
    def test_deploy_waits_until_created(self, against_emulator: Emulator, clock: FakeClock, tmp_path: Path) -> None:
        against_emulator.knobs.private_delay_s = 20
        stack = write_stack(tmp_path / "s", 1, mode="Private")
        with Engine(stack, engine_options(clock)) as engine:
            result = engine.apply(engine.plan())
        assert result.failed == ()
        assert sum(clock.slept) >= 20
        [detail] = appflow_client(against_emulator.endpoint).describe_connector_profiles()["connectorProfileDetails"]
        assert detail["privateConnectionProvisioningState"]["status"] == "CREATED"

    def test_a_failed_connection_stops_with_aws_message(self, against_emulator: Emulator, clock: FakeClock,
                                                        tmp_path: Path) -> None:
        against_emulator.knobs.private_delay_s = 5
        against_emulator.knobs.private_failure = "The VPC endpoint service rejected the connection"
        stack = write_stack(tmp_path / "s", 1, mode="Private")
        with Engine(stack, engine_options(clock)) as engine:
            [failure] = engine.apply(engine.plan()).failed
        assert failure.message == ("the private connection of 'reliable-p00' failed: The VPC endpoint service "
                                   "rejected the connection, CONNECTOR_AUTHENTICATION")


def test_a_create_whose_answer_was_lost_is_adopted_not_repeated(against_emulator: Emulator, clock: FakeClock,
                                                                tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 2)
    against_emulator.knobs.fail_next("LostResponse", operation="CreateConnectorProfile")
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=s", "--parallelism", "1",
                 "--max-attempts", "1"]) == 1
    assert "p00: create FAILED - CreateConnectorProfile for 'reliable-p00' got no answer" in capsys.readouterr().out
    state = json.loads((stack / ".stack" / "state" / "dev.json").read_text())
    assert list(state["pending"]) == ["p00"] and state["pending"]["p00"]["operation"] == "create"

    against_emulator.stats.reset()
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=s"]) == 0
    err = capsys.readouterr().err
    assert "Recovered: p00: an interrupted create of reliable-p00 had completed; recorded it" in err
    assert against_emulator.stats.calls["CreateConnectorProfile"] == 0  # p01 was created by the first run
    assert sorted(live_names(against_emulator.endpoint)) == ["reliable-p00", "reliable-p01"]
    state = json.loads((stack / ".stack" / "state" / "dev.json").read_text())
    assert state["pending"] == {} and sorted(state["resources"]) == ["p00", "p01"]


def test_a_retried_create_with_a_lost_answer_is_not_duplicated(against_emulator: Emulator, clock: FakeClock,
                                                               tmp_path: Path) -> None:
    """The retry carries the same client token, so the emulator answers it with the first create's result."""
    stack = write_stack(tmp_path / "s", 1)
    against_emulator.knobs.fail_next("LostResponse", operation="CreateConnectorProfile")
    with Engine(stack, engine_options(clock)) as engine:
        planned = engine.plan()
        assert engine.apply(planned).failed == ()
    assert live_names(against_emulator.endpoint) == ["reliable-p00"]
    assert against_emulator.stats.calls["CreateConnectorProfile"] == 2


def test_retries_are_configured_in_the_manifest_and_overridden_on_the_command_line(
        against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    text = (stack / "stack.yaml").read_text().replace("resources:\n", "retries: {max_attempts: 2, max_wait: 0}\n"
                                                                       "resources:\n")
    (stack / "stack.yaml").write_text(text)
    against_emulator.knobs.fail_next("InternalServerException", operation="CreateConnectorProfile", times=5)
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=s"]) == 1
    assert "(gave up after 2 attempts)" in capsys.readouterr().out
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=s", "--max-attempts", "4"]) == 0
    assert against_emulator.stats.calls["CreateConnectorProfile"] == 6
