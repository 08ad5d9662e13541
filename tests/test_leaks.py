"""No secret in any output or file: every example deployed with distinctive credentials, every command.

Each command runs as its own process, as a user runs it: a process only hides what it
learned is secret itself, so a value that reached a file would show up in the next one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployer.connectors import CONFIG, CREDENTIALS
from deployer.emulator import Emulator
from deployer.engine import Options, validate_offline
from deployer.providers.cloudcontrol.resource import write_only_values
from deployer.render import Inputs
from deployer.secrets import looks_secret
from deployer.validate import Desired
from tests.support import MotoServer

REPO = Path(__file__).resolve().parent.parent
# Every example with a secret to leak (reporting holds none: it reads another stack's outputs, tested apart)
EXAMPLES = sorted(p.parent for p in (REPO / "manifests").glob("*/stack.yaml") if p.parent.name != "reporting")

RESOLVED_STACK = """\
version: 1
name: leak-resolved
globals:
  - name: region
    value: us-east-1
resources:
  - name: custom
    props:
      - name: ConnectorProfileName
        value: leak-resolved-custom
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
                api_base: '{{ ssm("/leak/api-base") }}'
          ConnectorProfileCredentials:
            CustomConnector:
              AuthenticationType: CUSTOM
              Custom:
                CustomAuthenticationType: signed
                CredentialsMap:
                  api_key: '{{ secret("leak-json", key="api_key") }}'
                  signing_secret: '{{ secret("leak-plain") }}'
                  from_variable: '{{ SigningPepper }}'
