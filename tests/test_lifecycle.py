"""End to end: the CLI against the emulator over HTTP, through a whole life cycle of a stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.support import appflow_client

STACK = """\
version: 1
name: lifecycle
providers: [aws]
globals:
  - name: region
    value: us-east-1
resources:
  - name: {resource}
    type: AWS::AppFlow::ConnectorProfile
    props:
      - name: ConnectorProfileName
        value: '{{{{ stack_name }}}}-{{{{ stack_env }}}}-{name_suffix}'
      - name: ConnectionMode
        value: {mode}
      - name: ConnectorType
        value: {connector_type}
{label}      - name: ConnectorProfileConfig
        value:
{config}
"""

SALESFORCE_CONFIG = """\
          ConnectorProfileProperties:
            Salesforce:
              InstanceUrl: '{{ InstanceUrl }}'
          ConnectorProfileCredentials:
            Salesforce:
              AccessToken: '{{ Token }}'
"""

CUSTOM_CONFIG = """\
          ConnectorProfileProperties:
            CustomConnector:
              ProfileProperties:
                api_version: v2
          ConnectorProfileCredentials:
            CustomConnector:
              AuthenticationType: CUSTOM
              Custom:
                CustomAuthenticationType: token
                CredentialsMap:
                  token: '{{ Token }}'
