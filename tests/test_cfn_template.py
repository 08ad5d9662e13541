"""deployer.cfn_template: CloudFormation templates converted to stacks that validate, deploy and plan clean."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployer.cfn_template import convert_template
from deployer.cli import main
from deployer.errors import ManifestError
from deployer.sources import write_converted

# A template around each property under test: a parameter of each kind, a condition, a mapping, two resources
_AROUND = """\
Parameters:
  Env: {Type: String, Default: dev}
  Zones: {Type: CommaDelimitedList, Default: 'a,b'}
  Path: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /x}
Mappings:
  Sizes: {dev: {Days: 7}}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Key: {Type: 'AWS::KMS::Key'}
  Bucket: {Type: 'AWS::S3::Bucket'}
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: VALUE
"""


def _convert(tmp_path: Path, text: str, name: str = "template.yaml") -> Any:
    (tmp_path / name).write_text(text)
    return convert_template(tmp_path / name, stack_name="demo")


def _prop(tmp_path: Path, value: str) -> Any:
    stack = yaml.safe_load(_convert(tmp_path, _AROUND.replace("VALUE", value)).stack_yaml)
    topic = next(r for r in stack["resources"] if r["name"] == "Topic")
    return {p["name"]: p["value"] for p in topic["props"]}.get("DisplayName", "(left out)")


@pytest.mark.parametrize(("value", "expected"), [
    ("!Ref Env", "{{ Env }}"),
    ("!Ref Zones", "{{ (Zones.split(',') if Zones is string else Zones) }}"),
    ("!Ref Path", "{{ ssm(Path) }}"),
    ("!Ref Bucket", "{{ resources.Bucket.BucketName }}"),
    ("!Ref Key", "{{ resources.Key.KeyId }}"),
    ("!Ref AWS::Region", "{{ region }}"),
    ("!Ref AWS::StackName", "{{ stack_name }}"),
    ("!Ref AWS::Partition", "{{ 'aws' }}"),
    ("!Ref AWS::URLSuffix", "{{ 'amazonaws.com' }}"),
    ("!Ref AWS::AccountId", "{{ AccountId }}"),
    ("!Ref AWS::NoValue", "(left out)"),
    ("!GetAtt Bucket.Arn", "{{ resources.Bucket.Arn }}"),
    ("!GetAtt [Bucket, Arn]", "{{ resources.Bucket.Arn }}"),
    ("{'Fn::GetAtt': [Bucket, Arn]}", "{{ resources.Bucket.Arn }}"),
    ("!Sub 'arn:${AWS::Partition}:s3:::${Bucket}/${!Literal}'",
     "arn:aws:s3:::{{ resources.Bucket.BucketName }}/${Literal}"),
    ("!Sub ['${Name}-${Bucket.Arn}', {Name: !Ref Env}]", "{{ Env }}-{{ resources.Bucket.Arn }}"),
    ("!Sub 'a {{ b }}'", "{{ 'a {{ b }}' }}"),
    ("!Join ['-', [!Ref Env, x, !GetAtt Key.Arn]]", "{{ Env }}-x-{{ resources.Key.Arn }}"),
    ("!Join [',', !Ref Zones]", "{{ (Zones.split(',') if Zones is string else Zones) | join(',') }}"),
    ("!Select [1, !Ref Zones]", "{{ (Zones.split(',') if Zones is string else Zones)[1] }}"),
    ("!Select ['0', [a, !Ref Env]]", "{{ ['a', Env][0] }}"),
    ("!Select [0, !Split [':', !GetAtt Bucket.Arn]]",
     "{{ (resources.Bucket.Arn.split(':')[0] if resources.Bucket.Arn is string else resources.Bucket.Arn) }}"),
    ("!Join ['', !Split [',', !Ref Env]]", "{{ (Env.split(',') if Env is string else [Env]) | join('') }}"),
    ("!If [IsProd, big, !Ref AWS::NoValue]", "{{ 'big' if IsProd else none }}"),
    ("!If [IsProd, !Ref Env, {a: 1}]", "{{ Env if IsProd else {'a': 1} }}"),
    ("[a, !If [IsProd, b, !Ref AWS::NoValue]]", "{{ ['a', 'b' if IsProd else none] | reject('none') | list }}"),
    ("!FindInMap [Sizes, !Ref Env, Days]", "{{ Mappings['Sizes'][Env]['Days'] }}"),
    ("!GetAZs ''", "{{ AvailabilityZones }}"),
    ("!Base64 text", "{{ 'text' }}"),
    ("'{{ not a template }}'", "{{ '{{ not a template }}' }}"),
    ("!ImportValue reports-BucketArn", "{{ import_value('reports-BucketArn') }}"),
], ids=["ref-parameter", "ref-list-parameter", "ref-ssm-parameter", "ref-bucket-name", "ref-key-id", "region",
        "stack-name", "partition", "url-suffix", "account-id", "no-value", "getatt-short", "getatt-list",
        "getatt-json", "sub", "sub-with-names", "sub-escapes-jinja", "join-as-text", "join-expression",
        "select-list-parameter", "select-literal", "select-split-unknown", "split", "if-no-value", "if-mapping",
        "list-item-if-no-value", "find-in-map", "get-azs", "base64", "literal-escapes-jinja", "import-value"])
def test_intrinsic_translation(value: str, expected: str, tmp_path: Path) -> None:
    assert _prop(tmp_path, value) == expected


def test_conditions_become_globals_in_dependency_order(tmp_path: Path) -> None:
    text = _AROUND.replace("  IsProd: !Equals [!Ref Env, prod]\n", """\
  Both: !And [!Condition IsProd, !Or [!Equals [3, !Ref Env], !Not [!Condition IsProd]]]
  IsProd: !Equals [!Ref Env, prod]
