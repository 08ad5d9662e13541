"""GitOps: saved plans applied exactly, staleness, drift, environments, promotion."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from deployer.engine import Engine, Options
from deployer.render import Inputs
from deployer.saved_plan import change_fingerprints, request_key
from deployer.state import StackState
from tests.support import appflow_client
from tests.test_reliability import write_stack

SECRET = ["-e", "Secret=gitops-secret-1"]


@pytest.fixture
def stack(against_emulator: Emulator, tmp_path: Path) -> Path:
    return write_stack(tmp_path / "s", 2)


def saved_plan(stack: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> Path:
    path = stack.parent / "plan.json"
    assert main(["plan", str(stack), "-o", str(path), *SECRET, *extra]) == 0
    capsys.readouterr()
    return path


def test_apply_applies_exactly_the_saved_plan(stack: Path, against_emulator: Emulator,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    plan = saved_plan(stack, capsys)
    document = json.loads(plan.read_text())
    assert [c["action"] for c in document["plan"]["changes"]] == ["create", "create"]
    assert "gitops-secret-1" not in plan.read_text()
    assert main(["apply", str(plan), *SECRET]) == 0
    assert against_emulator.stats.calls["CreateConnectorProfile"] == 2
    assert main(["plan", str(stack), "--detailed-exitcode", *SECRET]) == 0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("state", "the state changed since the plan"),
        ("manifest", "stack.yaml changed since the plan"),
        ("variable", "environments/dev.yaml is new since the plan; non-secret variables changed since the plan"),
        ("secret", "'p00': the desired values differ from the plan's"),
        ("aws", "'p00': the plan said update, now it would be create"),
    ],
)
def test_a_stale_plan_is_refused_with_its_reason(change: str, reason: str, stack: Path, against_emulator: Emulator,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", str(stack), "--auto-approve", *SECRET]) == 0
    write_stack(stack, 2, mode="Private")
    against_emulator.knobs.private_delay_s = 0
    plan = saved_plan(stack, capsys)
    supplied = list(SECRET)
    if change == "state":
        assert main(["state", "rm", str(stack), "p01"]) == 0
    elif change == "manifest":
        (stack / "stack.yaml").write_text((stack / "stack.yaml").read_text().replace("p01.zendesk", "p1.zendesk"))
    elif change == "variable":
        (stack / "environments").mkdir()
        (stack / "environments" / "dev.yaml").write_text("Unused: now set\n")
    elif change == "secret":
        supplied = ["-e", "Secret=gitops-secret-2"]
    elif change == "aws":
        appflow_client(against_emulator.endpoint).delete_connector_profile(connectorProfileName="reliable-p00")
    against_emulator.stats.reset()
    capsys.readouterr()
    assert main(["apply", str(plan), *supplied]) == 1
    err = capsys.readouterr().err
    assert f"{plan} is stale, nothing was applied: " in err and reason in err
    assert "Plan again and review the new plan" in err
    assert set(against_emulator.stats.calls) <= {"DescribeConnectorProfiles"}


def instance_url(emulator: Emulator, name: str = "reliable-p00") -> str:
    details = appflow_client(emulator.endpoint).describe_connector_profiles(connectorProfileNames=[name])
    return str(details["connectorProfileDetails"][0]["connectorProfileProperties"]["Zendesk"]["instanceUrl"])


def applied_url(stack: Path) -> str:
    state = json.loads((stack / ".stack" / "state" / "dev.json").read_text())
    return str(state["resources"]["p00"]["applied"]["connectorProfileConfig"]["connectorProfileProperties"]
               ["Zendesk"]["instanceUrl"])


def tenant_stack(directory: Path) -> Path:
    """A stack whose p00 InstanceUrl comes from the variable Tenant."""
    stack = write_stack(directory, 1)
    text = (stack / "stack.yaml").read_text()
    (stack / "stack.yaml").write_text(text.replace("https://p00.zendesk.com", "'https://{{ Tenant }}.zendesk.com'"))
    return stack


@pytest.mark.parametrize("source", ["environments/dev.yaml", "--var-file vars.yaml"])
def test_a_changed_variables_file_makes_the_plan_stale(source: str, against_emulator: Emulator, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    stack = tenant_stack(tmp_path / "s")
    if source.startswith("environments/"):
        (stack / "environments").mkdir()
        variables, extra = stack / "environments" / "dev.yaml", []
    else:
        variables = tmp_path / "vars.yaml"
        extra = ["--var-file", str(variables)]
    variables.write_text("Tenant: first\n")
    assert main(["deploy", str(stack), "--auto-approve", *SECRET, *extra]) == 0
    variables.write_text("Tenant: second\n")
    plan = saved_plan(stack, capsys, *extra)
    variables.write_text("Tenant: third\n")
    against_emulator.stats.reset()
    assert main(["apply", str(plan), *SECRET, *extra]) == 1
    assert (f"Error: {plan} is stale, nothing was applied: {source} changed since the plan. Plan again and review "
            "the new plan") in capsys.readouterr().err
    assert set(against_emulator.stats.calls) <= {"DescribeConnectorProfiles"}
    assert instance_url(against_emulator) == applied_url(stack) == "https://first.zendesk.com"
    assert main(["plan", str(stack), "--detailed-exitcode", *SECRET, *extra]) == 2  # third is still to deploy


def test_a_secret_in_a_variables_file_stays_out_of_the_digest(stack: Path, against_emulator: Emulator, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Only names and non-secret values of a variables file are digested, so the digest tests no guess of a secret;
    a changed secret still makes the plan stale, through the request fingerprints keyed by the state."""
    variables = tmp_path / "vars.yaml"
    variables.write_text("Secret: gitops-secret-1\n")
    assert main(["deploy", str(stack), "--auto-approve", "--var-file", str(variables)]) == 0
    write_stack(stack, 2, mode="Private")
    plan = saved_plan(stack, capsys, "--var-file", str(variables))
    variables.write_text("Secret: gitops-secret-2\n")
    other = tmp_path / "other-plan.json"
    assert main(["plan", str(stack), "-o", str(other), "--var-file", str(variables)]) == 0
    then, now = (json.loads(p.read_text())["saved_plan"] for p in (plan, other))
    assert (then["digest"], then["sources"]) == (now["digest"], now["sources"])
    assert then["changes"] != now["changes"]
    capsys.readouterr()
    assert main(["apply", str(plan), "--var-file", str(variables)]) == 1
    err = capsys.readouterr().err
    assert "'p00': the desired values differ from the plan's" in err and "vars.yaml changed" not in err


