"""deployer.skeleton: ``stack skeleton TYPE --connector X`` is a stack that validates once filled.

For every connector type CloudFormation knows: the skeleton names only properties of
the CloudFormation schema, in its spelling; its placeholders, filled with ``-e``, make a
stack that ``stack validate`` accepts with the region from ``AWS_REGION`` or
``--region``, and whose CloudFormation template cfn-lint accepts.
For any other type (a type name or StackQL id): the required props from its provider
schema, the settable ones commented, the read-only ones only named as attributes.
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
from deployer.manifest import load_manifest
from deployer.registry import type_schema
from deployer.schema import connector_types
from deployer.skeleton_cloud import first_sentence, resource_name
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


# Any other type: written from its provider schema (deployer.skeleton_cloud).

def _cloud_skeleton(capsys: pytest.CaptureFixture[str], type_name: str) -> str:
    capsys.readouterr()
    assert main(["skeleton", type_name]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _commented_props(text: str) -> list[str]:
    return re.findall(r"^ {6}# - name: (\w+)", text, re.MULTILINE)


@pytest.mark.parametrize(
    ("given", "name", "type_name", "required"),
    [
        ("AWS::S3::Bucket", "bucket", "AWS::S3::Bucket", []),
        ("AWS::KMS::Key", "key", "AWS::KMS::Key", []),
        ("AWS::Redshift::Cluster", "cluster", "AWS::Redshift::Cluster",
         ["ClusterType", "DBName", "MasterUsername", "NodeType"]),
        ("AWS::AppFabric::AppAuthorization", "app_authorization", "AWS::AppFabric::AppAuthorization",
         ["App", "AppBundleIdentifier", "AuthType", "Tenant"]),
        ("aws.s3.buckets", "bucket", "AWS::S3::Bucket", []),
        ("awscc.redshift.clusters", "cluster", "AWS::Redshift::Cluster",
         ["ClusterType", "DBName", "MasterUsername", "NodeType"]),
    ],
    ids=["bucket", "kms-key", "redshift-cluster", "enum-and-object", "stackql-id", "awscc-id"],
)
def test_a_cloud_skeleton_sets_the_required_props_and_comments_the_others(
        given: str, name: str, type_name: str, required: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    text = _cloud_skeleton(capsys, given)
    [resource] = yaml.safe_load(text)["resources"]
    found = type_schema(type_name)
    read_only = {pointer.split("/")[2] for pointer in found.read_only if pointer.count("/") == 2}

    assert (resource["name"], resource["type"]) == (name, type_name)
    assert sorted(_props(resource)) == required
    assert sorted(_commented_props(text)) == sorted(set(found.properties) - set(required) - read_only
                                                    - _only_read_back(type_name))
    assert read_only, "every type here has attributes"
    assert not read_only & (set(_props(resource)) | set(_commented_props(text)))
    for attribute in read_only:
        assert re.search(rf"^ {{4}}#.*\b{attribute}\b", text, re.MULTILINE), attribute


def _only_read_back(type_name: str) -> set[str]:
    """Objects whose every member is read-only: nothing to set, so not offered."""
    return {"Endpoint"} if type_name == "AWS::Redshift::Cluster" else set()


@pytest.mark.parametrize(
    ("type_name", "lines"),
    [
        ("AWS::Redshift::Cluster", [
            "    # Read back after create, for other resources as '{{ resources.cluster.ATTRIBUTE }}':",
            "    #   ClusterNamespaceArn, DeferMaintenanceIdentifier, Endpoint.Address, Endpoint.Port, "
            "MasterPasswordSecretArn",
            "        value: '{{ ClusterType }}'  # The type of the cluster",
            "        value: '{{ DBName }}'  # The name of the first database to be created when the cluster is "
            "created; changing it replaces the resource",
            "      # - name: MasterUserPassword  # string: The password associated with the master user account for "
            "the cluster that is being created; write-only: never read back",
            "      # - name: Port  # integer: The port number on which the cluster accepts incoming connections",
        ]),
        ("AWS::AppFabric::AppAuthorization", [
            "        value: oauth2  # or apiKey; The authorization type; changing it replaces the resource",
            "          TenantIdentifier: '{{ TenantIdentifier }}'  # The ID of the application tenant",
        ]),
        ("AWS::KMS::Key", [
            "    props: []  # nothing is required; to set a property, drop the [] and uncomment it below",
            "      # - name: KeyUsage  # string: Determines the cryptographic operations for which you can use the "
            "KMS key; one of: ENCRYPT_DECRYPT, SIGN_VERIFY ...",
        ]),
        ("AWS::AppStream::DirectoryConfig", [
            "sensitive: [AccountPassword]",
            "        value: ['{{ OrganizationalUnitDistinguishedNames }}']  # a list",
            "          AccountPassword: '{{ AccountPassword }}'  # write-only: never read back",
        ]),
        ("AWS::AppStream::Entitlement", [
            "          - Name: '{{ AttributesName }}'",
            "        value: '{{ Name }}'  # changing it replaces the resource",
        ]),
    ],
    ids=["redshift-cluster", "enum-and-object", "kms-key", "secret-variable", "list-of-objects"],
)
def test_a_cloud_skeletons_comments_say_how_each_property_behaves(type_name: str, lines: list[str],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    text = _cloud_skeleton(capsys, type_name).splitlines()
    for line in lines:
        assert line in text


@pytest.mark.parametrize(
    ("type_name", "variables", "values"),
    [
        ("AWS::S3::Bucket", [], {}),
        ("AWS::Redshift::Cluster", ["ClusterType", "DBName", "MasterUsername", "NodeType"],
         {"ClusterType": "single-node", "DBName": "dev", "MasterUsername": "admin", "NodeType": "ra3.large"}),
        ("AWS::AppFabric::AppAuthorization", ["App", "AppBundleIdentifier", "TenantDisplayName", "TenantIdentifier"],
         {"App": "SLACK", "AppBundleIdentifier": "arn:aws:appfabric:us-east-1:123456789012:appbundle/abc",
          "TenantDisplayName": "acme", "TenantIdentifier": "T0123"}),
    ],
    ids=["bucket", "redshift-cluster", "enum-and-object"],
)
def test_a_cloud_skeleton_loads_and_validates_once_its_variables_are_given(
        type_name: str, variables: list[str], values: dict[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    stack_dir = _write(tmp_path, _cloud_skeleton(capsys, type_name))
    [spec] = load_manifest(stack_dir).resources
    assert spec.type == type_name

    if variables:
        assert main(["validate", str(stack_dir), "--region", "us-east-1"]) == 1
        assert sorted(re.findall(r"undefined variable '(\w+)'", capsys.readouterr().err)) == variables
    assert main(["validate", str(stack_dir), "--region", "us-east-1", *_flags(values)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == "Stack 'my-stack' is valid: 1 resource in environment 'dev'.\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["AWS::Serverless::Function"],
         "Error: AWS::Serverless::Function cannot be deployed, so it has no skeleton: an AWS SAM macro type, "
         "expanded by the AWS::Serverless transform inside CloudFormation; not a registry type\n"),
        (["AWS::S3::Buckt"], "Error: unknown resource type 'AWS::S3::Buckt' in us-east-1; "
                             "did you mean 'AWS::S3::Bucket'?\n"),
        (["aws.s3.bukkets"], "Error: unknown StackQL id 'aws.s3.bukkets'; did you mean 'aws.s3.buckets'?\n"),
        (["AWS::S3::Bucket", "--connector", "Salesforce"],
         "Error: --connector is for AWS::AppFlow::ConnectorProfile; AWS::S3::Bucket has no connectors\n"),
    ],
    ids=["sam-type", "unknown-type", "unknown-stackql-id", "connector-for-another-type"],
)
def test_a_type_without_a_skeleton_is_refused(argv: list[str], message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["skeleton", *argv]) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", message)


@pytest.mark.parametrize("alias", ["aws.appflow.connector_profiles", "awscc.appflow.connector_profiles"])
def test_a_connector_profile_alias_gives_the_connector_profile_skeleton(alias: str,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    expected = _skeleton(capsys, "Salesforce")
    capsys.readouterr()
    assert main(["skeleton", alias, "--connector", "Salesforce"]) == 0
    assert capsys.readouterr().out == expected


@pytest.mark.parametrize(
    ("description", "sentence"),
    [
        ("The type of the cluster. When cluster type is single-node...", "The type of the cluster"),
        ("Determines the [cryptographic operations](https://docs.aws.amazon.com/x) for which. More.",
         "Determines the cryptographic operations for which"),
        ("The default is ``ENCRYPT_DECRYPT``.\n Next.", "The default is ENCRYPT_DECRYPT"),
        ("word " * 30, "word " * 19 + "word..."),
        ("", ""),
    ],
    ids=["first-sentence", "markdown-link", "markdown-code", "cut", "empty"],
)
def test_a_description_becomes_its_first_sentence(description: str, sentence: str) -> None:
    assert first_sentence(description) == sentence


@pytest.mark.parametrize(
    ("type_name", "name"),
    [("AWS::S3::Bucket", "bucket"), ("AWS::RDS::DBCluster", "db_cluster"),
     ("AWS::EC2::VPCEndpoint", "vpc_endpoint"), ("AWS::AppFabric::AppAuthorization", "app_authorization")],
    ids=lambda v: v,
)
def test_a_resource_is_named_for_its_type(type_name: str, name: str) -> None:
    assert resource_name(type_name) == name
