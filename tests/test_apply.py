"""Apply through the CLI against the emulator: exports flow to dependents, failures stop only dependents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.support import appflow_client

RESOURCE = """\
  - name: {name}
    type: AWS::AppFlow::ConnectorProfile
{extra}    props:
      - name: ConnectorProfileName
        value: {name}-profile
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
                upstream: '{upstream}'
          ConnectorProfileCredentials:
            CustomConnector:
              AuthenticationType: APIKEY
              ApiKey:
                ApiKey: example-key
"""


def write(stack: Path, *resources: str) -> Path:
    stack.mkdir(exist_ok=True)
    head = "version: 1\nname: applied\nglobals:\n  - name: region\n    value: us-east-1\nresources:\n"
    (stack / "stack.yaml").write_text(head + "".join(resources))
    return stack


def resource(name: str, upstream: str = "none", extra: str = "") -> str:
    return RESOURCE.format(name=name, upstream=upstream, extra=extra)


def live_properties(emulator: Emulator) -> dict[str, dict[str, str]]:
    details = appflow_client(emulator.endpoint).describe_connector_profiles(maxResults=100)["connectorProfileDetails"]
    return {d["connectorProfileName"]: d["connectorProfileProperties"]["CustomConnector"]["profileProperties"]
            for d in details}


def test_exports_of_a_new_resource_reach_its_dependent(against_emulator: Emulator, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    stack = write(tmp_path / "s", resource("second", "{{ resources.first.ConnectorProfileArn }}"), resource("first"))
    assert main(["plan", str(stack), "--output", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [c["resource"] for c in plan["changes"]] == ["first", "second"]  # dependency order, not file order

    assert main(["deploy", str(stack), "--auto-approve"]) == 0
    live = live_properties(against_emulator)
    assert live["second-profile"]["upstream"] == "arn:aws:appflow:us-east-1:123456789012:connectorprofile/first-profile"
    assert main(["plan", str(stack), "--detailed-exitcode"]) == 0


def test_bare_export_names_work_like_stack_deploy(against_emulator: Emulator, tmp_path: Path) -> None:
    stack = write(tmp_path / "s", resource("first", extra="    exports: [CredentialsArn]\n"),
                  resource("second", "{{ CredentialsArn }}"))
    assert main(["deploy", str(stack), "--auto-approve"]) == 0
    live = live_properties(against_emulator)
    assert live["second-profile"]["upstream"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:")


def test_a_failure_skips_dependents_and_keeps_the_rest(against_emulator: Emulator, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    stack = write(tmp_path / "s", resource("broken"), resource("independent"),
                  resource("dependent", "{{ resources.broken.ConnectorProfileArn }}"))
    # retried twice as a settling credential, then given up on
    against_emulator.knobs.fail_next("ConnectorAuthenticationException", operation="CreateConnectorProfile", times=3)
    assert main(["deploy", str(stack), "--auto-approve", "--parallelism", "1", "--max-wait", "0"]) == 1
    out, err = capsys.readouterr()
    assert "broken: create FAILED - CreateConnectorProfile failed for 'broken-profile': " \
           "ConnectorAuthenticationException: The connector could not authenticate with the credentials provided. " \
           "(gave up after 3 attempts)" in out
    assert "dependent: create skipped - skipped: depends on 'broken', which did not succeed" in out
    assert "independent: create ok" in out
    assert "Apply finished: 1 changed, 1 failed, 1 skipped." in out
    assert "Error: broken:" in err
    assert sorted(live_properties(against_emulator)) == ["independent-profile"]
    state = json.loads((stack / ".stack" / "state" / "dev.json").read_text())
    assert sorted(state["resources"]) == ["independent"]

    assert main(["deploy", str(stack), "--auto-approve"]) == 0  # run again: the rest is created
    assert sorted(live_properties(against_emulator)) == ["broken-profile", "dependent-profile", "independent-profile"]


def test_parallel_apply_respects_dependencies(against_emulator: Emulator, tmp_path: Path) -> None:
    chain = [resource("r0")] + [resource(f"r{i}", f"{{{{ resources.r{i - 1}.ConnectorProfileArn }}}}")
                                for i in range(1, 6)]
    independent = [resource(f"free{i}") for i in range(6)]
    stack = write(tmp_path / "s", *reversed(chain), *independent)
    assert main(["deploy", str(stack), "--auto-approve", "--parallelism", "8"]) == 0
    live = live_properties(against_emulator)
    for i in range(1, 6):
        assert live[f"r{i}-profile"]["upstream"].endswith(f"connectorprofile/r{i - 1}-profile")
    assert len(live) == 12


def test_calls_are_batched_reads_and_one_write_per_change(against_emulator: Emulator, tmp_path: Path) -> None:
    against_emulator.knobs.quota = 1000
    stack = write(tmp_path / "s", *(resource(f"p{i:03d}") for i in range(250)))
    assert main(["deploy", str(stack), "--auto-approve"]) == 0
    assert dict(against_emulator.stats.calls) == {"DescribeConnectorProfiles": 3, "CreateConnectorProfile": 250}
    against_emulator.stats.reset()
    assert main(["plan", str(stack), "--detailed-exitcode"]) == 0
    assert dict(against_emulator.stats.calls) == {"DescribeConnectorProfiles": 3}
    against_emulator.stats.reset()
    assert main(["deploy", str(stack), "--auto-approve"]) == 0  # no changes: reads only
    assert dict(against_emulator.stats.calls) == {"DescribeConnectorProfiles": 3}