"""


def write_stack(directory: Path, *, mode: str = "Public", connector_type: str = "Salesforce",
                label: str | None = None, name_suffix: str = "sf", resource: str = "profile") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = CUSTOM_CONFIG if connector_type == "CustomConnector" else SALESFORCE_CONFIG
    label_prop = f"      - name: ConnectorLabel\n        value: {label}\n" if label else ""
    (directory / "stack.yaml").write_text(STACK.format(resource=resource, mode=mode, connector_type=connector_type,
                                                       label=label_prop, config=config, name_suffix=name_suffix))
    (directory / "environments").mkdir(exist_ok=True)
    (directory / "environments" / "dev.yaml").write_text(
        "InstanceUrl: https://acme.my.salesforce.com\nToken: lifecycle-token-1\n")
    return directory


def run(*args: str) -> int:
    return main(list(args))


def profiles(emulator: Emulator) -> list[dict[str, Any]]:
    client = appflow_client(emulator.endpoint)
    return list(client.describe_connector_profiles(maxResults=100)["connectorProfileDetails"])


def plan_json(stack: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    capsys.readouterr()
    assert run("plan", str(stack), "--output", "json", *extra) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_full_life_cycle_against_the_emulator(against_emulator: Emulator, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "stack")
    assert run("validate", str(stack)) == 0
    assert against_emulator.stats.total == 0  # validate makes no call

    assert run("plan", str(stack), "--detailed-exitcode") == 2
    first = plan_json(stack, capsys)
    assert [(c["resource"], c["action"]) for c in first["changes"]] == [("profile", "create")]
    assert first["summary"]["create"] == 1

    assert run("deploy", str(stack), "--auto-approve") == 0
    [live] = profiles(against_emulator)
    assert live["connectorProfileName"] == "lifecycle-dev-sf"
    state = json.loads((stack / ".stack" / "state" / "dev.json").read_text())
    assert state["resources"]["profile"]["arn"] == live["connectorProfileArn"]
    assert "lifecycle-token-1" not in json.dumps(state)

    capsys.readouterr()
    assert run("plan", str(stack), "--detailed-exitcode") == 0
    assert "No changes" in capsys.readouterr().out
    # a create answers with the ARN only; the credentials ARN is recorded at the next deploy's read
    assert run("deploy", str(stack), "--auto-approve") == 0
    state = json.loads((stack / ".stack" / "state" / "dev.json").read_text())
    assert state["resources"]["profile"]["exports"]["CredentialsArn"] == live["credentialsArn"]

    write_stack(stack, mode="Private")
    assert run("plan", str(stack), "--detailed-exitcode") == 2
    update = plan_json(stack, capsys)
    [change] = update["changes"]
    assert change["action"] == "update"
    assert change["properties"] == [{"path": "ConnectionMode", "before": "Public", "after": "Private",
                                     "sensitive": False, "forces_replacement": False}]
    assert run("deploy", str(stack), "--auto-approve") == 0
    assert profiles(against_emulator)[0]["connectionMode"] == "Private"
    assert run("plan", str(stack), "--detailed-exitcode") == 0

    write_stack(stack, mode="Private", connector_type="CustomConnector", label="my-connector")
    replace = plan_json(stack, capsys)
    [change] = replace["changes"]
    assert change["action"] == "replace"
    assert {p["path"] for p in change["properties"]} == {"ConnectorType", "ConnectorLabel"}
    assert all(p["forces_replacement"] for p in change["properties"])
    assert run("deploy", str(stack), "--auto-approve") == 0
    [live] = profiles(against_emulator)
    assert (live["connectorType"], live["connectorLabel"]) == ("CustomConnector", "my-connector")
    assert run("plan", str(stack), "--detailed-exitcode") == 0

    capsys.readouterr()
    assert run("destroy", str(stack), "--auto-approve") == 0
    assert profiles(against_emulator) == []
    assert json.loads((stack / ".stack" / "state" / "dev.json").read_text())["resources"] == {}
    assert run("plan", str(stack), "--detailed-exitcode") == 2  # everything would be created again


def test_credential_change_plans_an_update_without_showing_it(against_emulator: Emulator, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "stack")
    assert run("deploy", str(stack), "--auto-approve") == 0
    capsys.readouterr()
    assert run("plan", str(stack), "-e", "Token=lifecycle-token-2", "--detailed-exitcode") == 2
    out = capsys.readouterr().out
    assert "ConnectorProfileConfig.ConnectorProfileCredentials: (sensitive value changed)" in out
    assert "lifecycle-token" not in out


def test_change_made_outside_the_tool_shows_as_update(against_emulator: Emulator, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "stack")
    assert run("deploy", str(stack), "--auto-approve") == 0
    appflow_client(against_emulator.endpoint).update_connector_profile(
        connectorProfileName="lifecycle-dev-sf", connectionMode="Public",
        connectorProfileConfig={"connectorProfileProperties": {"Salesforce": {"instanceUrl": "https://x.example"}}})
    [change] = plan_json(stack, capsys)["changes"]
    assert change["action"] == "update"
    assert change["properties"][0]["path"] == "ConnectorProfileConfig.ConnectorProfileProperties.Salesforce.InstanceUrl"
    assert change["properties"][0]["before"] == "https://x.example"


def test_profile_deleted_outside_the_tool_is_created_again(against_emulator: Emulator, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "stack")
    assert run("deploy", str(stack), "--auto-approve") == 0
    appflow_client(against_emulator.endpoint).delete_connector_profile(connectorProfileName="lifecycle-dev-sf")
    [change] = plan_json(stack, capsys)["changes"]
    assert (change["action"], change["reasons"]) == (
        "create", ["recorded in state but gone from AWS (deleted outside this stack)"])


def test_renaming_the_profile_replaces_it(against_emulator: Emulator, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "stack")
    assert run("deploy", str(stack), "--auto-approve") == 0
    write_stack(stack, name_suffix="salesforce")
    [change] = plan_json(stack, capsys)["changes"]
    assert change["action"] == "replace"
    assert run("deploy", str(stack), "--auto-approve") == 0
    assert [p["connectorProfileName"] for p in profiles(against_emulator)] == ["lifecycle-dev-salesforce"]


def test_removed_resource_is_deleted_and_retained_one_is_forgotten(against_emulator: Emulator, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "stack")
    assert run("deploy", str(stack), "--auto-approve") == 0
    write_stack(stack, resource="renamed_resource", name_suffix="other")
    changes = plan_json(stack, capsys)["changes"]
    assert [(c["resource"], c["action"]) for c in changes] == [("profile", "delete"), ("renamed_resource", "create")]
    assert run("deploy", str(stack), "--auto-approve") == 0
    assert [p["connectorProfileName"] for p in profiles(against_emulator)] == ["lifecycle-dev-other"]

    text = (stack / "stack.yaml").read_text().replace("    type: AWS::AppFlow",
                                                      "    DeletionPolicy: Retain\n    type: AWS::AppFlow")
    (stack / "stack.yaml").write_text(text)
    assert run("deploy", str(stack), "--auto-approve") == 0  # records retain in state
    capsys.readouterr()
    assert run("destroy", str(stack), "--auto-approve") == 0
    assert "will be forgotten" in capsys.readouterr().out
    assert [p["connectorProfileName"] for p in profiles(against_emulator)] == ["lifecycle-dev-other"]


def test_prevent_destroy_stops_a_replacing_plan(against_emulator: Emulator, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "stack")
    text = (stack / "stack.yaml").read_text().replace("    type: AWS::AppFlow",
                                                      "    prevent_destroy: true\n    type: AWS::AppFlow")
    (stack / "stack.yaml").write_text(text)
    assert run("deploy", str(stack), "--auto-approve") == 0
    (stack / "stack.yaml").write_text(text.replace("-sf'", "-renamed'"))
    capsys.readouterr()
    assert run("deploy", str(stack), "--auto-approve") == 1
    err = capsys.readouterr().err
    assert "prevent_destroy stops this plan: 'profile' would be replaced" in err
    assert run("destroy", str(stack), "--auto-approve") == 1
    assert [p["connectorProfileName"] for p in profiles(against_emulator)] == ["lifecycle-dev-sf"]


def test_deploy_without_a_terminal_needs_auto_approve(against_emulator: Emulator, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    stack = write_stack(tmp_path / "stack")
    assert run("deploy", str(stack)) == 1
    assert "run again with --auto-approve" in capsys.readouterr().err
    assert profiles(against_emulator) == []


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deployer", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_local_cloud_persists_across_processes(tmp_path: Path, aws_env: None) -> None:
    import os

    env = dict(os.environ)
    stack = write_stack(tmp_path / "stack")
    deployed = _cli("deploy", str(stack), "--local", "--auto-approve", env=env)
    assert deployed.returncode == 0, deployed.stderr
    assert "profile: create ok" in deployed.stdout
    assert _cli("plan", str(stack), "--local", "--detailed-exitcode", env=env).returncode == 0
    write_stack(stack, mode="Private")
    assert _cli("plan", str(stack), "--local", "--detailed-exitcode", env=env).returncode == 2
    assert _cli("deploy", str(stack), "--local", "--auto-approve", env=env).returncode == 0
    write_stack(stack, mode="Private", connector_type="CustomConnector", label="my-connector")
    replaced = _cli("deploy", str(stack), "--local", "--auto-approve", env=env)
    assert replaced.returncode == 0, replaced.stderr
    assert "profile: replace ok" in replaced.stdout
    assert _cli("plan", str(stack), "--local", "--detailed-exitcode", env=env).returncode == 0
    destroyed = _cli("destroy", str(stack), "--local", "--auto-approve", env=env)
    assert destroyed.returncode == 0, destroyed.stderr
    with Emulator(data_dir=stack / ".stack" / "local") as local:
        assert profiles(local) == []
