"""docs/github-actions.yml works as written: each job's steps, run in order, against the emulator and S3 (moto).

A small runner reads the workflow and runs a job the way GitHub would: ``run:`` steps in bash
(``-eo pipefail``) with the workflow's, the job's and the step's ``env:``, ``${{ }}`` expressions filled
in from a context the test gives, and a ``GITHUB_OUTPUT`` file. The ``uses:`` steps it knows are
played locally: checkout clones the test's repository of stacks, configure-aws-credentials sets the
region (credentials are the test's dummy ones), upload-artifact and the ``gh run download`` step go
through a local artifact directory, the pull-request comment is kept. The install step is checked
to be the README's ``pip install .`` and not run: ``stack`` is on PATH from this virtualenv.

The repository of stacks holds ``stacks/crm``, made from ``manifests/salesforce`` with a staging
environment and with the access token left out of every environment file, so each job that renders
the stack must get it from the workflow (``STACK_VAR_SalesforceAccessToken``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployer.emulator import Emulator
from tests.support import MotoServer, appflow_client

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = yaml.safe_load((REPO / "docs" / "github-actions.yml").read_text())
SECRETS = {"STAGING_SALESFORCE_ACCESS_TOKEN": "staging-sf-token-5f2a9c", "PROD_SALESFORCE_ACCESS_TOKEN":
           "prod-sf-token-81d3e7"}
STAGING_URL = "https://acme--staging.sandbox.my.salesforce.com"
MOVED_URL = "https://acme--staging2.sandbox.my.salesforce.com"
PR_NUMBER = 7
_EXPRESSION = re.compile(r"\$\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")


@dataclass
class Job:
    returncode: int  # of the first step that failed, or 0
    outputs: dict[str, str]
    log: str
    comments: list[str] = field(default_factory=list)


class Runner:
    """Runs one job of the workflow at a time, each in a fresh checkout of ``origin``."""

    def __init__(self, origin: Path, root: Path) -> None:
        self.origin = origin
        self.root = root
        self.artifacts = root / "artifacts"
        self.runs = 0

    def run(self, name: str, event: str, **context: Any) -> Job:
        job = WORKFLOW["jobs"][name]
        assert job["if"] == f"github.event_name == '{event}'"
        self.runs += 1
        workspace = self.root / f"run-{self.runs}-{name}"
        output = self.root / f"run-{self.runs}.output"
        output.touch()
        values = {"secrets": SECRETS, "github": {"event_name": event, "token": "gh-token", **context.pop("github", {})},
                  **context}
        env = {**_expand(WORKFLOW.get("env", {}), values), **_expand(job.get("env", {}), values),
               "CI": "true", "GITHUB_EVENT_NAME": event, "GITHUB_OUTPUT": str(output),
               "GITHUB_WORKSPACE": str(workspace), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
        log: list[str] = []
        comments: list[str] = []
        for step in job["steps"]:
            if "uses" in step:
                self.use(step["uses"], _expand(step.get("with", {}), values), workspace, env, comments)
                continue
            script = _expand(step["run"], values)
            if script.startswith("pip install"):
                assert script.strip() == "pip install .", "install the way the README's Quick start does"
                continue
            if "gh run download" in script:
                assert '--name "plan-' in script  # the artifact the plan job uploads, by pull request number
                for item in (self.artifacts / f"plan-{context['merged_pr']}").iterdir():
                    shutil.copy(item, workspace)
                continue
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=workspace,
                                  env={**_base_env(), **env, **_expand(step.get("env", {}), values)},
                                  capture_output=True, text=True, timeout=120)
            log.append(f"$ {script}\n{done.stdout}{done.stderr}")
            if done.returncode:
                return Job(done.returncode, {}, "\n".join(log), comments)
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
        return Job(0, outputs, "\n".join(log), comments)

    def use(self, action: str, inputs: dict[str, Any], workspace: Path, env: dict[str, str],
            comments: list[str]) -> None:
        name = action.split("@")[0]
        if name == "actions/checkout":
            subprocess.run(["git", "clone", "-q", str(self.origin), str(workspace)], check=True)
        elif name == "actions/setup-python":
            assert inputs["python-version"]
        elif name == "aws-actions/configure-aws-credentials":
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = inputs["aws-region"]
        elif name == "marocchino/sticky-pull-request-comment":
            comments.append((workspace / inputs["path"]).read_text())
        elif name == "actions/upload-artifact":
            target = self.artifacts / inputs["name"]
            target.mkdir(parents=True)
            shutil.copy(workspace / inputs["path"], target)
        else:
            pytest.fail(f"the workflow uses {action}, which this test does not know how to play")


def _expand(value: Any, context: dict[str, Any]) -> Any:
    """``value`` with every ``${{ a.b.c }}`` replaced by its value in ``context`` (a missing name fails)."""
    if isinstance(value, dict):
        return {key: _expand(item, context) for key, item in value.items()}
    if not isinstance(value, str):
        return str(value)

    def lookup(match: re.Match[str]) -> str:
        found: Any = context
        for part in match.group(1).split("."):
            assert isinstance(found, dict) and part in found, f"the test gives no value for {match.group(0)}"
            found = found[part]
        return str(found)

    return _EXPRESSION.sub(lookup, value)


def _base_env() -> dict[str, str]:
    """What a runner has: HOME, the AWS settings the fixtures made (endpoints, dummy credentials), no STACK_VAR_."""
    keep = ("HOME", "LANG", "TMPDIR", "AWS_", "NO_COLOR")
    return {key: value for key, value in os.environ.items() if key.startswith(keep)}


def _repository(directory: Path) -> Path:
    """The repository of stacks the workflow is written for, with stacks/crm made from manifests/salesforce."""
    stack = directory / "stacks" / "crm"
    shutil.copytree(REPO / "manifests" / "salesforce", stack)
    environments = stack / "environments"
    dev = (environments / "dev.yaml").read_text()
    (environments / "staging.yaml").write_text(dev.replace("https://acme--dev.sandbox.my.salesforce.com", STAGING_URL))
    for path in environments.glob("*.yaml"):  # credentials come from the workflow's secrets, never from Git
        path.write_text("".join(line for line in path.read_text().splitlines(keepends=True)
                                if not line.startswith("SalesforceAccessToken:")))
    (directory / ".gitignore").write_text(".stack/\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(directory)], check=True)
    _git(directory, "add", ".")
    _git(directory, "commit", "-q", "-m", "crm stack")
    return directory


def _commit(repository: Path, path: str, old: str, new: str) -> None:
    """A merged change: ``old`` replaced by ``new`` in ``path``, committed on main."""
    file = repository / path
    file.write_text(file.read_text().replace(old, new))
    _git(repository, "commit", "-q", "-am", f"change {path}")


def _git(repository: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repository), "-c", "user.name=ci", "-c", "user.email=ci@example.com", *args],
                   check=True)


@pytest.fixture
def state_bucket(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str, str]:
    """The workflow's STACK_STATE bucket in moto, empty under its prefix; S3 pointed at moto the standard way."""
    bucket, _, prefix = WORKFLOW["env"]["STACK_STATE"].removeprefix("s3://").partition("/")
    s3 = moto_server.client("s3")
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server.endpoint)
    return s3, bucket, prefix


