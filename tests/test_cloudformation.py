"""deployer.cloudformation: ``stack render --output cloudformation``, judged by cfn-lint.

Every example in every environment, and every connector type's template, renders to a
template that cfn-lint (its Python API, in-process, default rules) finds no error and
no warning in, with property names only from the CloudFormation schema. Secrets become
NoEcho parameters, references to other resources become intrinsic functions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from deployer.cli import main
from deployer.cloudformation import build_template, logical_id, template_yaml
from deployer.engine import Options, validate_offline
from deployer.errors import ManifestError
from deployer.render import Inputs
from deployer.secrets import SECRETS
from tests.support import names_outside_schema
from tests.test_examples import EXAMPLE_ENVS, TEMPLATE_FILES, TEMPLATE_VARS, _template_stack


@pytest.fixture(autouse=True)
def _no_outside_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("STACK_VAR_") or name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
            monkeypatch.delenv(name)


def _render(stack_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(["render", str(stack_dir), "--output", "cloudformation", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


# cfn-lint's advice to read a password such as a Redshift cluster's MasterUserPassword through a dynamic reference
# rather than the NoEcho parameter the template gives every secret: where the user keeps the secret, the template
# cannot know. The only finding tolerated, and only as this warning.
ADVICE = "W1011 warning "


def _lint(text: str) -> list[str]:
    """cfn-lint's matches as 'E3030 error line 17: message', in the regions the template's resources are in."""
    template = yaml.safe_load(text)
    regions = sorted({r["Metadata"]["Stack"].get("Region", "us-east-1") for r in template["Resources"].values()})
    return [f"{m.rule.id} {m.rule.severity} line {m.linenumber}: {m.message}"
            for m in lint(text, config=ManualArgs(regions=regions))]


def test_every_example_in_every_environment_passes_cfn_lint(capsys: pytest.CaptureFixture[str]) -> None:
    runs: dict[str, list[str]] = {}
    for param in EXAMPLE_ENVS:
        example, env = param.values
        text = _render(example, capsys, "--env", env)
        assert "(sensitive)" not in text  # nothing secret reached the template, so nothing had to be scrubbed
        runs[f"{example.name}-{env}"] = _lint(text)

    assert len(runs) == len(EXAMPLE_ENVS) == 20
    found = {run: [m for m in matches if not m.startswith(ADVICE)] for run, matches in runs.items()}
    found = {run: matches for run, matches in found.items() if matches}
    errors = {run: [m for m in matches if " error " in m] for run, matches in found.items()}
    assert not any(errors.values()), json.dumps(found, indent=2)
    assert not found, f"warnings: {json.dumps(found, indent=2)}"  # none today: keep it that way


@pytest.mark.parametrize("template", TEMPLATE_FILES, ids=[t.stem for t in TEMPLATE_FILES])
def test_every_connector_type_renders_a_template_cfn_lint_accepts(template: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    stack_dir = _template_stack(tmp_path, template, {"ProfileName": "example-profile", **TEMPLATE_VARS[template.stem]})
    text = _render(stack_dir, capsys)
    [resource] = yaml.safe_load(text)["Resources"].values()

    assert _lint(text) == []
    assert names_outside_schema(resource["Properties"]) == []

    capsys.readouterr()
    assert main(["render", str(stack_dir), "--output", "json"]) == 0
    [rendered] = json.loads(capsys.readouterr().out)
    assert names_outside_schema(rendered["props"]) == []


# One stack that uses what the template must translate: references inside text and alone, an explicit
# dependency, a retained resource, secrets (in credentials and out), and an enum inside credentials.
STACK = """\
version: 1
name: refs
description: references between profiles
globals:
  - name: region
    value: eu-west-1
sensitive: [Tenant]
resources:
  - name: source_profile
    DeletionPolicy: Retain
    props:
      - name: ConnectorProfileName
        value: refs-source
      - name: ConnectionMode
        value: Public
      - name: ConnectorType
        value: Salesforce
      - name: ConnectorProfileConfig
        value:
          ConnectorProfileProperties:
            Salesforce:
              instanceUrl: 'https://{{ Tenant }}.my.salesforce.com'
              isSandboxEnvironment: 'true'
          ConnectorProfileCredentials:
            Salesforce:
              JwtToken: '{{ Jwt }}'
              OAuth2GrantType: JWT_BEARER
    exports: [ConnectorProfileArn, CredentialsArn, ConnectorProfileName]
  - name: other
    props:
      - name: ConnectorProfileName
        value: refs-other
      - name: ConnectionMode
        value: Public
      - name: ConnectorType
        value: Singular
      - name: ConnectorProfileConfig
        value:
          ConnectorProfileCredentials:
            Singular:
              ApiKey: '{{ SingularKey }}'
  - name: consumer
    depends_on: [other, source_profile]
    props:
      - name: ConnectorProfileName
        value: '{{ resources.source_profile.ConnectorProfileName }}-consumer'
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
                source: '{{ ConnectorProfileArn }}'
                note: 'from ${literal} {{ resources.source_profile.CredentialsArn }}'
          ConnectorProfileCredentials:
            CustomConnector:
              AuthenticationType: APIKEY
              ApiKey:
                ApiKey: '{{ SingularKey }}'