"""


def _credential_leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _credential_leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _credential_leaves(item)]
    return [str(value)] if isinstance(value, (str, int)) and not isinstance(value, bool) else []


def _secret_part(desired: Desired) -> Any:
    """A connector profile's credentials; a Cloud Control type's write-only values named like secrets."""
    if desired.type == "AWS::AppFlow::Flow":
        return []  # a flow holds no credential
    if desired.schema is None:
        return (desired.request[CONFIG]).get(CREDENTIALS)
    return [value for path, value in write_only_values(desired.schema, desired.request).items()
            if looks_secret(str(path[-1]))]


def credential_variables(stack: Path) -> list[str]:
    """Variables of environments/dev.yaml whose values end up in a credentials block."""
    variables = yaml.safe_load((stack / "environments" / "dev.yaml").read_text())
    desired = validate_offline(stack, Options(inputs=Inputs(env="dev", environ={})))
    leaves = {leaf for d in desired.resources for leaf in _credential_leaves(_secret_part(d))}
    return sorted(name for name, value in variables.items() if str(value) in leaves)


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "deployer", *args], env=env, capture_output=True, text=True,
                          timeout=180)
    return f"$ stack {args[0]} -> {done.returncode}\n{done.stdout}\n{done.stderr}"  # not the -e values we passed


def exercise(stack: Path, variables: list[str], env: dict[str, str], emulator: Emulator) -> tuple[str, list[str]]:
    """Every command, with --debug and --output json; returns all output and the secret values used."""
    first = {name: f"leak-{name}-{uuid.uuid4().hex[:8]}" for name in variables}
    second = {name: f"leak2-{name}-{uuid.uuid4().hex[:8]}" for name in variables}
    bad = {name: f"leak-bad value {uuid.uuid4().hex[:8]}" for name in variables[:1]}  # breaks \\S+ patterns

    def flags(values: dict[str, str]) -> list[str]:
        return [part for name, value in values.items() for part in ("-e", f"{name}={value}")]

    common = [str(stack), "--debug", "--output", "json"]
    output = [
        run(["validate", *common, *flags(first)], env),
        run(["render", *common, *flags(first)], env),
        run(["plan", *common, *flags(first)], env),
        run(["deploy", *common, "--auto-approve", *flags(first)], env),
        run(["plan", *common, *flags(second)], env),
        run(["state", "show", *common], env),
        run(["state", "list", *common], env),
    ]
    emulator.knobs.fail_next("EchoValidationException", operation="UpdateConnectorProfile", times=50)
    output.append(run(["deploy", *common, "--auto-approve", *flags(second)], env))  # AWS quotes the request back
    output.append(run(["plan", *common, *flags({**first, **bad})], env))  # a validation failure
    return "\n".join(output), [*first.values(), *second.values(), *bad.values()]


def files_under(directory: Path) -> str:
    return "\n".join(p.read_bytes().decode("latin-1") for p in directory.rglob("*") if p.is_file())


@pytest.fixture
def leak_env(aws_env: None, moto_server: MotoServer) -> dict[str, str]:
    return {**os.environ, "AWS_MAX_ATTEMPTS": "1", "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_server.endpoint,
            "AWS_ENDPOINT_URL_SSM": moto_server.endpoint, "STACK_VAR_SigningPepper": "leak-pepper-from-environ"}


def test_no_secret_leaks_from_any_example(tmp_path: Path, leak_env: dict[str, str]) -> None:
    def one(example: Path) -> tuple[str, str, str, list[str]]:
        stack = tmp_path / example.name
        shutil.copytree(example, stack, ignore=shutil.ignore_patterns(".stack"))
        variables = credential_variables(stack)
        assert variables, f"{example.name}: no credential variables found"
        with Emulator() as emulator:
            env = {**leak_env, "AWS_ENDPOINT_URL_APPFLOW": emulator.endpoint,
                   "AWS_ENDPOINT_URL_CLOUDCONTROL": emulator.endpoint}
            output, values = exercise(stack, variables, env, emulator)
            assert emulator.stats.errors["ValidationException"] >= 1, output  # the echoing error did happen
        return example.name, output, files_under(stack / ".stack"), values

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, EXAMPLES))
    for name, output, files, values in results:
        assert "-> 0" in output and "-> 1" in output, output
        for value in values:
            assert value not in output, f"{name}: {value} printed:\n{output}"
            assert value not in files, f"{name}: {value} written under .stack/"


def test_no_secret_leaks_from_resolvers(tmp_path: Path, leak_env: dict[str, str], moto_server: MotoServer) -> None:
    secrets = {"leak-plain": "leak-resolved-plain-1f2e", "leak-json": json.dumps({"api_key": "leak-resolved-key-9d8c"})}
    manager = moto_server.client("secretsmanager")
    for name, value in secrets.items():
        try:
            manager.create_secret(Name=name, SecretString=value)
        except manager.exceptions.ResourceExistsException:
            manager.put_secret_value(SecretId=name, SecretString=value)
    moto_server.client("ssm").put_parameter(Name="/leak/api-base", Value="leak-resolved-ssm-5a6b",
                                            Type="SecureString", Overwrite=True)
    stack = tmp_path / "resolved"
    stack.mkdir()
    (stack / "stack.yaml").write_text(RESOLVED_STACK)
    with Emulator() as emulator:
        env = {**leak_env, "AWS_ENDPOINT_URL_APPFLOW": emulator.endpoint}
        common = [str(stack), "--debug", "--output", "json"]
        output = [run(["plan", *common], env), run(["deploy", *common, "--auto-approve"], env),
                  run(["render", *common], env), run(["state", "show", *common], env)]
        manager.put_secret_value(SecretId="leak-plain", SecretString="leak-resolved-plain-rotated-77aa")
        emulator.knobs.fail_next("EchoValidationException", operation="UpdateConnectorProfile", times=50)
        output.append(run(["deploy", *common, "--auto-approve"], env))
        text = "\n".join(output)
        assert emulator.stats.errors["ValidationException"] >= 1, text
    assert "(sensitive value changed)" in text or "credentials changed" in text
    for value in ("leak-resolved-plain-1f2e", "leak-resolved-key-9d8c", "leak-resolved-ssm-5a6b",
                  "leak-resolved-plain-rotated-77aa", "leak-pepper-from-environ"):
        assert value not in text, f"{value} printed:\n{text}"
        assert value not in files_under(stack / ".stack"), f"{value} written under .stack/"