""").replace("VALUE", "x")
    stack = yaml.safe_load(_convert(tmp_path, text).stack_yaml)

    assert stack["globals"] == [
        {"name": "Mappings", "value": {"Sizes": {"dev": {"Days": "7"}}}},
        {"name": "IsProd", "value": "{{ Env == 'prod' }}"},
        {"name": "Both", "value": "{{ IsProd and (('3' == Env) or (not IsProd)) }}"},
    ]


def test_json_template_converts_as_the_yaml_one(tmp_path: Path) -> None:
    template = {"Parameters": {"Env": {"Type": "String"}},
                "Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {
                    "BucketName": {"Fn::Sub": "${Env}-b"}, "Tags": [{"Key": "a", "Value": {"Ref": "Env"}}]}}}}
    from_json = _convert(tmp_path, json.dumps(template, indent="\t"), "template.json")
    from_yaml = _convert(tmp_path, yaml.safe_dump(template))

    assert from_json.stack_yaml.replace("template.json", "template.yaml") == from_yaml.stack_yaml


def test_resource_attributes(tmp_path: Path) -> None:
    text = _AROUND.replace("  Topic:\n    Type", """\
  Topic:
    Condition: IsProd
    DependsOn: [Key, Bucket]
    DeletionPolicy: Snapshot
    Type""").replace("VALUE", "x")
    converted = _convert(tmp_path, text)
    topic = yaml.safe_load(converted.stack_yaml)["resources"][2]

    assert topic == {"name": "Topic", "type": "AWS::SNS::Topic", "if": "{{ IsProd }}", "depends_on": ["Key", "Bucket"],
                     "DeletionPolicy": "Retain", "props": [{"name": "DisplayName", "value": "x"}]}
    assert converted.report == (f"{tmp_path}/template.yaml:15 Resources.Topic.DeletionPolicy: DeletionPolicy Snapshot "
                                "became Retain: the stack has Retain only, which keeps the resource in AWS when it "
                                "leaves the stack",)


def test_parameters_become_default_variables_and_sensitive_names(tmp_path: Path) -> None:
    converted = _convert(tmp_path, """\
Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod], Description: Which one}
  Size: {Type: Number, Default: 3, MinValue: 1}
  Password: {Type: String, NoEcho: true}
