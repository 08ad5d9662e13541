"""A secret cannot be learned from anything stack prints or writes: taint, no oracle, short echoes.

Leak hunts run each command in its own process: the registry of secret values is per process, so an
in-process run would be scrubbed by what an earlier test registered and could not fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.support import appflow_client

TENANT = "Zq9-tenant"
API_TOKEN = "Tk4-api-token"
APP_KEY = "Ak7-app-key"  # named like nothing secret, but read by a credentials block

TAINTED = {  # ProfileProperties key: (template, the value it renders to)
    "upper": ("{{ Tenant|upper }}", TENANT.upper()),
    "reverse": ("{{ Tenant|reverse }}", TENANT[::-1]),
    "concat": ("{{ 'https://' ~ Tenant ~ '.x' }}", f"https://{TENANT}.x"),
    "vars_attr": ("pre-{{ vars.Tenant|lower }}", f"pre-{TENANT.lower()}"),
    "vars_item": ("{{ vars['Tenant'] ~ '!' }}", f"{TENANT}!"),
    "via_global": ("{{ tenant_host }}", f"{TENANT}.example.com"),
    "via_resource_var": ("{{ t|title }}", TENANT.title()),
    "short_slice": ("{{ Tenant[:3] }}", TENANT[:3]),
    "by_name": ("{{ ApiToken|upper }}", API_TOKEN.upper()),
    "by_credentials": ("{{ AppKey ~ '-x' }}", f"{APP_KEY}-x"),
}

STACK = """\
version: 1
name: taint
sensitive: [Tenant]
globals:
  - name: region
    value: us-east-1
  - name: tenant_host
    value: '{{ Tenant }}.example.com'
resources:
  - name: custom
    type: AWS::AppFlow::ConnectorProfile
    vars:
      t: '{{ Tenant }}'
    props:
      - name: ConnectorProfileName
        value: taint-custom
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
                plain: visible-value
%s
          ConnectorProfileCredentials:
            CustomConnector:
              AuthenticationType: CUSTOM
              Custom:
                CustomAuthenticationType: token
                CredentialsMap:
                  token: '{{ AppKey }}'