"""
VARIABLES = {"Tenant": "acme-tenant-x", "Jwt": "header.payload.signature", "SingularKey": "singular-key-123"}


def _template(tmp_path: Path, text: str = STACK, **variables: str) -> dict[str, Any]:
    (tmp_path / "stack.yaml").write_text(text)
    inputs = Inputs(env="dev", cli_vars={**VARIABLES, **variables}, environ={})
    return build_template(validate_offline(tmp_path, Options(inputs=inputs)))


def test_references_secrets_dependencies_and_exports_become_cloudformation(tmp_path: Path) -> None:
    template = _template(tmp_path)

    assert list(template["Resources"]) == ["SourceProfile", "Other", "Consumer"]
    assert template["Resources"]["SourceProfile"] == {
        "Type": "AWS::AppFlow::ConnectorProfile",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Metadata": {"Stack": {"Resource": "source_profile", "Region": "eu-west-1"}},
        "Properties": {
            "ConnectorProfileName": "refs-source",
            "ConnectionMode": "Public",
            "ConnectorType": "Salesforce",
            "ConnectorProfileConfig": {
                "ConnectorProfileProperties": {"Salesforce": {
                    "InstanceUrl": {"Ref": "SourceProfileInstanceUrl"},  # computed from a sensitive variable
                    "isSandboxEnvironment": True}},
                "ConnectorProfileCredentials": {"Salesforce": {
                    "JwtToken": {"Ref": "SourceProfileJwtToken"},
                    "OAuth2GrantType": "JWT_BEARER"}},  # an enum: no secret
            },
        },
    }
    consumer = template["Resources"]["Consumer"]
    assert consumer["DependsOn"] == ["Other"]  # source_profile is implied by the references
    assert consumer["Properties"]["ConnectorProfileName"] == {"Fn::Sub": "${SourceProfile}-consumer"}
    assert consumer["Properties"]["ConnectorProfileConfig"] == {
        "ConnectorProfileProperties": {"CustomConnector": {"ProfileProperties": {
            "source": {"Fn::GetAtt": ["SourceProfile", "ConnectorProfileArn"]},
            "note": {"Fn::Sub": "from ${!literal} ${SourceProfile.CredentialsArn}"}}}},
        "ConnectorProfileCredentials": {"CustomConnector": {
            "AuthenticationType": "APIKEY", "ApiKey": {"ApiKey": {"Ref": "ConsumerApiKeyApiKey"}}}},
    }
    assert template["Parameters"] == {
        name: {"Type": "String", "NoEcho": True, "Description": f"{path} of {resource}"}
        for name, path, resource in [
            ("SourceProfileInstanceUrl", "ConnectorProfileConfig.ConnectorProfileProperties.Salesforce.InstanceUrl",
             "source_profile"),
            ("SourceProfileJwtToken", "ConnectorProfileConfig.ConnectorProfileCredentials.Salesforce.JwtToken",
             "source_profile"),
            ("OtherApiKey", "ConnectorProfileConfig.ConnectorProfileCredentials.Singular.ApiKey", "other"),
            ("ConsumerApiKeyApiKey", "ConnectorProfileConfig.ConnectorProfileCredentials.CustomConnector.ApiKey.ApiKey",
             "consumer"),
        ]
    }
    assert template["Outputs"] == {
        f"SourceProfile{attribute}": {
            "Description": f"{attribute} of source_profile", "Value": value,
            "Export": {"Name": {"Fn::Sub": f"${{AWS::StackName}}-SourceProfile-{attribute}"}}}
        for attribute, value in [("ConnectorProfileArn", {"Fn::GetAtt": ["SourceProfile", "ConnectorProfileArn"]}),
                                 ("CredentialsArn", {"Fn::GetAtt": ["SourceProfile", "CredentialsArn"]}),
                                 ("ConnectorProfileName", {"Ref": "SourceProfile"})]
    }
    text = template_yaml(template)
    assert _lint(text) == []
    for value in VARIABLES.values():
        assert value in SECRETS and value not in text


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("              OAuth2GrantType: JWT_BEARER\n",
         "              OAuth2GrantType: JWT_BEARER\n              ConnectorOAuthRequest: {AuthCode: c, CodeVerifier: "
         + "v" * 43 + "}\n",
         "stack.yaml:28 resources[0].props.ConnectorProfileConfig.ConnectorProfileCredentials.Salesforce"
         ".ConnectorOAuthRequest.CodeVerifier: has no CloudFormation property, so the template cannot set it; "
         "leave it out of the stack to render it for CloudFormation"),
        ("{{ ConnectorProfileArn }}", "{{ ConnectorProfileArn | upper }}",
         "stack.yaml:58 resources[2].props.ConnectorProfileConfig.ConnectorProfileProperties.CustomConnector"
         ".ProfileProperties.source: is computed from 'RESOURCES.SOURCE_PROFILE.CONNECTORPROFILEARN', known only "
         "after apply, in a way CloudFormation cannot express; use the attribute as it is (resources.NAME"
         ".ConnectorProfileArn, CredentialsArn or ConnectorProfileName), alone or inside text"),
        ("exports: [ConnectorProfileArn, CredentialsArn, ConnectorProfileName]", "exports: [ConnectorProfileArn, Foo]",
         "stack.yaml:9 resources[0].exports: export 'Foo' is no CloudFormation attribute of "
         "AWS::AppFlow::ConnectorProfile; export one of: ConnectorProfileName, ConnectorProfileArn, CredentialsArn"),
    ],
    ids=["member-the-schema-lacks", "filter-on-a-reference", "export-that-is-no-attribute"],
)
def test_what_cloudformation_cannot_express_is_refused(old: str, new: str, expected: str, tmp_path: Path) -> None:
    assert STACK.count(old) == 1
    with pytest.raises(ManifestError) as raised:
        _template(tmp_path, STACK.replace(old, new))
    assert [d.render() for d in raised.value.diagnostics] == [f"{tmp_path}/{expected}"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("salesforce_profile", "SalesforceProfile"), ("crm", "Crm"), ("api_key-id", "ApiKeyId"),
     ("sf2_profile", "Sf2Profile"), ("9lives", "R9lives"), ("__", "Resource"), ("isSandbox", "IsSandbox")],
)
def test_logical_id(name: str, expected: str) -> None:
    assert logical_id(name) == expected


def test_names_that_meet_in_one_logical_id_are_told_apart(tmp_path: Path) -> None:
    stack = STACK.replace("  - name: other\n", "  - name: Other_\n").replace("[other, source_profile]",
                                                                               "[Other_, source_profile]")
    stack = stack.replace("  - name: consumer\n", "  - name: other\n    depends_on: [Other_]\n"
                          "    template: singular.yaml\n    vars: {ProfileName: refs-other2, ApiKey: k}\n"
                          "  - name: consumer\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "singular.yaml").write_text(
        (Path(__file__).parent.parent / "templates" / "singular.yaml").read_text())
    template = _template(tmp_path, stack)
    assert list(template["Resources"]) == ["SourceProfile", "Other", "Other2", "Consumer"]
    assert template["Resources"]["Other2"]["DependsOn"] == ["Other"]


def test_render_takes_cloudformation_json_and_other_commands_refuse_it(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stack.yaml").write_text(STACK)
    flags = [part for name, value in VARIABLES.items() for part in ("-e", f"{name}={value}")]
    assert main(["render", str(tmp_path), "--output", "cloudformation-json", *flags]) == 0
    text = capsys.readouterr().out
    assert json.loads(text) == _template(tmp_path)
    assert _lint(text) == []

    with pytest.raises(SystemExit) as usage:
        main(["plan", str(tmp_path), "--output", "cloudformation"])
    assert usage.value.code == 64


# A stack of Cloud Control types (one named by its StackQL id) whose last resource reads the others' attributes.
CLOUD_STACK = """\
version: 1
name: cloud
globals:
  - name: region
    value: eu-west-1