Resources:
  Bucket: {Type: 'AWS::S3::Bucket', Properties: {BucketName: !Sub '${Env}-${Size}-${Password}'}}
""")

    assert yaml.safe_load(converted.stack_yaml)["sensitive"] == ["Password"]
    assert yaml.safe_load(converted.stack_yaml)["variables"] == [
        {"name": "Env", "allowed_values": ["dev", "prod"]}, {"name": "Size", "min_value": 1}]
    assert converted.environments["default"] == """\
# Parameter defaults of template.yaml; environments/ENV.yaml, STACK_VAR_*, --var-file and -e override them.
# Env: Which one
Env: dev
Size: '3'
# Password: (no default: set it in environments/ENV.yaml or with -e Password=...)
"""
    assert converted.report == ()


@pytest.mark.parametrize(("value", "message"), [
    ("Env=staging", 'variables.Env: "staging" (from -e) is not an allowed value; allowed: dev, prod'),
    ("Size=0", 'variables.Size: "0" (from -e) is below min_value 1; use 1 or more'),
    ("Size=many", 'variables.Size: "many" (from -e) is not a number; use a number'),
], ids=["allowed-values", "min-value", "not-a-number"])
def test_parameter_constraints_are_checked_before_any_call(value: str, message: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stack").mkdir()
    (tmp_path / "stack" / "template.yaml").write_text("""\
Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Size: {Type: Number, Default: 3, MinValue: 1}
Resources:
  Bucket: {Type: 'AWS::S3::Bucket', Properties: {BucketName: !Sub 'b-${Env}-${Size}'}}
