"""Stack outputs and references across stacks: ``outputs:``, ``stack output``, ``stack_output()``.

Two small stacks against one emulator: ``storage`` (a bucket, its outputs) and ``reporting`` (a role
whose policy reads the bucket's ARN from ``storage``'s state). Checked in AWS through boto3, and in
the state files: a sensitive output is never kept in clear.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.support import cloudcontrol_client

STORAGE = """\
name: storage
globals:
  - name: region
    value: us-east-1
resources:
  - name: bucket
    type: AWS::S3::Bucket
    props:
      - name: BucketName
        value: '{{ stack_name }}-{{ stack_env }}-{{ Suffix | default("data") }}'
outputs:
  - name: BucketArn
    value: '{{ resources.bucket.Arn }}'
    description: the bucket reporting reads
  - name: Names
    value: ['{{ resources.bucket.BucketName }}', '{{ stack_env }}']
  - name: Token
    value: '{{ ApiToken }}'
  - name: Marked
    value: 'not-a-secret-{{ Suffix | default("data") }}'
    sensitive: true
"""

REPORTING = """\
name: reporting
globals:
  - name: region
    value: us-east-1
resources:
  - name: reader
    type: AWS::IAM::Role
    props:
      - name: RoleName
        value: '{{ stack_name }}-{{ stack_env }}-reader'
      - name: AssumeRolePolicyDocument
        value: {Version: '2012-10-17', Statement: [{Effect: Allow, Principal: {Service: quicksight.amazonaws.com},
                                                     Action: 'sts:AssumeRole'}]}
      - name: Policies
        value:
          - PolicyName: read
            PolicyDocument:
              Version: '2012-10-17'
              Statement:
                - {Effect: Allow, Action: 's3:GetObject', Resource: "{{ stack_output('../storage', 'BucketArn') }}/*"}
outputs:
  - name: ReaderArn
    value: '{{ resources.reader.Arn }}'
