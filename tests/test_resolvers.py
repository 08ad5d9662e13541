"""secret() and ssm() in templates, against moto in server mode on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.support import MotoServer, appflow_client

STACK = """\
version: 1
name: resolved
globals:
  - name: region
    value: us-east-1
resources:
  - name: custom
    props:
      - name: ConnectorProfileName
        value: resolved-custom
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
                plain: {plain}
                from_json: {from_json}
                from_ssm: {from_ssm}
          ConnectorProfileCredentials:
            CustomConnector:
              AuthenticationType: CUSTOM
              Custom:
                CustomAuthenticationType: token
                CredentialsMap:
                  token: {token}
"""


def write(directory: Path, **values: str) -> Path:
    defaults = {"plain": "'{{ secret(\"res-plain\") }}'", "from_json": "'{{ secret(\"res-json\", key=\"user\") }}'",
                "from_ssm": "'{{ ssm(\"/res/param\") }}'", "token": "'{{ secret(\"res-json\", key=\"token\") }}'"}
    directory.mkdir(exist_ok=True)
    (directory / "stack.yaml").write_text(STACK.format(**{**defaults, **values}))
    return directory


@pytest.fixture
def secrets_in_moto(with_moto: MotoServer) -> MotoServer:
    manager = with_moto.client("secretsmanager")
    for name, value in (("res-plain", "plain-secret-value"),
                        ("res-json", json.dumps({"user": "json-user-value", "token": "json-token-value"}))):
        try:
            manager.create_secret(Name=name, SecretString=value)
        except manager.exceptions.ResourceExistsException:
            pass
    with_moto.client("ssm").put_parameter(Name="/res/param", Value="ssm-secure-value", Type="SecureString",
                                          Overwrite=True)
    return with_moto


def profile_properties(emulator: Emulator) -> dict[str, Any]:
    [detail] = appflow_client(emulator.endpoint).describe_connector_profiles()["connectorProfileDetails"]
    return dict(detail["connectorProfileProperties"]["CustomConnector"]["profileProperties"])


def test_plain_json_key_and_ssm_values_are_fetched_and_never_shown(
        secrets_in_moto: MotoServer, against_emulator: Emulator, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    stack = write(tmp_path / "s")
    assert main(["deploy", str(stack), "--auto-approve"]) == 0
    assert profile_properties(against_emulator) == {"plain": "plain-secret-value", "from_json": "json-user-value",
                                                    "from_ssm": "ssm-secure-value"}
    assert main(["plan", str(stack), "--detailed-exitcode", "--output", "json"]) == 0
    out, err = capsys.readouterr()
    for value in ("plain-secret-value", "json-user-value", "json-token-value", "ssm-secure-value"):
        assert value not in out + err
    state = (stack / ".stack" / "state" / "dev.json").read_text()
    assert "plain-secret-value" not in state and "json-user-value" not in state


def test_validate_and_render_fetch_nothing(monkeypatch: pytest.MonkeyPatch, aws_env: None, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9")  # nothing listens there
    stack = write(tmp_path / "s")
    assert main(["validate", str(stack)]) == 0
    assert main(["render", str(stack)]) == 0
    assert "plain: (known after apply)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"plain": "'{{ secret(\"res-missing\") }}'"},
         "resources[0].props.ConnectorProfileConfig.ConnectorProfileProperties.CustomConnector.ProfileProperties"
         ".plain: secret 'res-missing' not found in us-east-1: check the name, the region and the account"),
        ({"from_json": "'{{ secret(\"res-json\", key=\"nope\") }}'"},
         "secret 'res-json' has no key 'nope' (its keys: token, user)"),
        ({"from_json": "'{{ secret(\"res-plain\", key=\"user\") }}'"},
         "secret 'res-plain' is not JSON, so it has no key 'user'; leave out key="),
        ({"from_ssm": "'{{ ssm(\"/res/missing\") }}'"}, "SSM parameter '/res/missing' not found in us-east-1"),
    ],
    ids=["missing-secret", "missing-json-key", "not-json", "missing-parameter"],
)
def test_resolver_failures_name_the_secret_and_change_nothing(
        values: dict[str, str], message: str, secrets_in_moto: MotoServer, against_emulator: Emulator,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write(tmp_path / "s", **values)
    assert main(["deploy", str(stack), "--auto-approve"]) == 1
    out, err = capsys.readouterr()
    assert message in err
    assert "plain-secret-value" not in out + err and "json-user-value" not in out + err
    assert against_emulator.stats.total == 0
    assert not (stack / ".stack" / "state" / "dev.json").exists()


def test_access_denied_is_reported_with_the_permission_needed(
        against_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    server = MotoServer(unauthenticated_actions=6)  # the six set-up calls below, then IAM is enforced
    try:
        iam = server.client("iam")
        iam.create_user(UserName="admin")
        admin_key = iam.create_access_key(UserName="admin")["AccessKey"]
        iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        iam.create_user(UserName="deployer")
        deployer_key = iam.create_access_key(UserName="deployer")["AccessKey"]
        iam.put_user_policy(UserName="deployer", PolicyName="no-secrets", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "secretsmanager:*",
                                                     "Resource": "*"}]}))
        server.client("secretsmanager", aws_access_key_id=admin_key["AccessKeyId"],
                      aws_secret_access_key=admin_key["SecretAccessKey"]).create_secret(
            Name="res-plain", SecretString="plain-secret-value")
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", server.endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", deployer_key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", deployer_key["SecretAccessKey"])
        stack = write(tmp_path / "s", from_json="x", from_ssm="y", token="t0ken-value")
        assert main(["plan", str(stack)]) == 1
        err = capsys.readouterr().err
        assert "access denied reading secret 'res-plain': the credentials in use need " \
               "secretsmanager:GetSecretValue (and kms:Decrypt for its key)" in err
        assert against_emulator.stats.total == 0
    finally:
        server.stop()