""")
    assert main(["validate", str(tmp_path / "stack"), "-e", value]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'stack' / 'template.yaml'} (as stack.yaml):" in err and message in err


@pytest.mark.parametrize(("value", "message"), [
    ("!GetAZs ''", "Fn::GetAZs is not supported: the value reads the variable AvailabilityZones, a list of zone names: "
                   "set it in environments/ENV.yaml"),
    ("!Base64 x", "Fn::Base64 is not converted: the stack's templates have no b64encode filter, so the value is "
                  "passed as plain text; encode it yourself if the property wants base64"),
    ("!Ref AWS::AccountId", "AWS::AccountId reads the variable AccountId: set it in environments/ENV.yaml"),
    ("!Ref AWS::Region", "AWS::Region reads the region global, set from the variable AWS_REGION: set it in "
                         "environments/ENV.yaml"),
], ids=["get-azs", "base64", "account-id", "region"])
def test_reported(value: str, message: str, tmp_path: Path) -> None:
    converted = _convert(tmp_path, _AROUND.replace("VALUE", value))
    key = {"!GetAZs ''": "Fn::GetAZs", "!Base64 x": "Fn::Base64"}.get(value, "Ref")

    assert converted.report == (f"{tmp_path}/template.yaml:15 Resources.Topic.Properties.DisplayName.{key}: {message}",)


@pytest.mark.parametrize(("template", "message"), [
    ("Transform: AWS::Serverless-2016-10-31\nResources: {}\n",
     ":1 Transform: transforms (SAM, macros, AWS::LanguageExtensions) are expanded by CloudFormation only; convert the "
     "processed template: aws cloudformation get-template --template-stage Processed"),
    ("Rules: {}\nResources: {}\n", ":1 Rules: template rules are checked by CloudFormation only; remove them; check "
                                   "the values another way"),
    ("Hooks: {}\nResources: {}\n", ":1 Hooks: hooks run in CloudFormation only; remove them"),
    ("Resources:\n  C: {Type: 'Custom::Thing', Properties: {ServiceToken: x}}\n",
     ":2 Resources.C.Type: Custom::Thing: a custom resource runs code CloudFormation calls; a stack has no such hook; "
     "deploy that resource another way and pass what it makes as variables"),
    ("Resources:\n  C: {Type: 'AWS::CloudFormation::CustomResource'}\n",
     ":2 Resources.C.Type: AWS::CloudFormation::CustomResource: a custom resource runs code CloudFormation calls; a "
     "stack has no such hook; deploy that resource another way and pass what it makes as variables"),
    ("Resources:\n  W: {Type: 'AWS::CloudFormation::WaitCondition'}\n",
     ":2 Resources.W.Type: AWS::CloudFormation::WaitCondition: wait conditions wait for a CloudFormation signal, "
     "which a stack never sends; remove it and its handle; depends_on orders resources"),
    ("Resources:\n  W: {Type: 'AWS::CloudFormation::WaitConditionHandle'}\n",
     ":2 Resources.W.Type: AWS::CloudFormation::WaitConditionHandle: wait conditions wait for a CloudFormation signal, "
     "which a stack never sends; remove it and its wait condition"),
    ("Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      DisplayName: !Cidr [a, 1, 2]\n",
     ":5 Resources.T.Properties.DisplayName.Fn::Cidr: unknown intrinsic function 'Fn::Cidr'; write the value it "
     "stands for, or make it a parameter"),
    ("Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      DisplayName: !Ref AWS::StackId\n",
     ":5 Resources.T.Properties.DisplayName.Ref: AWS::StackId: a stack has no CloudFormation stack id or notification "
     "ARNs; write the value it stands for, or make it a parameter"),
    ("Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      DisplayName: !GetAtt T.Nope\n",
     ":5 Resources.T.Properties.DisplayName.Fn::GetAtt: AWS::SNS::Topic has no attribute 'Nope'; it has TopicArn"),
    ("Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      DisplayName: !Ref Nothing\n",
     ":5 Resources.T.Properties.DisplayName.Ref: Ref names no parameter or resource of the template: 'Nothing'"),
    ("Conditions:\n  A: !Not [!Condition B]\n  B: !Not [!Condition A]\nResources: {}\n",
     ":2 Conditions.A: the condition 'A' depends on itself: A -> B -> A; break the cycle"),
    ("Parameters:\n  region: {Type: String}\nResources: {}\n",
     ":2 Parameters.region: 'region' is a name the stack itself gives templates; rename it"),
], ids=["transform", "rules", "hooks", "custom-type", "custom-resource", "wait-condition", "wait-condition-handle",
        "unknown-intrinsic", "stack-id", "unknown-attribute", "unknown-ref", "condition-cycle", "reserved-name"])
def test_refused(template: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as error:
        _convert(tmp_path, template)

    assert error.value.render() == f"{tmp_path}/template.yaml{message}"


def test_template_bounded_like_every_yaml_file(tmp_path: Path) -> None:
    deep = "Resources: " + "[" * 70 + "]" * 70 + "\n"
    with pytest.raises(ManifestError) as error:
        _convert(tmp_path, deep)

    assert error.value.render() == (f"{tmp_path}/template.yaml:1: nested more than 64 levels deep; a stack needs "
                                    "about 10; write the value with fewer levels")


# A realistic template: a key, a bucket it encrypts, a role that reads the bucket, and an alert topic in prod only
REALISTIC = """\
AWSTemplateFormatVersion: '2010-09-09'
Description: Reports bucket, its key and a reader role
Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Team: {Type: String, Description: Owning team}
  ReaderPrincipals: {Type: CommaDelimitedList, Default: 'lambda,glue'}
Mappings:
  Retention:
    dev: {Days: 7}
    prod: {Days: 90}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsNotProd: !Not [!Condition IsProd]
Resources:
  ReportsKey:
    Type: AWS::KMS::Key
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      Description: !Sub 'Encrypts the ${AWS::StackName} reports of ${Team}'
      EnableKeyRotation: true
  ReportsBucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Join ['-', [!Ref AWS::StackName, !Ref Env, reports]]
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: aws:kms
              KMSMasterKeyID: !GetAtt ReportsKey.Arn
      Tags:
        - {Key: team, Value: !Ref Team}
        - {Key: retention-days, Value: !FindInMap [Retention, !Ref Env, Days]}
        - !If [IsNotProd, {Key: scratch, Value: 'true'}, !Ref AWS::NoValue]
  ReaderRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub '${AWS::StackName}-${Env}-reader'
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal:
              Service: !Sub
                - '${First}.${AWS::URLSuffix}'
                - First: !Select [0, !Ref ReaderPrincipals]
            Action: sts:AssumeRole
      Policies:
        - PolicyName: read-reports
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Action: [s3:GetObject, s3:ListBucket]
                Resource:
                  - !GetAtt ReportsBucket.Arn
                  - !Sub '${ReportsBucket.Arn}/*'
              - Effect: Allow
                Action: kms:Decrypt
                Resource: !GetAtt ReportsKey.Arn
  AlertTopic:
    Type: AWS::SNS::Topic
    Condition: IsProd
    DependsOn: ReaderRole
    Properties:
      DisplayName: !Select [1, !Split ['/', !Sub 'alerts/${ReportsBucket}']]
