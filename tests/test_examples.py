"""The shipped examples and templates work as they are.

Every stack in ``manifests/`` validates in each of its environments, deploys to the
embedded local cloud, plans clean afterwards and destroys. Every template in
``templates/`` can be used by a stack that sets only its required variables, and its
header lists exactly the variables it reads. The CLI runs in-process (``main``), on
copies in ``tmp_path``, so nothing is written under the repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployer.cli import main
from deployer.schema import connector_profile_schema

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "manifests"
TEMPLATES = REPO / "templates"

EXAMPLES = sorted(path.parent for path in MANIFESTS.glob("*/stack.yaml"))
EXAMPLE_ENVS = [
    pytest.param(example, env.stem, id=f"{example.name}-{env.stem}")
    for example in EXAMPLES
    for env in sorted((example / "environments").glob("*.yaml"))
]
TEMPLATE_FILES = sorted(TEMPLATES.glob("*.yaml"))

# For each template, values for its required variables (and, where the connector needs one
# of several optional credentials, one of them). ProfileName is added by the test.
TEMPLATE_VARS: dict[str, dict[str, Any]] = {
    "amplitude": {"ApiKey": "example-amplitude-api-key", "SecretKey": "example-amplitude-secret-key"},
    "custom_connector": {"ConnectorLabel": "example-connector", "AuthenticationType": "BASIC",
                         "Username": "example-user", "Password": "example-password"},
    "datadog": {"InstanceUrl": "https://api.datadoghq.com", "ApiKey": "example-datadog-api-key",
                "ApplicationKey": "example-datadog-application-key"},
    "dynatrace": {"InstanceUrl": "https://abc12345.live.dynatrace.com", "ApiToken": "example-dynatrace-token"},
    "google_analytics": {"ClientId": "example-client-id", "ClientSecret": "example-client-secret"},
    "infor_nexus": {"InstanceUrl": "https://network.infornexus.com", "AccessKeyId": "example-access-key-id",
                    "UserId": "example-user", "SecretAccessKey": "example-secret-access-key",
                    "Datakey": "example-datakey"},
    "marketo": {"InstanceUrl": "https://123-ABC-456.mktorest.com", "ClientId": "example-client-id",
                "ClientSecret": "example-client-secret"},
    "pardot": {"BusinessUnitId": "0Uv000000000001AAA", "AccessToken": "example-access-token"},
    "redshift": {"BucketName": "example-appflow-staging",
                 "RoleArn": "arn:aws:iam::123456789012:role/example-appflow-redshift",
                 "Username": "example-user", "Password": "example-password"},
    "salesforce": {"AccessToken": "example-access-token"},
    "sapodata": {"ApplicationHostUrl": "https://sap.example.com",
                 "ApplicationServicePath": "/sap/opu/odata/iwfnd/catalogservice;v=2", "PortNumber": 443,
                 "ClientNumber": "100", "Username": "example-user", "Password": "example-password"},
    "service_now": {"InstanceUrl": "https://example.service-now.com", "Username": "example-user",
                    "Password": "example-password"},
    "singular": {"ApiKey": "example-singular-api-key"},
    "slack": {"InstanceUrl": "https://example.slack.com", "ClientId": "example-client-id",
              "ClientSecret": "example-client-secret"},
    "snowflake": {"Warehouse": "EXAMPLE_WH", "Stage": "EXAMPLE_DB.PUBLIC.APPFLOW_STAGE",
                  "BucketName": "example-appflow-stage", "Username": "example-user", "Password": "example-password"},
    "trendmicro": {"ApiSecretKey": "example-trendmicro-secret"},
    "veeva": {"InstanceUrl": "https://example.veevavault.com", "Username": "example-user",
              "Password": "example-password"},
    "zendesk": {"InstanceUrl": "https://example.zendesk.com", "ClientId": "example-client-id",
                "ClientSecret": "example-client-secret"},
}

_HEADER_VARIABLE = re.compile(r"^#\s+(\w+)\s+(required|optional)\b", re.MULTILINE)
_PLAIN_USE = re.compile(r"'\{\{\s*(\w+)\s*\}\}'")
_DEFAULTED_USE = re.compile(r"'\{\{\s*(\w+)\s*\|\s*default\(")
_SECRET_NAME = re.compile(r"secret|password|token|key", re.IGNORECASE)


def _header_variables(template: Path) -> dict[str, str]:
    """Variable -> 'required' or 'optional', as the template's opening comment lists them."""
    header = template.read_text().split("\nprops:", 1)[0]
    return dict(_HEADER_VARIABLE.findall(header))