resources:
  - name: key
    type: AWS::KMS::Key
    props:
      - name: Description
        value: cloud key
    exports: [Arn]
  - name: bucket
    type: aws.s3.buckets
    DeletionPolicy: Retain
    props:
      - name: BucketName
        value: cloud-bucket-123456789012
  - name: cluster
    type: AWS::Redshift::Cluster
    props:
      - name: ClusterIdentifier
        value: cloud-warehouse
      - name: ClusterType
        value: single-node
      - name: NodeType
        value: ra3.large
      - name: DBName
        value: analytics
      - name: MasterUsername
        value: admin
      - name: ManageMasterPassword
        value: true
  - name: secret
    type: AWS::SecretsManager::Secret
    props:
      - name: SecretString
        value: '{{ DbPassword }}'
  - name: reader
    type: AWS::SSM::Parameter
    depends_on: [secret]
    props:
      - name: Type
        value: String
      - name: Value
        value: 'REFERENCE'
"""


def _cloud_template(tmp_path: Path, reference: str, text: str = CLOUD_STACK) -> dict[str, Any]:
    return _template(tmp_path, text.replace("REFERENCE", reference), DbPassword="db-password-123")


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("{{ resources.bucket.Arn }}", {"Fn::GetAtt": ["Bucket", "Arn"]}),
        ("{{ resources.cluster.Endpoint.Address }}", {"Fn::GetAtt": ["Cluster", "Endpoint.Address"]}),
        ("{{ resources.bucket.BucketName }}", {"Ref": "Bucket"}),
        ("{{ resources.key.KeyId }}", {"Fn::GetAtt": ["Key", "KeyId"]}),
        ("{{ resources.secret.Id }}", {"Fn::GetAtt": ["Secret", "Id"]}),
        ("jdbc:redshift://{{ resources.cluster.Endpoint.Address }}:{{ resources.cluster.Endpoint.Port }}/"
         "{{ resources.bucket.BucketName }}/${literal}",
         {"Fn::Sub": "jdbc:redshift://${Cluster.Endpoint.Address}:${Cluster.Endpoint.Port}/${Bucket}/${!literal}"}),
    ],
    ids=["get-att-top-level", "get-att-nested", "ref-settable-identifier", "get-att-read-only-identifier",
         "get-att-secret-id", "sub-inside-text"],
)
def test_references_to_cloud_control_types_become_intrinsics(reference: str, expected: Any, tmp_path: Path) -> None:
    template = _cloud_template(tmp_path, reference)

    reader = template["Resources"]["Reader"]
    assert reader["Properties"] == {"Type": "String", "Value": expected}
    implied = "resources.secret." in reference  # a declared dependency a reference implies is not repeated
    assert reader.get("DependsOn") == (None if implied else ["Secret"])
    assert _lint(template_yaml(template)) == []


def test_cloud_control_types_keep_their_properties_and_resolved_type(tmp_path: Path) -> None:
    template = _cloud_template(tmp_path, "{{ resources.secret.Id }}")

    assert [(name, r["Type"]) for name, r in template["Resources"].items()] == [
        ("Key", "AWS::KMS::Key"), ("Bucket", "AWS::S3::Bucket"), ("Cluster", "AWS::Redshift::Cluster"),
        ("Secret", "AWS::SecretsManager::Secret"), ("Reader", "AWS::SSM::Parameter")]
    assert template["Resources"]["Bucket"] == {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Metadata": {"Stack": {"Resource": "bucket", "Region": "eu-west-1"}},
        "Properties": {"BucketName": "cloud-bucket-123456789012"},
    }
    assert template["Resources"]["Cluster"]["Properties"] == {
        "ClusterIdentifier": "cloud-warehouse", "ClusterType": "single-node", "NodeType": "ra3.large",
        "DBName": "analytics", "MasterUsername": "admin", "ManageMasterPassword": True}
    assert template["Resources"]["Secret"]["Properties"] == {"SecretString": {"Ref": "SecretSecretString"}}
    assert template["Parameters"] == {
        "SecretSecretString": {"Type": "String", "NoEcho": True, "Description": "SecretString of secret"}}
    assert template["Outputs"] == {"KeyArn": {
        "Description": "Arn of key", "Value": {"Fn::GetAtt": ["Key", "Arn"]},
        "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-Key-Arn"}}}}
    text = template_yaml(template)
    assert "db-password-123" not in text
    assert _lint(text) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # a settable property is no attribute: refused when the stack renders, for every command
        ("'REFERENCE'", "'{{ resources.cluster.NodeType }}'",
         "stack.yaml:46 resources[4].props.Value: resources.cluster has no attribute 'NodeType' "
         "(AWS::Redshift::Cluster); it has ClusterIdentifier, ClusterNamespaceArn, DeferMaintenanceIdentifier, "
         "Endpoint, MasterPasswordSecretArn. A value the manifest sets is read from the variable it comes from, not "
         "from the resource"),
        ("'REFERENCE'", "'{{ resources.key.Arn | lower }}'",
         "stack.yaml:46 resources[4].props.Value: is computed from 'resources.key.arn', known only after apply, in a "
         "way CloudFormation cannot express; use the attribute as it is (resources.NAME.Arn or KeyId), alone or "
         "inside text"),
        ("exports: [Arn]", "exports: [Arn, Description]",  # refused by validate, for every command
         "stack.yaml:7 resources[0].exports: 'Description' is not an attribute of AWS::KMS::Key; export one of Arn, "
         "KeyId"),
    ],
    ids=["settable-property", "filter-on-a-reference", "export-that-is-no-attribute"],
)
def test_what_cloudformation_cannot_express_of_cloud_control_types_is_refused(old: str, new: str, expected: str,
                                                                             tmp_path: Path) -> None:
    assert CLOUD_STACK.count(old) == 1
    with pytest.raises(ManifestError) as raised:
        _cloud_template(tmp_path, "x", CLOUD_STACK.replace(old, new))
    assert [d.render() for d in raised.value.diagnostics] == [f"{tmp_path}/{expected}"]