def strings_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return [value] if isinstance(value, str) else []


def test_a_plan_file_holds_no_key_to_test_a_credential_guess(stack: Path, against_emulator: Emulator,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", str(stack), "--auto-approve", *SECRET]) == 0
    write_stack(stack, 2, mode="Private")
    plan = saved_plan(stack, capsys)
    text = plan.read_text()
    document = json.loads(text)
    state = StackState.from_json((stack / ".stack" / "state" / "dev.json").read_text(), "state")
    assert "key" not in document["saved_plan"] and state.fingerprint_key not in text
    with Engine(stack, Options(inputs=Inputs(cli_vars={"Secret": "gitops-secret-1"}, environ={}))) as engine:
        planned = engine.plan().plan
    request = json.dumps(planned.changes[0].desired.request, sort_keys=True, default=str).encode()
    stored = document["saved_plan"]["changes"][0]["request"]
    candidates = {s.encode() for s in strings_in(document)}
    for text_value in strings_in(document):
        digits = text_value.rpartition(":")[2]
        if len(digits) % 2 == 0 and all(c in "0123456789abcdef" for c in digits):
            candidates.add(bytes.fromhex(digits))
    for candidate in candidates:  # nothing in the file is the key
        assert hmac.new(candidate, request, hashlib.sha256).hexdigest() not in stored
    assert change_fingerprints(planned, request_key(state))[0]["request"] == stored  # the state's is


def test_a_first_plan_fingerprints_requests_without_their_secrets(stack: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Before any state there is no key to keep: fingerprints leave secrets out, so they cannot show a change."""
    first = saved_plan(stack, capsys)
    other = tmp_path / "other-plan.json"
    assert main(["plan", str(stack), "-o", str(other), "-e", "Secret=gitops-secret-2"]) == 0
    changes = [json.loads(p.read_text())["saved_plan"]["changes"] for p in (first, other)]
    assert changes[0] == changes[1] and changes[0][0]["request"].startswith("sha256:")


def git_checkout(directory: Path) -> Path:
    """A copy of the repository: a Git work tree holding the stack at stacks/app."""
    write_stack(directory / "stacks" / "app", 2)
    subprocess.run(["git", "init", "-q", str(directory)], check=True)
    return directory


def test_a_plan_made_in_one_checkout_applies_in_another(against_emulator: Emulator, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    laptop, runner = git_checkout(tmp_path / "laptop"), git_checkout(tmp_path / "runner")
    plan = tmp_path / "plan.json"
    monkeypatch.chdir(laptop)
    assert main(["plan", "stacks/app", "-o", str(plan), *SECRET]) == 0
    assert json.loads(plan.read_text())["saved_plan"]["stack_path"] == "stacks/app"
    monkeypatch.chdir(runner / "stacks")  # anywhere in the other checkout: found from its Git top-level
    assert main(["apply", str(plan), *SECRET]) == 0
    assert sorted(d["connectorProfileName"] for d in appflow_client(against_emulator.endpoint)
                  .describe_connector_profiles()["connectorProfileDetails"]) == ["reliable-p00", "reliable-p01"]
    assert not (laptop / "stacks" / "app" / ".stack").exists()  # the runner's own default state, not the laptop's
    assert applied_url(runner / "stacks" / "app") == instance_url(against_emulator) == "https://p00.zendesk.com"
    assert main(["plan", "app", "--detailed-exitcode", *SECRET]) == 0


def test_apply_says_where_it_looked_for_a_stack_it_cannot_find(stack: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    plan = saved_plan(stack, capsys)
    stack.rename(tmp_path / "moved")
    monkeypatch.chdir(tmp_path)
    assert main(["apply", str(plan), *SECRET]) == 1
    assert f"Error: cannot find the stack of the plan; looked for it at {stack}" in capsys.readouterr().err


def test_drift_names_the_property_and_exits_2(stack: Path, against_emulator: Emulator,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", str(stack), "--auto-approve", *SECRET]) == 0
    assert main(["drift", str(stack)]) == 0
    client = appflow_client(against_emulator.endpoint)
    client.update_connector_profile(
        connectorProfileName="reliable-p00", connectionMode="Public",
        connectorProfileConfig={"connectorProfileProperties": {"Zendesk": {"instanceUrl": "https://moved.zendesk.com"}}})
    client.delete_connector_profile(connectorProfileName="reliable-p01")
    capsys.readouterr()
    assert main(["drift", str(stack)]) == 2
    out = capsys.readouterr().out
    assert ("ConnectorProfileConfig.ConnectorProfileProperties.Zendesk.InstanceUrl: \"https://p00.zendesk.com\" "
            "(last applied) -> \"https://moved.zendesk.com\" (AWS)") in out
    assert "p01 [reliable-p01] no longer exists in AWS" in out
    assert "Credentials cannot be checked: AWS never returns them." in out
    assert main(["drift", str(stack), "--output", "json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert [(r["resource"], r["deleted"]) for r in document["resources"]] == [("p00", False), ("p01", True)]


def test_envs_lists_where_each_value_comes_from(tmp_path: Path, aws_env: None, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    (stack / "environments").mkdir()
    (stack / "environments" / "default.yaml").write_text("Region: us-east-1\nTier: small\nSecret: from-default\n")
    (stack / "environments" / "prod.yaml").write_text("Tier: large\n")
    (stack / "environments" / "staging.yaml").write_text("{}\n")
    monkeypatch.setenv("STACK_VAR_Owner", "platform")
    assert main(["envs", str(stack)]) == 0
    out = capsys.readouterr().out
    assert 'prod:\n  Owner = "platform"  (environment variable STACK_VAR_Owner)\n' in out
    assert '  Tier = "large"  (environments/prod.yaml)' in out
    assert '  Secret = "(sensitive)"  (environments/default.yaml)' in out
    assert 'staging:' in out and '  Tier = "small"  (environments/default.yaml)' in out
    assert "from-default" not in out


class TestPromotion:
    @pytest.fixture
    def staged(self, against_emulator: Emulator, tmp_path: Path) -> Path:
        stack = write_stack(tmp_path / "s", 2)
        (stack / "stack.yaml").write_text((stack / "stack.yaml").read_text().replace(
            "'{{ stack_name }}-p", "'{{ stack_name }}-{{ stack_env }}-p"))
        assert main(["deploy", str(stack), "--auto-approve", "--env", "staging", *SECRET]) == 0
        return stack

    def test_promotion_deploys_the_target_and_records_where_from(self, staged: Path, against_emulator: Emulator,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["promote", str(staged), "--from", "staging", "--to", "prod", "--auto-approve", *SECRET]) == 0
        names = sorted(d["connectorProfileName"] for d in appflow_client(against_emulator.endpoint)
                       .describe_connector_profiles()["connectorProfileDetails"])
        assert names == ["reliable-prod-p00", "reliable-prod-p01", "reliable-staging-p00", "reliable-staging-p01"]
        capsys.readouterr()
        assert main(["state", "show", str(staged), "--env", "prod", "--output", "json"]) == 0
        deployment = json.loads(capsys.readouterr().out)["deployment"]
        assert deployment["promoted_from"]["env"] == "staging"
        assert deployment["promoted_from"]["digest"].startswith("sha256:")
        assert deployment["failed"] == []

    def test_a_source_deployed_from_another_version_is_refused(self, staged: Path, against_emulator: Emulator,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
        (staged / "stack.yaml").write_text((staged / "stack.yaml").read_text().replace("p00.zendesk", "x.zendesk"))
        assert main(["promote", str(staged), "--from", "staging", "--to", "prod", "--auto-approve", *SECRET]) == 1
        assert "cannot promote: environment 'staging' was last deployed from another version of the manifest" in \
            capsys.readouterr().err
        assert "reliable-prod-p00" not in str(appflow_client(against_emulator.endpoint).describe_connector_profiles())

    def test_a_drifted_source_is_refused(self, staged: Path, against_emulator: Emulator,
                                         capsys: pytest.CaptureFixture[str]) -> None:
        appflow_client(against_emulator.endpoint).delete_connector_profile(connectorProfileName="reliable-staging-p01")
        assert main(["promote", str(staged), "--from", "staging", "--to", "prod", "--auto-approve", *SECRET]) == 1
        assert "cannot promote: environment 'staging' has drifted: p01" in capsys.readouterr().err

    def test_a_source_whose_deploy_failed_is_refused(self, staged: Path, against_emulator: Emulator,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
        write_stack(staged, 3)
        (staged / "stack.yaml").write_text((staged / "stack.yaml").read_text().replace(
            "'{{ stack_name }}-p", "'{{ stack_name }}-{{ stack_env }}-p"))
        against_emulator.knobs.fail_next("ValidationException", operation="CreateConnectorProfile")
        assert main(["deploy", str(staged), "--auto-approve", "--env", "staging", *SECRET]) == 1
        capsys.readouterr()
        assert main(["promote", str(staged), "--from", "staging", "--to", "prod", "--auto-approve", *SECRET]) == 1
        assert "has resources whose last deploy did not finish: p02" in capsys.readouterr().err