def _required(template: Path) -> list[str]:
    return [name for name, kind in _header_variables(template).items() if kind == "required"]


TEMPLATE_REQUIRED = [
    pytest.param(template, name, id=f"{template.stem}-{name}")
    for template in TEMPLATE_FILES
    for name in _required(template)
]


@pytest.fixture(autouse=True)
def _no_outside_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables and AWS settings from the developer's shell must not leak into the examples."""
    for name in list(os.environ):
        if name.startswith("STACK_VAR_") or name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
            monkeypatch.delenv(name)


# Examples that read another example's outputs (stack_output): that one is copied beside it and deployed first.
NEEDS = {"reporting": ("redshift-pipeline",)}


def _copy(example: Path, tmp_path: Path) -> Path:
    """The example in tmp_path, without any local cloud or state left in the repository (and what it reads)."""
    for needed in NEEDS.get(example.name, ()):
        shutil.copytree(MANIFESTS / needed, tmp_path / needed, ignore=shutil.ignore_patterns(".stack"))
    return Path(shutil.copytree(example, tmp_path / example.name, ignore=shutil.ignore_patterns(".stack")))


def _resources(stack_dir: Path, env: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["validate", str(stack_dir), "--env", env, "--output", "json"]) == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert result["valid"] is True and result["env"] == env
    return list(result["resources"])


# Examples ---------------------------------------------------------------------------------------


def test_examples_are_found() -> None:
    assert {"salesforce", "multi"} <= {example.name for example in EXAMPLES}


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
def test_example_follows_the_conventions(example: Path) -> None:
    stack = yaml.safe_load((example / "stack.yaml").read_text())
    assert stack["version"] == 1
    assert stack["name"] and stack["description"]
    assert stack["providers"] == ["aws"]
    assert {"name": "region", "value": "{{ vars.AWS_REGION }}"} in stack["globals"]
    dev = yaml.safe_load((example / "environments" / "dev.yaml").read_text())
    assert dev["AWS_REGION"] == "us-east-1"


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
def test_example_credentials_are_obviously_fake(example: Path) -> None:
    for env_file in sorted((example / "environments").glob("*.yaml")):
        for name, value in yaml.safe_load(env_file.read_text()).items():
            if _SECRET_NAME.search(name):
                assert "example" in str(value), f"{env_file.relative_to(REPO)}: {name} does not look fake"


