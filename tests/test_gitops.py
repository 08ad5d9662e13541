"""GitOps: saved plans applied exactly, staleness, drift, environments, promotion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
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
        ("manifest", "the manifest, its templates or its variables changed since the plan"),
        ("variable", "the manifest, its templates or its variables changed since the plan"),
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
