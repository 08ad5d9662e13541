"""The journeys users live by, end to end against the emulator: every reported change must be in AWS.

AppFlow answers a repeated client token with the first call's answer, without acting, for 8 hours; the
emulator does the same, and its fake clock never lets those 8 hours pass here. So each test below would
print "ok" while AWS stays unchanged if a token were ever reused for a new intent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.support import appflow_client
from tests.test_lifecycle import write_stack

NAME = "lifecycle-dev-sf"


def live(emulator: Emulator) -> dict[str, Any] | None:
    details = appflow_client(emulator.endpoint).describe_connector_profiles(
        connectorProfileNames=[NAME])["connectorProfileDetails"]
    return details[0] if details else None


def instance_url(emulator: Emulator) -> str | None:
    found = live(emulator)
    return found["connectorProfileProperties"]["Salesforce"]["instanceUrl"] if found else None


def state_of(stack: Path) -> dict[str, Any]:
    return dict(json.loads((stack / ".stack" / "state" / "dev.json").read_text()))


def deploy(stack: Path, *extra: str) -> None:
    assert main(["deploy", str(stack), "--auto-approve", *extra]) == 0


def assert_settled(stack: Path, *extra: str) -> None:
    """The next plan is clean and nothing is left pending."""
    assert main(["plan", str(stack), "--detailed-exitcode", *extra]) == 0
    assert state_of(stack)["pending"] == {}


def test_destroy_then_deploy_creates_again(against_emulator: Emulator, tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack")
    for _ in range(3):
        deploy(stack)
        assert live(against_emulator) is not None
        assert state_of(stack)["resources"]["profile"]["arn"] == live(against_emulator)["connectorProfileArn"]
        assert_settled(stack)
        assert main(["destroy", str(stack), "--auto-approve"]) == 0
        assert live(against_emulator) is None
        assert state_of(stack)["resources"] == {}


def test_rolling_back_applies_every_step(against_emulator: Emulator, tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack")
    for url in ("https://a.my.salesforce.com", "https://b.my.salesforce.com", "https://a.my.salesforce.com",
                "https://b.my.salesforce.com"):
        deploy(stack, "-e", f"InstanceUrl={url}")
        assert instance_url(against_emulator) == url
        assert_settled(stack, "-e", f"InstanceUrl={url}")


def test_a_credential_rolled_back_is_sent_again(against_emulator: Emulator, tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack")
    deploy(stack)
    for token in ("token-one", "token-two", "token-one"):
        against_emulator.stats.reset()
        deploy(stack, "-e", f"Token={token}")
        assert_settled(stack, "-e", f"Token={token}")
        assert against_emulator.stats.calls["UpdateConnectorProfile"] == 1
        assert against_emulator.stats.replayed == {}  # AWS acted on it: not an answer from token memory


def test_drift_is_repaired(against_emulator: Emulator, tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack")
    deploy(stack)
    client = appflow_client(against_emulator.endpoint)
    for _ in range(2):  # the same repair twice: the second must not be a replay of the first
        client.update_connector_profile(
            connectorProfileName=NAME, connectionMode="Public",
            connectorProfileConfig={"connectorProfileProperties": {"Salesforce": {"instanceUrl": "https://x.io"}}})
        assert main(["drift", str(stack)]) == 2
        deploy(stack)
        assert instance_url(against_emulator) == "https://acme.my.salesforce.com"
        assert main(["drift", str(stack)]) == 0
        assert_settled(stack)
    for _ in range(2):
        client.delete_connector_profile(connectorProfileName=NAME)
        deploy(stack)
        assert instance_url(against_emulator) == "https://acme.my.salesforce.com"
        assert_settled(stack)


def test_state_rm_then_adopt_takes_it_back(against_emulator: Emulator, tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack")
    deploy(stack)
    assert main(["state", "rm", str(stack), "profile"]) == 0
    assert live(against_emulator) is not None
    assert main(["deploy", str(stack), "--auto-approve"]) == 1  # blocked: it exists but is not ours
    deploy(stack, "--adopt", "-e", "InstanceUrl=https://c.my.salesforce.com")
    assert instance_url(against_emulator) == "https://c.my.salesforce.com"
    assert_settled(stack, "-e", "InstanceUrl=https://c.my.salesforce.com")


class TestInterruptedRuns:
    """SIGKILL while a call is in flight: the emulator holds it (before or after it takes effect) until the
    deploy process is dead. The next deploy must converge: exactly one profile, as the manifest says."""

    def run_and_kill(self, emulator: Emulator, stack: Path, operation: str, *args: str, effect: bool) -> None:
        hold = emulator.knobs.hold_next(operation, effect=effect)
        process = subprocess.Popen([sys.executable, "-m", "deployer", *args, str(stack), "--auto-approve"],
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            assert hold.reached.wait(60), f"{operation} never arrived"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            hold.released.set()
            if process.poll() is None:
                process.kill()
        assert state_of(stack)["pending"]["profile"]["operation"] == {
            "CreateConnectorProfile": "create", "UpdateConnectorProfile": "update",
            "DeleteConnectorProfile": "delete"}[operation]

    @pytest.mark.parametrize("effect", [True, False], ids=["after-effect", "before-effect"])
    def test_killed_create(self, against_emulator: Emulator, tmp_path: Path, effect: bool) -> None:
        stack = write_stack(tmp_path / "stack")
        self.run_and_kill(against_emulator, stack, "CreateConnectorProfile", "deploy", effect=effect)
        assert (live(against_emulator) is not None) is effect
        deploy(stack)
        found = live(against_emulator)
        assert found is not None and state_of(stack)["resources"]["profile"]["arn"] == found["connectorProfileArn"]
        assert len(appflow_client(against_emulator.endpoint).describe_connector_profiles()[
            "connectorProfileDetails"]) == 1
        assert_settled(stack)

    def test_killed_create_then_deleted_outside_is_created_for_real(self, against_emulator: Emulator,
                                                                    tmp_path: Path) -> None:
        """The interrupted create's token would replay its old answer; a read shows it did nothing."""
        stack = write_stack(tmp_path / "stack")
        self.run_and_kill(against_emulator, stack, "CreateConnectorProfile", "deploy", effect=True)
        appflow_client(against_emulator.endpoint).delete_connector_profile(connectorProfileName=NAME)
        against_emulator.stats.reset()
        deploy(stack)
        assert live(against_emulator) is not None
        assert against_emulator.stats.calls["CreateConnectorProfile"] == 2  # the replayed one, then a new intent
        assert against_emulator.stats.replayed["CreateConnectorProfile"] == 1
        assert_settled(stack)

    @pytest.mark.parametrize("effect", [True, False], ids=["after-effect", "before-effect"])
    def test_killed_update(self, against_emulator: Emulator, tmp_path: Path, effect: bool) -> None:
        stack = write_stack(tmp_path / "stack")
        deploy(stack)
        (stack / "environments" / "dev.yaml").write_text(
            "InstanceUrl: https://new.my.salesforce.com\nToken: lifecycle-token-2\n")
        self.run_and_kill(against_emulator, stack, "UpdateConnectorProfile", "deploy", effect=effect)
        expected = "https://new.my.salesforce.com" if effect else "https://acme.my.salesforce.com"
        assert instance_url(against_emulator) == expected
        against_emulator.stats.reset()
        deploy(stack)
        assert instance_url(against_emulator) == "https://new.my.salesforce.com"
        # the credentials cannot be read back, so the update is made again: with the interrupted call's
        # token when it had taken effect (AWS replays its answer), as a new call when it had not
        assert against_emulator.stats.calls["UpdateConnectorProfile"] == 1
        assert against_emulator.stats.replayed["UpdateConnectorProfile"] == int(effect)
        assert_settled(stack)

    @pytest.mark.parametrize("effect", [True, False], ids=["after-effect", "before-effect"])
    def test_killed_delete(self, against_emulator: Emulator, tmp_path: Path, effect: bool) -> None:
        stack = write_stack(tmp_path / "stack")
        deploy(stack)
        self.run_and_kill(against_emulator, stack, "DeleteConnectorProfile", "destroy", effect=effect)
        assert (live(against_emulator) is None) is effect
        assert main(["destroy", str(stack), "--auto-approve"]) == 0
        assert live(against_emulator) is None and state_of(stack)["resources"] == {}
        deploy(stack)  # and back again
        assert live(against_emulator) is not None
        assert_settled(stack)


