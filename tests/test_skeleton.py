"""deployer.skeleton: ``stack skeleton TYPE --connector X`` is a stack that validates once filled.

For every connector type CloudFormation knows: the skeleton names only properties of
the CloudFormation schema, in its spelling; its placeholders, filled with ``-e``, make a
stack that ``stack validate`` accepts with the region from ``AWS_REGION`` or
``--region``, and whose CloudFormation template cfn-lint accepts.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.model import ListShape, MapShape, Shape, StructureShape
from cfnlint.api import ManualArgs, lint

from deployer.apimodel import input_shape
from deployer.cli import main
from deployer.connectors import connector_key
from deployer.convert import member_for
from deployer.schema import connector_types
from tests.support import names_outside_schema, sample_string

TYPE = "AWS::AppFlow::ConnectorProfile"
CONNECTOR_TYPES = [t for t in connector_types() if connector_key(t) is not None]
_PLACEHOLDER = re.compile(r"^\{\{ (\w+) \}\}$")
_CANDIDATES = ["sample-value", "https://example.my.salesforce.com", "arn:aws:iam::123456789012:role/sample-role",
               "100", "EN"]


@pytest.fixture(autouse=True)
def _no_outside_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("STACK_VAR_") or name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
            monkeypatch.delenv(name)


def _skeleton(capsys: pytest.CaptureFixture[str], *connectors: str) -> str:
    capsys.readouterr()
    assert main(["skeleton", TYPE, *(part for c in connectors for part in ("--connector", c))]) == 0
    return capsys.readouterr().out


def _props(resource: dict[str, Any]) -> dict[str, Any]:
    return {prop["name"]: prop["value"] for prop in resource["props"]}


def _sample(model: Shape | None) -> str:
    """A value the API model accepts, as text (as -e gives it)."""
    assert model is not None and not isinstance(model, (StructureShape, MapShape, ListShape)), model
    if model.type_name == "boolean":
        return "true"
    if model.type_name in ("integer", "long"):
        return "443"
    return model.enum[0] if model.enum else sample_string(model, _CANDIDATES)


def placeholder_values(resource: dict[str, Any]) -> dict[str, str]:
    """Each placeholder variable of a skeleton resource and a value its member's model shape accepts."""
    found: dict[str, str] = {}

    def walk(value: Any, model: Shape | None) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(model, StructureShape):
                    member = member_for(model, key)
                    walk(item, model.members[member] if member else None)
                else:
                    walk(item, model.value if isinstance(model, MapShape) else None)
        elif isinstance(value, str) and _PLACEHOLDER.match(value):
            name = _PLACEHOLDER.match(value).group(1)  # type: ignore[union-attr]
            if name not in ("stack_name", "stack_env"):
                found[name] = _sample(model)

    walk(_props(resource), input_shape("CreateConnectorProfile"))
    return found


def _write(tmp_path: Path, text: str) -> Path:
    stack_dir = tmp_path / "stack"
    stack_dir.mkdir()
    (stack_dir / "stack.yaml").write_text(text)
    return stack_dir


def _flags(values: dict[str, str]) -> list[str]:
    return [part for name, value in sorted(values.items()) for part in ("-e", f"{name}={value}")]


@pytest.mark.parametrize("connector_type", CONNECTOR_TYPES)
def test_a_filled_skeleton_validates_with_the_region_from_the_environment(
        connector_type: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    text = _skeleton(capsys, connector_type)
    [resource] = yaml.safe_load(text)["resources"]
    assert names_outside_schema(_props(resource)) == []
    values = placeholder_values(resource)
    assert values, "a new profile always needs something"
    stack_dir = _write(tmp_path, text)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")

    assert main(["validate", str(stack_dir), *_flags(values)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == "Stack 'my-stack' is valid: 1 resource in environment 'dev'.\n"

    assert main(["render", str(stack_dir), "--output", "cloudformation", *_flags(values)]) == 0
    template = capsys.readouterr().out
    matches = lint(template, config=ManualArgs(regions=["eu-west-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []
    assert yaml.safe_load(template)["Resources"]["ConnectorProfile"]["Metadata"]["Stack"]["Region"] == "eu-west-1"


def test_an_unfilled_skeleton_names_every_missing_variable_at_once(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    stack_dir = _write(tmp_path, _skeleton(capsys, "Redshift"))
    assert main(["validate", str(stack_dir), "--region", "us-west-2"]) == 1
    err = capsys.readouterr().err
    assert sorted(re.findall(r"undefined variable '(\w+)'", err)) == ["BucketName", "Password", "RoleArn", "Username"]
    assert "AWS_REGION" not in err


@pytest.mark.parametrize(
    ("connector_type", "present", "absent"),
    [
        ("CustomConnector", ["OAuthRequest:", "ConnectorLabel", "KMSArn", "AuthenticationType: BASIC"],
         ["ConnectorOAuthRequest", "CodeVerifier"]),
        ("Servicenow", ["OAuthRequest:", "KMSArn"], ["ConnectorOAuthRequest", "CodeVerifier", "ConnectorLabel"]),
        ("Salesforce",
         ["ConnectorOAuthRequest:", "isSandboxEnvironment:", "usePrivateLinkForMetadataAndAuthorization:"],
         ["CodeVerifier", "IsSandboxEnvironment", "ConnectorLabel"]),
        ("Snowflake", ["Password: '{{ Password }}'"], ["PrivateKey"]),
        ("Pardot", ["BusinessUnitId: '{{ BusinessUnitId }}'", "IsSandboxEnvironment:"], []),
        ("Amplitude", ["ConnectorProfileCredentials:"], ["ConnectorProfileProperties", "Amplitude: {}"]),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_the_skeleton_uses_the_schemas_names(connector_type: str, present: list[str], absent: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    text = _skeleton(capsys, connector_type)
    for part in present:
        assert part in text
    for part in absent:
        assert part not in text
    assert "vars.AWS_REGION" not in text


def test_the_all_connectors_skeleton_has_only_the_schemas_names(capsys: pytest.CaptureFixture[str]) -> None:
    [resource] = yaml.safe_load(_skeleton(capsys))["resources"]
    props = _props(resource)
    assert names_outside_schema(props) == []
    config = props["ConnectorProfileConfig"]
    assert sorted(config["ConnectorProfileCredentials"]) == sorted(str(connector_key(t)) for t in CONNECTOR_TYPES)
    assert "Honeycode" not in json.dumps(props)


def test_each_connector_given_is_a_resource_of_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _skeleton(capsys, "Salesforce", "zendesk", "Salesforce")
    resources = yaml.safe_load(text)["resources"]
    assert [r["name"] for r in resources] == ["salesforce", "zendesk"]
    values: dict[str, str] = {}
    for resource in resources:
        assert names_outside_schema(_props(resource)) == []
        values.update(placeholder_values(resource))
    assert sorted(values) == ["SalesforceAccessToken", "ZendeskClientId", "ZendeskClientSecret", "ZendeskInstanceUrl"]

    assert main(["validate", str(_write(tmp_path, text)), "--region", "us-east-1", *_flags(values)]) == 0
    assert "2 resources" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("connector", "message"),
    [("Nope", "Error: unknown connector 'Nope'; one of: Salesforce, "),
     ("Honeycode", "Error: connector 'Honeycode' has no CloudFormation connector profile; one of: Salesforce, ")],
)
def test_an_unknown_connector_is_refused(connector: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["skeleton", TYPE, "--connector", connector]) == 1
    assert capsys.readouterr().err.startswith(message)