Outputs:
  BucketArn:
    Description: The reports bucket
    Value: !GetAtt ReportsBucket.Arn
    Export: {Name: !Sub '${AWS::StackName}-BucketArn'}
  RoleArn:
    Value: !GetAtt ReaderRole.Arn
  TopicArn:
    Condition: IsProd
    Value: !Ref AlertTopic
"""


@pytest.fixture
def _no_outside_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("STACK_VAR_") or name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("_no_outside_variables")
@pytest.mark.parametrize(("env", "resources"), [("dev", 3), ("prod", 4)], ids=["dev", "prod"])
def test_realistic_template_validates_deploys_and_plans_clean(env: str, resources: int, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    converted = _convert(tmp_path, REALISTIC)
    stack_dir = tmp_path / "stack"
    write_converted(converted, stack_dir)
    (stack_dir / "environments" / f"{env}.yaml").write_text(f"Env: {env}\nTeam: data-platform\n")

    assert converted.report == ()
    assert converted.stack_yaml.startswith("# Converted from the CloudFormation template template.yaml")
    assert main(["validate", str(stack_dir), "--env", env, "--region", "us-east-1"]) == 0, capsys.readouterr().err
    assert main(["deploy", str(stack_dir), "--env", env, "--local", "--auto-approve", "--region", "us-east-1"]) == 0, \
        capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"Plan: {resources} to create, 0 to update" in out
    assert main(["plan", str(stack_dir), "--env", env, "--local", "--detailed-exitcode", "--region", "us-east-1"]) == 0
    assert "No changes. AWS matches the stack." in capsys.readouterr().out


def test_realistic_template_text(tmp_path: Path) -> None:
    stack = yaml.safe_load(_convert(tmp_path, REALISTIC).stack_yaml)
    props = {(r["name"], p["name"]): p["value"] for r in stack["resources"] for p in r["props"]}

    assert props[("ReportsBucket", "BucketName")] == "{{ stack_name }}-{{ Env }}-reports"
    assert props[("ReportsBucket", "Tags")] == (
        "{{ [{'Key': 'team', 'Value': Team}, {'Key': 'retention-days', 'Value': Mappings['Retention'][Env]['Days']}, "
        "{'Key': 'scratch', 'Value': 'true'} if IsNotProd else none] | reject('none') | list }}")
    assert props[("ReaderRole", "AssumeRolePolicyDocument")]["Statement"][0]["Principal"]["Service"] == (
        "{{ (ReaderPrincipals.split(',') if ReaderPrincipals is string else ReaderPrincipals)[0] }}.amazonaws.com")
    assert props[("AlertTopic", "DisplayName")] == (
        "{{ (('alerts/' ~ resources.ReportsBucket.BucketName).split('/')[1] if ('alerts/' ~ "
        "resources.ReportsBucket.BucketName) is string else ('alerts/' ~ resources.ReportsBucket.BucketName)) }}")
    assert stack["outputs"] == [
        {"name": "BucketArn", "value": "{{ resources.ReportsBucket.Arn }}", "description": "The reports bucket",
         "export": "demo-BucketArn"},
        {"name": "RoleArn", "value": "{{ resources.ReaderRole.Arn }}"},
        {"name": "TopicArn", "value": "{{ resources.AlertTopic.TopicArn if IsProd else none }}"},
    ]