def _profile(emulator: Emulator, name: str) -> dict[str, Any]:
    details = appflow_client(emulator.endpoint).describe_connector_profiles(connectorProfileNames=[name])
    [profile] = details["connectorProfileDetails"]
    return dict(profile)


def test_the_example_workflow_plans_applies_checks_drift_and_promotes(
        against_emulator: Emulator, state_bucket: tuple[Any, str, str], tmp_path: Path) -> None:
    s3, bucket, prefix = state_bucket
    runner = Runner(_repository(tmp_path / "origin"), tmp_path)
    pull_request = {"event": {"pull_request": {"number": PR_NUMBER}}}

    # A pull request: the plan is commented and saved; nothing changes in AWS.
    plan = runner.run("plan", "pull_request", github=pull_request)
    assert plan.returncode == 0, plan.log
    assert plan.outputs == {"changes": "yes"}
    [comment] = plan.comments
    assert "crm-integrations-staging-sf" in comment and "(sensitive)" in comment
    saved = (runner.artifacts / f"plan-{PR_NUMBER}" / "plan-staging.json").read_text()
    assert all(secret not in saved + comment for secret in SECRETS.values())
    assert appflow_client(against_emulator.endpoint).describe_connector_profiles()["connectorProfileDetails"] == []

    # The merge: another checkout applies exactly the reviewed plan, with state in S3.
    apply = runner.run("apply", "push", merged_pr=PR_NUMBER)
    assert apply.returncode == 0, apply.log
    staging = _profile(against_emulator, "crm-integrations-staging-sf")
    assert staging["connectorType"] == "Salesforce" and staging["connectionMode"] == "Public"
    assert staging["connectorProfileProperties"]["Salesforce"] == {"instanceUrl": STAGING_URL,
                                                                   "isSandboxEnvironment": True}
    state = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/crm-integrations/staging.json")["Body"].read())
    assert state["resources"]["salesforce_profile"]["arn"] == staging["connectorProfileArn"]

    # A second pull request, now that state exists: its plan is checked against the secret at apply too.
    _commit(runner.origin, "stacks/crm/environments/staging.yaml", STAGING_URL, MOVED_URL)
    assert runner.run("plan", "pull_request", github={"event": {"pull_request": {"number": PR_NUMBER + 1}}}
                      ).outputs == {"changes": "yes"}
    apply = runner.run("apply", "push", merged_pr=PR_NUMBER + 1)
    assert apply.returncode == 0, apply.log
    updated = _profile(against_emulator, "crm-integrations-staging-sf")
    assert updated["connectorProfileProperties"]["Salesforce"]["instanceUrl"] == MOVED_URL
    assert updated["connectorProfileArn"] == staging["connectorProfileArn"]  # updated in place

    # By hand: staging is promoted to prod (Private there, from prod.yaml), with the prod secret.
    dispatch = {"inputs": {"stack": WORKFLOW[True]["workflow_dispatch"]["inputs"]["stack"]["default"]}}
    promote = runner.run("promote", "workflow_dispatch", **dispatch)
    assert promote.returncode == 0, promote.log
    prod = _profile(against_emulator, "crm-integrations-prod-sf")
    assert prod["connectionMode"] == "Private"
    assert prod["connectorProfileProperties"]["Salesforce"]["instanceUrl"] == "https://acme.my.salesforce.com"
    prod_state = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/crm-integrations/prod.json")["Body"].read())
    assert prod_state["deployment"]["promoted_from"]["env"] == "staging"

    # The schedule: no drift in any environment of the matrix; then a change made outside fails the job.
    environments = WORKFLOW["jobs"]["drift"]["strategy"]["matrix"]["env"]
    assert environments == ["staging", "prod"]
    for env in environments:
        drift = runner.run("drift", "schedule", matrix={"env": env})
        assert drift.returncode == 0, drift.log
    appflow_client(against_emulator.endpoint).update_connector_profile(
        connectorProfileName="crm-integrations-staging-sf", connectionMode="Public", connectorProfileConfig={
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": "https://changed.my.salesforce.com"}}})
    drift = runner.run("drift", "schedule", matrix={"env": "staging"})
    assert drift.returncode == 2, drift.log
    assert "https://changed.my.salesforce.com" in drift.log
