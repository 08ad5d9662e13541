"""stackql-deploy projects converted to stacks (deployer.stackql): the aws-stack fixture end to end against the
local cloud, and one small project per conversion rule, each with the exact report lines a user reads."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployer.cli import main
from deployer.errors import StackError
from deployer.sources import Converted, write_converted
from deployer.stackql import convert_stackql

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "stackql" / "aws-stack"
DOTENV_VALUES = ("AKIAFIXTURENOTREAL01", "fixture-only-Zq8vWm3kTn5rLp2xYc7b")  # the fixture's .env, never written
TAGS = [{"Key": "Provisioner", "Value": "stackql"}, {"Key": "StackName", "Value": "{{ stack_name }}"},
        {"Key": "StackEnv", "Value": "{{ stack_env }}"}]


@pytest.fixture(scope="module")
def converted() -> Converted:
    return convert_stackql(FIXTURE)


def _stack(converted: Converted) -> dict[str, Any]:
    loaded = yaml.safe_load(converted.stack_yaml)
    assert isinstance(loaded, dict)
    return loaded


# --- the aws-stack fixture ------------------------------------------------------------------------------------

FIXTURE_RESOURCES = [
    ("main_vpc", "awscc.ec2.vpcs", [
        {"name": "CidrBlock", "value": "{{ vpc_cidr_block }}"},
        {"name": "Tags", "value": "{{ vpc_tags }}"},
        {"name": "EnableDnsSupport", "value": True},
        {"name": "EnableDnsHostnames", "value": True},
    ]),
    ("public_subnet", "aws.ec2.subnets", [  # snake_case columns, mapped through the schema
        {"name": "VpcId", "value": "{{ resources.main_vpc.VpcId }}"},
        {"name": "CidrBlock", "value": "{{ subnet_cidr_block }}"},
        {"name": "AvailabilityZone", "value": "{{ availability_zone }}"},
        {"name": "MapPublicIpOnLaunch", "value": True},
        {"name": "Tags", "value": [{"Key": "Name", "Value": "{{ stack_name }}-{{ stack_env }}-public"}]},
    ]),
    ("main_igw", "awscc.ec2.internet_gateways", [{"name": "Tags", "value": "{{ igw_tags }}"}]),  # | tojson dropped
    ("igw_attachment", "awscc.ec2.vpc_gateway_attachments", [
        {"name": "InternetGatewayId", "value": "{{ resources.main_igw.InternetGatewayId }}"},
        {"name": "VpcId", "value": "{{ resources.main_vpc.VpcId }}"},
    ]),
    ("public_route_table", "awscc.ec2.route_tables", [
        {"name": "VpcId", "value": "{{ resources.main_vpc.VpcId }}"},
        {"name": "Tags", "value": "{{ route_table_tags }}"},
    ]),
    ("internet_route", "awscc.ec2.routes", [
        {"name": "DestinationCidrBlock", "value": "0.0.0.0/0"},
        {"name": "GatewayId", "value": "{{ resources.main_igw.InternetGatewayId }}"},
        {"name": "RouteTableId", "value": "{{ resources.public_route_table.RouteTableId }}"},
    ]),
    ("web_sg", "awscc.ec2.security_groups", [
        {"name": "GroupName", "value": "{{ stack_name }}-{{ stack_env }}-web"},
        {"name": "GroupDescription", "value": "web server: HTTP from anywhere, SSH from the admin network"},
        {"name": "VpcId", "value": "{{ resources.main_vpc.VpcId }}"},
        {"name": "SecurityGroupIngress", "value": [
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0"},
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "{{ admin_cidr }}"},
        ]},
        {"name": "Tags", "value": "{{ global_tags }}"},
    ]),
    ("web_server", "awscc.ec2.instances", [  # data__ClientToken and region dropped
        {"name": "ImageId", "value": "{{ image_id }}"},
        {"name": "InstanceType", "value": "{{ instance_type }}"},
        {"name": "SubnetId", "value": "{{ resources.public_subnet.SubnetId }}"},
        {"name": "SecurityGroupIds", "value": ["{{ resources.web_sg.Id }}"]},
        {"name": "Tags", "value": [{"Key": "Name", "Value": "{{ stack_name }}-{{ stack_env }}-web"}]},
    ]),
]


@pytest.mark.parametrize(("name", "type_id", "props"), FIXTURE_RESOURCES, ids=[r[0] for r in FIXTURE_RESOURCES])
def test_fixture_resource(converted: Converted, name: str, type_id: str, props: list[dict[str, Any]]) -> None:
    resources = {resource["name"]: resource for resource in _stack(converted)["resources"]}
    assert resources[name] == {"name": name, "type": type_id, "props": props}


def test_fixture_resources_keep_their_order_and_the_query_resource_is_left_out(converted: Converted) -> None:
    assert [r["name"] for r in _stack(converted)["resources"]] == [r[0] for r in FIXTURE_RESOURCES]


def test_fixture_globals_and_sensitive(converted: Converted) -> None:
    stack = _stack(converted)
    assert {key: stack[key] for key in ("version", "name", "providers")} == {
        "version": 1, "name": "aws-stack", "providers": ["aws"]}
    assert stack["globals"] == [
        {"name": "region", "value": '{{ AWS_REGION | default("us-east-1") }}',
         "description": "where every resource lives"},
        {"name": "global_tags", "value": TAGS},
        {"name": "vpc_tags", "value": [{"Key": "Name", "Value": "{{ stack_name }}-{{ stack_env }}-vpc"}, *TAGS]},
        {"name": "availability_zone", "value": "{{ region }}a"},
        {"name": "igw_tags", "value": [{"Key": "Name", "Value": "{{ stack_name }}-{{ stack_env }}-igw"}, *TAGS]},
        {"name": "route_table_tags",
         "value": [{"Key": "Name", "Value": "{{ stack_name }}-{{ stack_env }}-public"}, *TAGS]},
        {"name": "image_id", "value": "ami-0a1b2c3d4e5f67890"},
    ]
    assert stack["sensitive"] == ["admin_cidr", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]


@pytest.mark.parametrize(("env", "variables"), [
    ("sit", {"vpc_cidr_block": "10.10.0.0/16", "subnet_cidr_block": "10.10.1.0/24", "admin_cidr": "203.0.113.0/24",
             "instance_type": "t3.micro"}),
    ("prd", {"vpc_cidr_block": "10.20.0.0/16", "subnet_cidr_block": "10.20.1.0/24",
             "admin_cidr": "198.51.100.0/24", "instance_type": "t3.small"}),
], ids=["sit", "prd"])
def test_fixture_environment(converted: Converted, env: str, variables: dict[str, Any]) -> None:
    assert sorted(converted.environments) == ["prd", "sit"]
    assert yaml.safe_load(converted.environments[env]) == variables


def test_fixture_report(converted: Converted) -> None:
    assert converted.report == (
        "resources/main_vpc.iql /*+ exists */: not converted: more than a lookup by the resource's own columns; "
        "stack finds the resource in its state and compares every property",
        "resources/web_server.iql /*+ create */: column data__ClientToken dropped: a StackQL request field, "
        "not a property of AWS::EC2::Instance",
        "resources/web_server.iql /*+ exports */: public_dns_name not converted: "
        "json_extract(network_interfaces, '$[0].PublicDnsName') is more than a column; "
        "read an attribute as resources.web_server.NAME instead",
        "stackql_manifest.yml resources.account_info: type query not converted; "
        "set its exports (account_id) with -e NAME=VALUE or STACK_VAR_NAME",
        ".env: AWS_REGION=us-east-1 is the region global's default",
        ".env: AWS_ACCESS_KEY_ID is not copied (sensitive); stack reads it from the environment: "
        "STACK_VAR_AWS_ACCESS_KEY_ID=... or -e AWS_ACCESS_KEY_ID=...",
        ".env: AWS_SECRET_ACCESS_KEY is not copied (sensitive); stack reads it from the environment: "
        "STACK_VAR_AWS_SECRET_ACCESS_KEY=... or -e AWS_SECRET_ACCESS_KEY=...",
    )


def test_fixture_dotenv_values_are_in_the_fixture(converted: Converted) -> None:
    """The leak test below means something only if the values it looks for are the fixture's."""
    text = (FIXTURE / ".env").read_text()
    assert all(value in text for value in DOTENV_VALUES)


