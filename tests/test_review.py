"""What a reviewer reads: every property of a new resource in the plan, drift as markdown, state as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.support import appflow_client
from tests.test_reliability import write_stack

SECRET = ["-e", "Secret=review-secret-1"]
PROPERTIES = "ConnectorProfileConfig.ConnectorProfileProperties.Zendesk"
CREDENTIALS = "ConnectorProfileConfig.ConnectorProfileCredentials.Zendesk"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "review-secret-1" not in out + err
    return code, out


def plan_document(capsys: pytest.CaptureFixture[str], stack: Path, *extra: str) -> dict[str, Any]:
    code, out = run(capsys, "plan", str(stack), "--output", "json", *SECRET, *extra)
    assert code == 0
    return dict(json.loads(out))


def test_a_new_resource_shows_every_property_in_text_markdown_and_json(against_emulator: Emulator, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    code, text = run(capsys, "plan", str(stack), *SECRET)
    assert code == 0
    assert (
        "  + p00 [reliable-p00 in us-east-1] will be created\n"
        "      # new resource\n"
        '      ConnectorProfileName: "reliable-p00"\n'
        '      ConnectionMode: "Public"\n'
        '      ConnectorType: "Zendesk"\n'
        f'      {PROPERTIES}.InstanceUrl: "https://p00.zendesk.com"\n'
        f"      {CREDENTIALS}.ClientId: (sensitive)\n"
        f"      {CREDENTIALS}.ClientSecret: (sensitive)\n"
    ) in text
    _, markdown = run(capsys, "plan", str(stack), "--output", "markdown", *SECRET)
    assert (
        "```diff\n"
        '+ ConnectorProfileName: "reliable-p00"\n'
        '+ ConnectionMode: "Public"\n'
        '+ ConnectorType: "Zendesk"\n'
        f'+ {PROPERTIES}.InstanceUrl: "https://p00.zendesk.com"\n'
        f"+ {CREDENTIALS}.ClientId: (sensitive)\n"
        f"+ {CREDENTIALS}.ClientSecret: (sensitive)\n"
        "```"
    ) in markdown
    [change] = plan_document(capsys, stack)["changes"]
    assert [(p["path"], p["before"], p["after"], p["sensitive"]) for p in change["properties"]] == [
        ("ConnectorProfileName", None, "reliable-p00", False),
        ("ConnectionMode", None, "Public", False),
        ("ConnectorType", None, "Zendesk", False),
        (f"{PROPERTIES}.InstanceUrl", None, "https://p00.zendesk.com", False),
        (f"{CREDENTIALS}.ClientId", None, None, True),
        (f"{CREDENTIALS}.ClientSecret", None, None, True),
    ]


def test_properties_are_in_cloudformation_spelling_whatever_the_manifest_says(
        against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace("name: ConnectionMode", "name: connectionMode").replace(
        "InstanceUrl:", "instanceUrl:"))
    [change] = plan_document(capsys, stack)["changes"]
    paths = [p["path"] for p in change["properties"]]
    assert "ConnectionMode" in paths and f"{PROPERTIES}.InstanceUrl" in paths


def test_a_value_computed_from_a_secret_is_sensitive_outside_the_credentials_too(
        against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace("https://p00.zendesk.com", "https://{{ Secret }}.zendesk.com"))
    [change] = plan_document(capsys, stack)["changes"]
    [url] = [p for p in change["properties"] if p["path"].endswith("InstanceUrl")]
    assert url == {"path": f"{PROPERTIES}.InstanceUrl", "before": None, "after": None, "sensitive": True,
                   "forces_replacement": False}
    _, text = run(capsys, "plan", str(stack), *SECRET)
    assert f"      {PROPERTIES}.InstanceUrl: (sensitive)\n" in text


def test_a_value_known_after_apply_says_so(against_emulator: Emulator, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 2)
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace(
        "https://p01.zendesk.com", "https://{{ resources.p00.ConnectorProfileName }}.zendesk.com"))
    changes = plan_document(capsys, stack)["changes"]
    [url] = [p for p in changes[1]["properties"] if p["path"].endswith("InstanceUrl")]
    assert url["after"] == "(known after apply)" and not url["sensitive"]


def test_a_resource_created_again_shows_its_properties_too(against_emulator: Emulator, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    assert run(capsys, "deploy", str(stack), "--auto-approve", *SECRET)[0] == 0
    appflow_client(against_emulator.endpoint).delete_connector_profile(connectorProfileName="reliable-p00")
    [change] = plan_document(capsys, stack)["changes"]
    assert change["action"] == "create" and len(change["properties"]) == 6


def test_drift_as_markdown(against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 2)
    assert run(capsys, "deploy", str(stack), "--auto-approve", *SECRET)[0] == 0
    assert run(capsys, "drift", str(stack), "--output", "markdown") == (0, (
        "### Drift of `reliable` in `dev`\n\n2 resources checked, 0 drifted.\n\n"
        "No drift: AWS matches what was last applied.\n\n"
        "Credentials cannot be checked: AWS never returns them.\n"))
    client = appflow_client(against_emulator.endpoint)
    client.update_connector_profile(
        connectorProfileName="reliable-p00", connectionMode="Public",
        connectorProfileConfig={"connectorProfileProperties": {"Zendesk": {"instanceUrl": "https://moved.zendesk.com"}}})
    client.delete_connector_profile(connectorProfileName="reliable-p01")
    code, out = run(capsys, "drift", str(stack), "--output", "markdown")
    assert code == 2
    assert out == (
        "### Drift of `reliable` in `dev`\n\n"
        "2 resources checked, 2 drifted.\n\n"
        "| resource | profile | drift |\n|---|---|---|\n"
        f"| `p00` | `reliable-p00` | changed outside this stack: `{PROPERTIES}.InstanceUrl` |\n"
        "| `p01` | `reliable-p01` | no longer exists in AWS |\n\n"
        "<details><summary><code>p00</code>: changed outside this stack</summary>\n\n"
        "```diff\n"
        f'~ {PROPERTIES}.InstanceUrl: "https://p00.zendesk.com" (last applied) -> "https://moved.zendesk.com" (AWS)\n'
        "```\n\n"
        "</details>\n\n"
        "Credentials cannot be checked: AWS never returns them.\n")


def test_state_list_as_json_has_type_identifier_region_and_arn(against_emulator: Emulator, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 2)
    assert run(capsys, "deploy", str(stack), "--auto-approve", *SECRET)[0] == 0
    code, out = run(capsys, "state", "list", str(stack), "--output", "json")
    assert code == 0
    assert json.loads(out) == {
        "format_version": 1, "stack": "reliable", "env": "dev",
        "resources": [
            {"resource": f"p0{i}", "type": "AWS::AppFlow::ConnectorProfile", "identifier": f"reliable-p0{i}",
             "region": "us-east-1",
             "arn": f"arn:aws:appflow:us-east-1:123456789012:connectorprofile/reliable-p0{i}"}
            for i in range(2)
        ],
    }
    assert run(capsys, "state", "list", str(stack)) == (0, (
        "p00\tAWS::AppFlow::ConnectorProfile\treliable-p00\tus-east-1\n"
        "p01\tAWS::AppFlow::ConnectorProfile\treliable-p01\tus-east-1\n"))
