"""Stacks in other tools' formats, through the CLI: a CloudFormation template directory deployed as it is and
converted with ``stack convert``, and a stackql-deploy project converted then deployed (``deployer.sources``).

The converters themselves are tested in tests/test_cfn_template.py and tests/test_stackql.py; here the user's
journeys, on the embedded local cloud, with the state and the outputs checked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deployer.cli import main

REPO = Path(__file__).resolve().parent.parent
TEMPLATE_EXAMPLE = REPO / "manifests" / "cfn-template"
STACKQL_PROJECT = REPO / "tests" / "fixtures" / "stackql" / "aws-stack"


def plan_json(stack: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(["plan", str(stack), "--local", "--output", "json", *extra]) == 0
    plan = json.loads(capsys.readouterr().out)
    return {key: plan[key] for key in ("changes",)}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_template_directory_deploys_as_it_is_and_converts_to_the_same_plan(
        env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = Path(shutil.copytree(TEMPLATE_EXAMPLE, tmp_path / "reports", ignore=shutil.ignore_patterns(".stack")))
    converted = tmp_path / "converted"
    assert main(["convert", str(stack), "-o", str(converted)]) == 0
    shutil.copytree(stack / "environments", converted / "environments", dirs_exist_ok=True)
    # the same plan before anything exists: the template as it is, and the stack.yaml it converts to
    assert plan_json(stack, capsys, "--env", env) == plan_json(converted, capsys, "--env", env)

    assert main(["deploy", str(stack), "--local", "--auto-approve", "--env", env]) == 0
    assert main(["plan", str(stack), "--local", "--detailed-exitcode", "--env", env]) == 0
    capsys.readouterr()
    assert main(["output", str(stack), "--local", "--env", env, "--output", "json"]) == 0
    outputs = json.loads(capsys.readouterr().out)
    assert outputs["BucketArn"]["value"] == f"arn:aws:s3:::reports-{env}-reports"
    assert outputs["BucketArn"]["export"] == "reports-BucketArn"
    assert ("TopicArn" in outputs) is (env == "prod")  # an output whose Condition is false is not recorded
    state = json.loads((stack / ".stack" / "local" / "state" / f"{env}.json").read_text())
    assert sorted(state["resources"]) == sorted(["ReportsKey", "ReportsBucket", "ReaderRole"]
                                                + (["AlertTopic"] if env == "prod" else []))


def test_convert_without_a_directory_prints_the_stack_and_reports_on_stderr(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(TEMPLATE_EXAMPLE / "template.yaml")]) == 0
    seen = capsys.readouterr()
    assert seen.out.startswith("# Converted from the CloudFormation template template.yaml")
    assert "variables:\n  - name: Env\n    allowed_values:\n      - dev\n      - prod\n" in seen.out  # checked
    assert "Note: environments/default.yaml is written only with -o DIR" in seen.err


def test_convert_never_writes_over_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stack.yaml").write_text("mine\n")
    assert main(["convert", str(TEMPLATE_EXAMPLE), "-o", str(tmp_path / "out")]) == 1
    assert f"{tmp_path / 'out' / 'stack.yaml'} already exists" in capsys.readouterr().err
    assert (tmp_path / "out" / "stack.yaml").read_text() == "mine\n"


def test_a_stackql_deploy_project_is_converted_then_deployed(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    project = Path(shutil.copytree(STACKQL_PROJECT, tmp_path / "aws-stack"))
    assert main(["plan", str(project), "--local"]) == 1
    err = capsys.readouterr().err
    assert "this is a stackql-deploy project (its resources are SQL in resources/*.iql)" in err
    assert f"convert it with `stack convert {project} -o NEW_DIR`" in err

    out = tmp_path / "converted"
    assert main(["convert", str(project), "-o", str(out)]) == 0
    seen = capsys.readouterr()
    assert f"Wrote {out / 'stack.yaml'}" in seen.out and "Note: " in seen.err
    secret = next(line.split("=", 1)[1] for line in (project / ".env").read_text().splitlines()
                  if line.startswith("AWS_SECRET_ACCESS_KEY="))
    assert main(["deploy", str(out), "--local", "--auto-approve", "--env", "sit"]) == 0
    assert main(["plan", str(out), "--local", "--detailed-exitcode", "--env", "sit"]) == 0
    written = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    assert secret not in written


CONSUMER = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Alerts:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !ImportValue reports-BucketArn
Outputs:
  ReadBucket:
    Value: !ImportValue reports-BucketArn
"""


def test_import_value_reads_the_export_of_a_stack_beside_it(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    reports = Path(shutil.copytree(TEMPLATE_EXAMPLE, tmp_path / "reports", ignore=shutil.ignore_patterns(".stack")))
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    (consumer / "template.yaml").write_text(CONSUMER)
    assert main(["validate", str(consumer)]) == 0  # offline: the export is known after apply
    assert main(["plan", str(consumer), "--local"]) == 1
    assert ("import_value('reports-BucketArn'): no stack beside this one exports it in environment 'dev'"
            in capsys.readouterr().err)
    assert main(["deploy", str(reports), "--local", "--auto-approve"]) == 0
    capsys.readouterr()
    assert main(["deploy", str(consumer), "--local", "--auto-approve"]) == 0
    assert "< reads the outputs of the stack at ../reports, environment dev" in capsys.readouterr().out
    assert main(["output", str(consumer), "ReadBucket", "--raw", "--local"]) == 0
    assert capsys.readouterr().out == "arn:aws:s3:::reports-dev-reports\n"
    assert main(["plan", str(consumer), "--local", "--detailed-exitcode"]) == 0
    capsys.readouterr()
    assert main(["render", str(consumer), "--output", "cloudformation-json"]) == 0
    template = json.loads(capsys.readouterr().out)  # back to CloudFormation, the export is imported again
    assert template["Resources"]["Alerts"]["Properties"]["DisplayName"] == {"Fn::ImportValue": "reports-BucketArn"}