@pytest.mark.parametrize("env", ["sit", "prd"])
def test_fixture_validates_deploys_and_plans_clean_locally(converted: Converted, env: str, tmp_path: Path,
                                                           aws_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "aws-stack"
    written = write_converted(converted, out)
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "environments/prd.yaml", "environments/sit.yaml", "stack.yaml"]

    assert main(["validate", str(out), "--env", env]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == f"Stack 'aws-stack' is valid: 8 resources in environment '{env}'.\n"
    assert main(["deploy", str(out), "--env", env, "--local", "--auto-approve"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.rstrip().endswith("Apply finished: 8 changed.")
    assert main(["plan", str(out), "--env", env, "--local", "--detailed-exitcode"]) == 0, capsys.readouterr().out
    assert "No changes. AWS matches the stack." in capsys.readouterr().out

    for path in sorted(p for p in out.rglob("*") if p.is_file()):  # the stack, its environments and its state
        data = path.read_bytes()
        assert not [value for value in DOTENV_VALUES if value.encode() in data], path


# --- one rule at a time -----------------------------------------------------------------------------------------

def _project(root: Path, manifest: str, iql: dict[str, str], dotenv: str = "") -> Path:
    root.mkdir()
    (root / "stackql_manifest.yml").write_text(textwrap.dedent(manifest))
    (root / "resources").mkdir()
    for name, text in iql.items():
        (root / "resources" / f"{name}.iql").write_text(textwrap.dedent(text))
    if dotenv:
        (root / ".env").write_text(dotenv)
    return root


_ONE = """\
    version: 1
    name: one
    globals:
      - name: region
        value: us-east-1
    resources:
      - name: thing
        props:
          - name: bucket_name
            value: my-bucket
"""

RULES = [
    pytest.param(
        "INSERT INTO awscc.s3.buckets (BucketName, region) SELECT '{{ bucket_name }}', 'eu-west-1';",
        [{"name": "BucketName", "value": "{{ bucket_name }}"}, {"name": "region", "value": "eu-west-1"}], (),
        id="region-column-unlike-the-global-becomes-the-region-prop"),
    pytest.param(
        "INSERT INTO awscc.s3.buckets (BucketName, region) SELECT '{{ bucket_name }}', 'us-east-1';",
        [{"name": "BucketName", "value": "{{ bucket_name }}"}], (),
        id="region-column-equal-to-the-global-is-dropped"),
    pytest.param(
        "INSERT INTO aws.s3.buckets (bucket_name, versioning_configuration) "
        "SELECT '{{ bucket_name | tojson }}', '{\"Status\": \"Enabled\"}';",
        [{"name": "BucketName", "value": "{{ bucket_name }}"},
         {"name": "VersioningConfiguration", "value": {"Status": "Enabled"}}], (),
        id="snake-case-columns-tojson-and-a-json-literal"),
    pytest.param(
        "INSERT INTO awscc.s3.buckets (BucketName, Tags) "
        "SELECT '{{ bucket_name }}', '[{\"Key\": \"n\", \"Value\": {{ bucket_name | tojson }}}]';",
        [{"name": "BucketName", "value": "{{ bucket_name }}"},
         {"name": "Tags", "value": [{"Key": "n", "Value": "{{ bucket_name }}"}]}], (),
        id="tojson-inside-json-becomes-the-variable"),
    pytest.param(
        "INSERT INTO awscc.s3.buckets (BucketName, NoSuchThing, AccessControl) "
        "SELECT '{{ bucket_name }}', 'x', concat('Pri', 'vate');",
        [{"name": "BucketName", "value": "{{ bucket_name }}"}],
        ("resources/thing.iql /*+ create */: column NoSuchThing dropped: AWS::S3::Bucket has no such property",
         "resources/thing.iql /*+ create */: column AccessControl not converted: concat('Pri', 'vate') is SQL, "
         "not a value"),
        id="unknown-column-and-sql-expression-reported"),
    pytest.param(
        "INSERT INTO awscc.s3.buckets (BucketName) SELECT '{{ bucket_name }}';\n\n"
        "/*+ update */\nUPDATE awscc.s3.buckets SET data__PatchDocument = '[]' WHERE data__Identifier = 'x';\n\n"
        "/*+ delete */\nDELETE FROM awscc.s3.buckets WHERE bucket_name LIKE 'my%';",
        [{"name": "BucketName", "value": "{{ bucket_name }}"}],
        ("resources/thing.iql /*+ update */: not converted: stack updates in place from the plan's differences",
         "resources/thing.iql /*+ delete */: not converted: stack deletes the resource by its identifier"),
        id="update-and-a-delete-by-pattern-reported"),
    pytest.param(
        "INSERT INTO google.storage.buckets (name) SELECT 'x';", None,
        ("resources/thing.iql /*+ create */: google.storage.buckets is not an aws or awscc resource; "
         "resource not converted",),
        id="another-provider-reported"),
    pytest.param(
        "INSERT INTO awscc.s3.bucketz (BucketName) SELECT 'x';", None,
        ("resources/thing.iql /*+ create */: unknown StackQL id 'awscc.s3.bucketz'; did you mean "
         "'awscc.s3.buckets'?; resource not converted",),
        id="unknown-id-reported"),
]


@pytest.mark.parametrize(("create", "props", "report"), RULES)
def test_create_rule(tmp_path: Path, create: str, props: list[dict[str, Any]] | None, report: tuple[str, ...]) -> None:
    project = _project(tmp_path / "p", _ONE, {"thing": "/*+ create */\n" + create + "\n"})
    converted = convert_stackql(project)
    resources = _stack(converted)["resources"]
    assert resources == ([] if props is None else [{"name": "thing", "type": create.split()[2], "props": props}])
    assert converted.report == report


def test_unknown_id_message_is_the_registry_s(tmp_path: Path) -> None:
    """The unknown-id row quotes the registry's hint; if the registry's wording changes, this says why that row
    fails."""
    from deployer.registry import UnknownType, resolve_type

    with pytest.raises(UnknownType, match=r"did you mean 'awscc.s3.buckets'\?"):
        resolve_type("awscc.s3.bucketz")


_TWO = """\
    version: 1
    name: two
    globals:
      - name: region
        value: us-east-1
      - name: tags
        value: {team: data}
    resources:
      - name: key
        props:
          - name: label
            value: first
        exports: [key_arn, key_id, rotation, nothing_here]
      - name: bucket
        props:
          - name: label
            value: second
          - name: extra_tags
            value: [a]
            merge: [tags]
          - name: per_env
            values:
              dev: {value: 'x-{{ stack_env }}'}
      - name: many
        type: multi
      - name: shell
        type: script
"""
_KEY = """\
    /*+ create */
    INSERT INTO awscc.kms.keys (Description, EnableKeyRotation, region)
    SELECT '{{ label }}', '{{ rotate }}', '{{ region }}';

    /*+ exports */
    SELECT arn AS key_arn, key_id, enable_key_rotation AS rotation, key_usage AS nothing_here FROM awscc.kms.keys
    WHERE region = '{{ region }}';
"""
_BUCKET = """\
    /*+ create */
    INSERT INTO awscc.s3.buckets (BucketName, Tags)
    SELECT '{{ label }}-{{ key_id }}',
     '[{"Key": "arn", "Value": "{{ key_arn }}"}, {"Key": "r", "Value": "{{ rotation }}"}]';

    /*+ statecheck, retries=3, retry_delay=2 */
    SELECT COUNT(*) as count FROM awscc.s3.buckets WHERE region = '{{ region }}' AND bucket_name = '{{ label }}';
"""


def test_exports_renames_merge_and_resource_kinds(tmp_path: Path) -> None:
    converted = convert_stackql(_project(tmp_path / "p", _TWO, {"key": _KEY, "bucket": _BUCKET}))
    stack = _stack(converted)
    assert stack["resources"] == [
        {"name": "key", "type": "awscc.kms.keys", "props": [
            {"name": "Description", "value": "{{ label }}"},
            {"name": "EnableKeyRotation", "value": "{{ rotate }}"}]},
        {"name": "bucket", "type": "awscc.s3.buckets", "props": [  # its own label, renamed; exports as references
            {"name": "BucketName", "value": "{{ bucket_label }}-{{ resources.key.KeyId }}"},
            {"name": "Tags", "value": [{"Key": "arn", "Value": "{{ resources.key.Arn }}"},
                                       {"Key": "r", "Value": "{{ rotate }}"}]}]},
    ]
    assert stack["globals"][2:] == [
        {"name": "label", "value": "first"},
        {"name": "bucket_label", "value": "second"},
        {"name": "extra_tags", "value": ["a"]},
    ]
    assert yaml.safe_load(converted.environments["dev"]) == {"per_env": "x-{{ stack_env }}"}
    assert converted.report == (
        "resources/key.iql /*+ exports */: nothing_here not converted: key_usage is not an attribute of "
        "AWS::KMS::Key; references to {{ nothing_here }} are left as a variable",
        "stackql_manifest.yml resources.bucket.props.extra_tags: merge of tags not converted: only a list with a "
        "list, or a mapping with a mapping, merge",
        "stackql_manifest.yml resources.bucket.props.per_env: the value for dev is a template; "
        "environments/ENV.yaml is not rendered, so it is written as text",
        "stackql_manifest.yml resources.many: type multi not converted",
        "stackql_manifest.yml resources.shell: type script not converted",
    )


def test_a_region_global_is_made_from_dotenv_when_the_manifest_has_none(tmp_path: Path) -> None:
    manifest = _ONE.replace("    globals:\n      - name: region\n        value: us-east-1\n", "")
    project = _project(tmp_path / "p", manifest,
                       {"thing": "/*+ create */\nINSERT INTO awscc.s3.buckets (BucketName, region) "
                                 "SELECT '{{ bucket_name }}', '{{ region }}';\n"},
                       dotenv="AWS_REGION=eu-west-2\nDB_PASSWORD='hunter2-not-real'\nTEAM=data\n")
    converted = convert_stackql(project)
    stack = _stack(converted)
    assert stack["globals"][0] == {"name": "region", "value": '{{ AWS_REGION | default("eu-west-2") }}'}
    assert stack["sensitive"] == ["DB_PASSWORD"]
    assert stack["resources"][0]["props"] == [{"name": "BucketName", "value": "{{ bucket_name }}"}]
    assert converted.report == (
        ".env: AWS_REGION=eu-west-2 is the region global's default",
        ".env: DB_PASSWORD is not copied (sensitive); stack reads it from the environment: "
        "STACK_VAR_DB_PASSWORD=... or -e DB_PASSWORD=...",
        ".env: TEAM is not copied; stack reads it from the environment: STACK_VAR_TEAM=... or -e TEAM=...",
    )
    assert "hunter2" not in converted.stack_yaml + "".join(converted.environments.values())


def test_a_directory_without_a_manifest_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="no stackql_manifest.yml; is this a stackql-deploy project"):
        convert_stackql(tmp_path)