def set_resource_keys(stack: Path, keys: str) -> None:
    """Put ``keys`` (YAML lines at resource level) on the stack's one resource, replacing any set before."""
    top, body = (stack / "stack.yaml").read_text().split("resources:\n", 1)
    name_line, rest = body.split("\n", 1)
    rest = rest[rest.index("    type: AWS::AppFlow::ConnectorProfile\n"):]
    (stack / "stack.yaml").write_text(f"{top}resources:\n{name_line}\n{keys}{rest}")


class TestDestroyRules:
    """prevent_destroy and DeletionPolicy are read from the manifest as it is now; state keeps them only for
    resources that have left the manifest."""

    def test_prevent_destroy_added_just_now_stops_destroy(self, against_emulator: Emulator, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
        stack = write_stack(tmp_path / "stack")
        deploy(stack)
        set_resource_keys(stack, "    prevent_destroy: true\n")
        capsys.readouterr()
        assert main(["destroy", str(stack), "--auto-approve"]) == 1
        assert "prevent_destroy stops this plan: 'profile' would be deleted (stack destroy)" in capsys.readouterr().err
        assert live(against_emulator) is not None and "profile" in state_of(stack)["resources"]

    def test_prevent_destroy_removed_lets_destroy_go_ahead(self, against_emulator: Emulator, tmp_path: Path) -> None:
        stack = write_stack(tmp_path / "stack")
        set_resource_keys(stack, "    prevent_destroy: true\n")
        deploy(stack)
        assert state_of(stack)["resources"]["profile"]["prevent_destroy"] is True
        set_resource_keys(stack, "")
        assert main(["destroy", str(stack), "--auto-approve"]) == 0
        assert live(against_emulator) is None and state_of(stack)["resources"] == {}

    def test_prevent_destroy_as_an_expression_per_environment(self, against_emulator: Emulator,
                                                              tmp_path: Path) -> None:
        stack = write_stack(tmp_path / "stack")
        (stack / "environments" / "prod.yaml").write_text((stack / "environments" / "dev.yaml").read_text())
        set_resource_keys(stack, "    prevent_destroy: \"{{ stack_env == 'prod' }}\"\n")
        for env in ("dev", "prod"):
            deploy(stack, "--env", env)
        assert main(["destroy", str(stack), "--auto-approve", "--env", "prod"]) == 1
        assert main(["destroy", str(stack), "--auto-approve", "--env", "dev"]) == 0
        names = [d["connectorProfileName"] for d in appflow_client(against_emulator.endpoint)
                 .describe_connector_profiles()["connectorProfileDetails"]]
        assert names == ["lifecycle-prod-sf"]

    def test_state_keeps_prevent_destroy_of_a_resource_that_left_the_manifest(
            self, against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        stack = write_stack(tmp_path / "stack")
        set_resource_keys(stack, "    prevent_destroy: true\n")
        deploy(stack)
        write_stack(stack, resource="other", name_suffix="other")
        capsys.readouterr()
        assert main(["deploy", str(stack), "--auto-approve"]) == 1
        assert "'profile' would be deleted (no longer in the manifest)" in capsys.readouterr().err
        assert live(against_emulator) is not None

    def test_deletion_policy_follows_the_manifest(self, against_emulator: Emulator, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
        stack = write_stack(tmp_path / "stack")
        deploy(stack)
        set_resource_keys(stack, "    DeletionPolicy: Retain\n")
        capsys.readouterr()
        assert main(["destroy", str(stack), "--auto-approve"]) == 0
        assert "will be forgotten (left in AWS)" in capsys.readouterr().out
        assert live(against_emulator) is not None and state_of(stack)["resources"] == {}

        set_resource_keys(stack, "")
        deploy(stack, "--adopt")
        assert main(["destroy", str(stack), "--auto-approve"]) == 0
        assert live(against_emulator) is None

    def test_a_bad_prevent_destroy_expression_is_located(self, against_emulator: Emulator, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
        stack = write_stack(tmp_path / "stack")
        set_resource_keys(stack, "    prevent_destroy: \"{{ stack_env == }}\"\n")
        assert main(["validate", str(stack)]) == 1
        err = capsys.readouterr().err
        assert "stack.yaml:9 resources[0].prevent_destroy: template syntax error" in err and "Traceback" not in err


class TestRenames:
    """Renaming a resource in the manifest, with moved: or `stack state mv`, renames it in state only."""

    def rename(self, stack: Path, moved: bool) -> None:
        text = (stack / "stack.yaml").read_text().replace("  - name: profile\n", "  - name: crm_profile\n")
        if moved:
            text += "moved:\n  - from: profile\n    to: crm_profile\n"
        (stack / "stack.yaml").write_text(text)

    def test_moved_block(self, against_emulator: Emulator, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
        stack = write_stack(tmp_path / "stack")
        deploy(stack)
        arn = live(against_emulator)["connectorProfileArn"]
        self.rename(stack, moved=True)
        capsys.readouterr()
        assert main(["plan", str(stack), "--detailed-exitcode"]) == 2
        out = capsys.readouterr().out
        assert ("  > crm_profile [lifecycle-dev-sf in us-east-1] has moved from 'profile' (state only, nothing in "
                "AWS)") in out
        assert "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 0 to forget, 1 moved, 1 unchanged." in out
        assert main(["plan", str(stack), "--output", "json"]) == 0
        [change] = json.loads(capsys.readouterr().out)["changes"]
        assert (change["resource"], change["action"], change["moved_from"]) == ("crm_profile", "no-op", "profile")

        against_emulator.stats.reset()
        capsys.readouterr()
        deploy(stack)
        assert capsys.readouterr().out.rstrip().endswith("Apply finished: 0 changed, 1 moved.")
        assert set(against_emulator.stats.calls) == {"DescribeConnectorProfiles"}
        assert live(against_emulator)["connectorProfileArn"] == arn
        assert list(state_of(stack)["resources"]) == ["crm_profile"]
        assert_settled(stack)  # the moved: entry may stay; it has nothing left to do

    def test_state_mv(self, against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        stack = write_stack(tmp_path / "stack")
        deploy(stack)
        self.rename(stack, moved=False)
        assert [c["action"] for c in self.plan(stack, capsys)] == ["delete", "create"]  # what a bare rename does
        against_emulator.stats.reset()
        assert main(["state", "mv", str(stack), "profile", "crm_profile"]) == 0
        assert "Moved profile to crm_profile in state (lifecycle-dev-sf in AWS is unchanged)." in \
            capsys.readouterr().out
        assert against_emulator.stats.total == 0
        assert list(state_of(stack)["resources"]) == ["crm_profile"]
        assert_settled(stack)

    def plan(self, stack: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
        capsys.readouterr()
        assert main(["plan", str(stack), "--output", "json"]) == 0
        return list(json.loads(capsys.readouterr().out)["changes"])

    def test_state_mv_refuses_what_would_lose_a_record(self, against_emulator: Emulator, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
        stack = write_stack(tmp_path / "stack")
        deploy(stack)
        before = (stack / ".stack" / "state" / "dev.json").read_text()
        for old, new, message in [
            ("nope", "x", f"'nope' is not in the state; `stack state list {stack}` shows what is"),
            ("profile", "profile", "'profile' is already in the state (as lifecycle-dev-sf)"),
            ("profile", "no-dash", "'no-dash' is not a valid resource name"),
        ]:
            capsys.readouterr()
            assert main(["state", "mv", str(stack), old, new]) == 1
            assert message in capsys.readouterr().err
        assert (stack / ".stack" / "state" / "dev.json").read_text() == before

    @pytest.mark.parametrize(("entry", "message"), [
        ("  - from: profile\n    to: elsewhere\n", "moved[0].to: 'elsewhere' is not a resource of this stack"),
        ("  - {from: crm_profile, to: crm_profile}\n", "moved[0].from: 'crm_profile' is still a resource"),
        ("  - profile\n", "moved[0]: each moved entry is {from: OLD_NAME, to: NEW_NAME}"),
    ], ids=["unknown-target", "source-still-there", "not-a-mapping"])
    def test_bad_moved_entries_are_located(self, against_emulator: Emulator, tmp_path: Path, entry: str,
                                           message: str, capsys: pytest.CaptureFixture[str]) -> None:
        stack = write_stack(tmp_path / "stack")
        self.rename(stack, moved=False)
        with (stack / "stack.yaml").open("a") as file:
            file.write("moved:\n" + entry)
        assert main(["validate", str(stack)]) == 1
        err = capsys.readouterr().err
        assert "stack.yaml:" in err and message in err
        assert against_emulator.stats.total == 0