@pytest.mark.parametrize(("example", "env"), EXAMPLE_ENVS)
def test_example_validates(example: Path, env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack_dir = _copy(example, tmp_path)
    name = yaml.safe_load((example / "stack.yaml").read_text())["name"]

    assert main(["validate", str(stack_dir), "--env", env]) == 0, capsys.readouterr().err

    out = capsys.readouterr().out
    assert re.fullmatch(rf"Stack '{re.escape(name)}' is valid: \d+ resources? in environment '{env}'\.\n", out)


@pytest.mark.parametrize(("example", "env"), EXAMPLE_ENVS)
def test_example_deploys_locally_then_plans_clean(example: Path, env: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    stack_dir = _copy(example, tmp_path)
    resources = _resources(stack_dir, env, capsys)
    assert resources
    for needed in NEEDS.get(example.name, ()):
        assert main(["deploy", str(tmp_path / needed), "--env", env, "--local", "--auto-approve"]) == 0

    assert main(["deploy", str(stack_dir), "--env", env, "--local", "--auto-approve"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"Plan: {len(resources)} to create, 0 to update" in out
    assert out.rstrip().endswith(f"Apply finished: {len(resources)} changed.")

    assert main(["plan", str(stack_dir), "--env", env, "--local", "--detailed-exitcode"]) == 0
    out = capsys.readouterr().out
    assert "No changes. AWS matches the stack." in out
    assert out.rstrip().endswith(f"0 to forget, {len(resources)} unchanged.")

    assert main(["destroy", str(stack_dir), "--env", env, "--local", "--auto-approve"]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"Apply finished: {len(resources)} changed.")
    retained = "DeletionPolicy: Retain" in (stack_dir / "stack.yaml").read_text()
    # everything would be created again; a retained profile is still in AWS, outside the state: blocked
    assert main(["plan", str(stack_dir), "--env", env, "--local", "--detailed-exitcode"]) == (1 if retained else 2)
    if not retained:
        assert main(["deploy", str(stack_dir), "--env", env, "--local", "--auto-approve"]) == 0
        assert main(["plan", str(stack_dir), "--env", env, "--local", "--detailed-exitcode"]) == 0


# Templates --------------------------------------------------------------------------------------


def _template_props(template: Path) -> dict[str, Any]:
    return {prop["name"]: prop["value"] for prop in yaml.safe_load(template.read_text())["props"]}


def test_templates_cover_every_connector_type() -> None:
    connector_types = connector_profile_schema()["definitions"]["ConnectorType"]["enum"]
    by_type = {_template_props(template)["ConnectorType"]: template.stem for template in TEMPLATE_FILES}

    assert sorted(by_type) == sorted(connector_types)
    assert len(by_type) == len(TEMPLATE_FILES), "two templates for one connector type"
    assert sorted(TEMPLATE_VARS) == sorted(template.stem for template in TEMPLATE_FILES)


@pytest.mark.parametrize("template", TEMPLATE_FILES, ids=[template.stem for template in TEMPLATE_FILES])
def test_template_reads_the_variables_its_header_lists(template: Path) -> None:
    props_text = template.read_text().split("\nprops:", 1)[1]
    used = {name: "required" for name in _PLAIN_USE.findall(props_text)}
    used |= {name: "optional" for name in _DEFAULTED_USE.findall(props_text)}

    assert _header_variables(template) == used
    props = _template_props(template)
    assert props["ConnectorProfileName"] == "{{ ProfileName }}"
    assert props["ConnectionMode"] == '{{ ConnectionMode | default("Public") }}'
    assert props["KMSArn"] == "{{ KMSArn | default(none) }}"
    assert ("ConnectorLabel" in props) == (props["ConnectorType"] == "CustomConnector")


def _template_stack(tmp_path: Path, template: Path, variables: dict[str, Any]) -> Path:
    """A one-resource stack under tmp_path/stacks that finds the template in tmp_path/templates."""
    library = tmp_path / "templates"
    if not library.exists():
        shutil.copytree(TEMPLATES, library)
    stack_dir = tmp_path / "stacks" / template.stem
    stack_dir.mkdir(parents=True)
    stack = {
        "version": 1,
        "name": f"uses-{template.stem.replace('_', '-')}",
        "providers": ["aws"],
        "globals": [{"name": "region", "value": "us-east-1"}],
        "resources": [{"name": "profile", "template": template.name, "vars": variables}],
    }
    (stack_dir / "stack.yaml").write_text(yaml.safe_dump(stack, sort_keys=False))
    return stack_dir


@pytest.mark.parametrize("template", TEMPLATE_FILES, ids=[template.stem for template in TEMPLATE_FILES])
def test_template_is_usable_with_its_required_variables(template: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    profile_name = f"example-{template.stem.replace('_', '-')}"
    stack_dir = _template_stack(tmp_path, template, {"ProfileName": profile_name, **TEMPLATE_VARS[template.stem]})

    assert main(["validate", str(stack_dir)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == (f"Stack 'uses-{template.stem.replace('_', '-')}' is valid: "
                                       "1 resource in environment 'dev'.\n")

    assert main(["render", str(stack_dir), "--output", "json"]) == 0
    [rendered] = json.loads(capsys.readouterr().out)
    request = rendered["api_request"]
    assert request["connectorProfileName"] == profile_name
    assert request["connectorType"] == _template_props(template)["ConnectorType"]
    assert request["connectionMode"] == "Public"
    assert "kmsArn" not in request


@pytest.mark.parametrize(("template", "variable"), TEMPLATE_REQUIRED)
def test_template_without_a_required_variable_is_refused(template: Path, variable: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    variables = {"ProfileName": "example-profile", **TEMPLATE_VARS[template.stem]}
    del variables[variable]
    stack_dir = _template_stack(tmp_path, template, variables)

    assert main(["validate", str(stack_dir)]) == 1

    err = capsys.readouterr().err
    assert f"undefined variable '{variable}'" in err
    assert f"templates/{template.name}:" in err