"""
TOKEN = "tok-3f9a1c7e55b2"


def write(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "stack.yaml").write_text(text)
    return directory


def state_of(stack: Path, env: str = "dev") -> dict[str, Any]:
    return dict(json.loads((stack / ".stack" / "state" / f"{env}.json").read_text()))


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return write(tmp_path / "storage", STORAGE)


@pytest.fixture
def reporting(tmp_path: Path) -> Path:
    return write(tmp_path / "reporting", REPORTING)


def deploy(stack: Path, *extra: str) -> None:
    assert main(["deploy", str(stack), "--auto-approve", "-e", f"ApiToken={TOKEN}", *extra]) == 0


def test_outputs_are_recorded_and_shown(against_live_emulator: Emulator, storage: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    deploy(storage)
    capsys.readouterr()
    assert main(["output", str(storage)]) == 0
    assert capsys.readouterr().out == (
        "BucketArn = arn:aws:s3:::storage-dev-data\n"
        "Marked = (sensitive)\n"
        'Names = ["storage-dev-data", "dev"]\n'
        "Token = (sensitive)\n")
    assert main(["output", str(storage), "BucketArn", "--raw"]) == 0
    assert capsys.readouterr().out == "arn:aws:s3:::storage-dev-data\n"
    assert main(["output", str(storage), "Names", "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"Names": {
        "value": ["storage-dev-data", "dev"], "sensitive": False, "description": None, "export": None}}
    state_text = (storage / ".stack" / "state" / "dev.json").read_text()
    assert TOKEN not in state_text and "not-a-secret-data" not in state_text  # a secret, and one marked sensitive
    assert main(["output", str(storage), "Token", "--raw"]) == 1
    assert "output 'Token' is sensitive: stack keeps no copy of its value" in capsys.readouterr().err
    assert main(["output", str(storage), "Nope"]) == 1
    assert "no output 'Nope' in environment 'dev' (recorded: BucketArn, Marked, Names, Token)" in \
        capsys.readouterr().err
    assert main(["destroy", str(storage), "--auto-approve", "-e", f"ApiToken={TOKEN}"]) == 0
    assert state_of(storage).get("outputs", {}) == {}


def test_a_stack_reads_another_stacks_outputs(against_live_emulator: Emulator, storage: Path, reporting: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    deploy(storage)
    capsys.readouterr()
    assert main(["plan", str(reporting)]) == 0
    assert "< reads the outputs of the stack at ../storage, environment dev (stack_output)" in capsys.readouterr().out
    deploy(reporting)
    client = cloudcontrol_client(against_live_emulator.endpoint)
    role = json.loads(client.get_resource(TypeName="AWS::IAM::Role", Identifier="reporting-dev-reader")[
        "ResourceDescription"]["Properties"])
    assert role["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"] == "arn:aws:s3:::storage-dev-data/*"
    assert state_of(reporting)["outputs"]["ReaderArn"]["value"] == role["Arn"]
    assert main(["plan", str(reporting), "--detailed-exitcode"]) == 0

    deploy(storage, "-e", "Suffix=archive")  # the upstream output changes: the reader follows at its next deploy
    capsys.readouterr()
    assert main(["plan", str(reporting), "--detailed-exitcode"]) == 2
    assert '"arn:aws:s3:::storage-dev-data/*" -> "arn:aws:s3:::storage-dev-archive/*"' in capsys.readouterr().out
    deploy(reporting)
    assert main(["plan", str(reporting), "--detailed-exitcode"]) == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (None, "stack_output('../storage', ...): stack 'storage' has nothing deployed in environment 'dev' (no state "
               "at {storage}/.stack/state/dev.json); deploy it first"),
        ("'BucketArn'", "stack_output('../storage', 'BucketName'): the stack at ../storage has no output 'BucketName' "
                        "in environment 'dev' (its outputs: BucketArn, Marked, Names, Token); add it to that stack's "
                        "outputs: and deploy it"),
        ("'../storage'", "stack_output('../nowhere', ...): no stack at {tmp}/nowhere:"),
    ],
    ids=["not-deployed", "no-such-output", "no-such-stack"],
)
def test_what_another_stack_cannot_give_is_a_located_error(against_live_emulator: Emulator, storage: Path,
                                                           reporting: Path, edit: str | None, message: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    if edit is not None:
        deploy(storage)
        text = (reporting / "stack.yaml").read_text()
        new = {"'BucketArn'": "'BucketName'", "'../storage'": "'../nowhere'"}[edit]
        (reporting / "stack.yaml").write_text(text.replace(edit, new))
    capsys.readouterr()
    assert main(["validate", str(reporting)]) == 0  # offline: another stack's state is not read
    against_live_emulator.stats.reset()
    assert main(["plan", str(reporting)]) == 1
    err = capsys.readouterr().err
    expected = message.format(storage=storage, tmp=storage.parent)
    assert f"{reporting / 'stack.yaml'}:20 resources[0].props.Policies[0].PolicyDocument.Statement[0].Resource: " \
           f"{expected}" in err
    assert against_live_emulator.stats.total == 0


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ("  - {name: A, vaule: x}", "outputs[0]: each output needs a name and a value"),
        ("  - {name: A, value: x, sensitiv: true}", "outputs[0].sensitiv: unknown key; did you mean 'sensitive'?"),
        ("  - {name: 1A, value: x}", "outputs[0].name: '1A' is not a valid output name; use letters, digits and "
                                     "underscores, starting with a letter"),
        ("  - {name: A, value: '{{ resources.nope.Arn }}'}", "outputs.A: undefined name 'nope'"),
    ],
    ids=["no-value", "typo", "bad-name", "unknown-resource"],
)
def test_a_broken_output_is_located(storage: Path, outputs: str, message: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    text = (storage / "stack.yaml").read_text()
    (storage / "stack.yaml").write_text(text[:text.index("outputs:\n")] + "outputs:\n" + outputs + "\n")
    assert main(["validate", str(storage)]) == 1
    assert message in capsys.readouterr().err


def test_another_stacks_output_is_a_template_parameter_in_cloudformation(capsys: pytest.CaptureFixture[str]) -> None:
    reporting = Path(__file__).resolve().parent.parent / "manifests" / "reporting"
    assert main(["render", str(reporting), "--output", "cloudformation-json"]) == 0
    template = json.loads(capsys.readouterr().out)
    assert template["Parameters"]["BucketArnOutput"] == {
        "Type": "String", "Description": "output BucketArn of the stack at ../redshift-pipeline (stack_output)"}
    statement = template["Resources"]["Reader"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement[0]["Resource"] == [{"Ref": "BucketArnOutput"}, {"Fn::Sub": "${BucketArnOutput}/*"}]
    assert statement[1]["Resource"] == {"Ref": "KeyArnOutput"}