"""


def write_taint_stack(directory: Path) -> Path:
    directory.mkdir(parents=True)
    lines = "\n".join(f"                {key}: \"{template}\"" for key, (template, _) in TAINTED.items())
    (directory / "stack.yaml").write_text(STACK % lines)
    (directory / "environments").mkdir()
    (directory / "environments" / "dev.yaml").write_text(
        f"Tenant: {TENANT}\nApiToken: {API_TOKEN}\nAppKey: {APP_KEY}\n")
    return directory


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "deployer", *args], capture_output=True, text=True, env=env,
                          timeout=120)
    return f"$ stack {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"


def test_values_computed_from_secrets_are_never_shown_or_stored(tmp_path: Path, aws_env: None) -> None:
    stack = write_taint_stack(tmp_path / "taint")
    plan_file = tmp_path / "plan.json"
    with Emulator() as emulator:
        env = {**os.environ, "AWS_ENDPOINT_URL_APPFLOW": emulator.endpoint, "AWS_MAX_ATTEMPTS": "1"}
        outputs = [run(["render", str(stack)], env), run(["render", str(stack), "--output", "json"], env),
                   run(["plan", str(stack), "--output", "json"], env),
                   run(["plan", str(stack), "--output", "markdown"], env),
                   run(["deploy", str(stack), "--auto-approve"], env),
                   run(["envs", str(stack)], env), run(["state", "show", str(stack), "--output", "json"], env)]
        deployed = appflow_client(emulator.endpoint).describe_connector_profiles()["connectorProfileDetails"][0]
        properties = deployed["connectorProfileProperties"]["CustomConnector"]["profileProperties"]
        assert properties == {"plain": "visible-value", **{k: v for k, (_, v) in TAINTED.items()}}  # AWS has them
        changed = {**properties, "upper": "CHANGED-OUTSIDE", "plain": "changed-plain"}
        appflow_client(emulator.endpoint).update_connector_profile(
            connectorProfileName="taint-custom", connectionMode="Public", connectorProfileConfig={
                "connectorProfileProperties": {"CustomConnector": {"profileProperties": changed}},
                "connectorProfileCredentials": {"CustomConnector": {"authenticationType": "CUSTOM", "custom": {
                    "customAuthenticationType": "token", "credentialsMap": {"token": APP_KEY}}}}})
        outputs += [run(["drift", str(stack)], env), run(["drift", str(stack), "--output", "json"], env),
                    run(["plan", str(stack)], env), run(["plan", str(stack), "-o", str(plan_file)], env),
                    run(["plan", str(stack), "--output", "json"], env)]
    text = "\n".join(outputs)
    assert "-> 0" in text and "changed-plain" in text  # the commands ran, and non-secret values do show
    assert "upper: (sensitive value changed)" in text
    written = "\n".join(p.read_text() for p in [plan_file, *(stack / ".stack").rglob("*.json")])
    for secret in (TENANT, API_TOKEN, APP_KEY, "CHANGED-OUTSIDE", *(v for _, v in TAINTED.values())):
        assert secret not in text, f"{secret} printed:\n{text}"
        assert secret not in written, f"{secret} written to a file"


@pytest.mark.parametrize(("where", "text", "message"), [
    ("if", "    if: \"{{ secret('db')[0] == 'D' }}\"\n", "resources[0].if: if: must not depend on a secret"),
    ("if-bare", "    if: Token == 'x'\n", "resources[0].if: if: must not depend on a secret"),
    ("prevent_destroy", "    prevent_destroy: \"{{ Token|length > 3 }}\"\n",
     "resources[0].prevent_destroy: prevent_destroy: must not depend on a secret"),
], ids=lambda v: v if isinstance(v, str) and "\n" not in v and " " not in v else None)
def test_a_secret_cannot_decide_which_resources_a_plan_has(where: str, text: str, message: str, tmp_path: Path,
                                                           against_emulator: Emulator,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_journeys import set_resource_keys
    from tests.test_lifecycle import write_stack

    stack = write_stack(tmp_path / "stack")
    set_resource_keys(stack, text)
    assert main(["plan", str(stack)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert against_emulator.stats.total == 0


@pytest.mark.parametrize(("old", "new", "message"), [
    ("-sf'", "-{{ Token|lower }}'", "resources[0].props.ConnectorProfileName: ConnectorProfileName must not "
                                      "depend on a secret"),
    ("    value: us-east-1", "    value: \"{{ 'us-east-1' if Token else 'eu-west-1' }}\"",
     "globals.region: the region must not depend on a secret"),
], ids=["identifier", "region-global"])
def test_a_secret_cannot_name_or_place_a_resource(old: str, new: str, message: str, tmp_path: Path,
                                                  against_emulator: Emulator,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_lifecycle import write_stack

    stack = write_stack(tmp_path / "stack")
    text = (stack / "stack.yaml").read_text()
    assert old in text
    (stack / "stack.yaml").write_text(text.replace(old, new) + "sensitive: [Token]\n")
    assert main(["validate", str(stack)]) == 1
    assert message in capsys.readouterr().err
    assert against_emulator.stats.total == 0


def test_a_short_credential_echoed_by_aws_is_redacted_by_position(tmp_path: Path, aws_env: None) -> None:
    from tests.test_lifecycle import write_stack

    stack = write_stack(tmp_path / "stack")
    with Emulator() as emulator:
        env = {**os.environ, "AWS_ENDPOINT_URL_APPFLOW": emulator.endpoint, "AWS_MAX_ATTEMPTS": "1"}
        emulator.knobs.fail_next("EchoValidationException", operation="CreateConnectorProfile", times=10)
        output = run(["deploy", str(stack), "--auto-approve", "--debug", "-e", "Token=q7Z"], env)
    assert "ValidationException: Invalid request: {" in output  # the echo is shown, its shape kept
    assert '"accessToken": "(sensitive)"' in output
    assert "q7Z" not in output.split("\n", 1)[1]  # after the command line this test wrote


def test_envs_hides_a_variable_a_credentials_block_reads(tmp_path: Path, aws_env: None,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_taint_stack(tmp_path / "taint")
    assert main(["envs", str(stack)]) == 0
    out = capsys.readouterr().out
    assert "AppKey" in out and APP_KEY not in out and TENANT not in out and API_TOKEN not in out


def test_digest_does_not_change_with_a_secret(tmp_path: Path, against_emulator: Emulator) -> None:
    """The digest (stored in state, compared by promotion) is no unkeyed hash over credential values."""
    stack = write_taint_stack(tmp_path / "taint")
    assert main(["deploy", str(stack), "--auto-approve"]) == 0
    first = json.loads((stack / ".stack" / "state" / "dev.json").read_text())["deployment"]["digest"]
    assert main(["deploy", str(stack), "--auto-approve", "-e", "AppKey=another-key"]) == 0
    second = json.loads((stack / ".stack" / "state" / "dev.json").read_text())["deployment"]["digest"]
    assert first == second
