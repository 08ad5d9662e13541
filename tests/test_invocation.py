"""Every hint names a command that runs as printed: pasted (split as a shell would) into the CLI, it works."""

from __future__ import annotations

import io
import re
import shlex
import sys
from pathlib import Path

import pytest

from deployer.backends.local import LocalBackend
from deployer.cli import main
from deployer.emulator import Emulator
from deployer.invocation import Invocation
from deployer.lock import acquire
from deployer.secrets import SECRETS
from tests.support import appflow_client
from tests.test_reliability import write_stack


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def command_after(text: str, lead: str) -> list[str]:
    """The command in backticks right after ``lead`` in ``text``, as the shell would split it (without 'stack')."""
    found = re.search(re.escape(lead) + r" ?`([^`]*)`", text)
    assert found, f"no command after {lead!r} in:\n{text}"
    words = shlex.split(found.group(1))
    assert words[0] == "stack"
    return words[1:]


@pytest.fixture
def elsewhere(against_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A stack in a directory with a space in its name, worked on with --env qa and a --state of its own; the
    secret comes from the environment, as in CI."""
    monkeypatch.setenv("STACK_VAR_Secret", "invocation-secret-1")
    stack = write_stack(tmp_path / "my stacks" / "crm", 1)
    return stack, tmp_path / "state" / "qa.json"


def test_the_blocked_plan_names_the_import_that_unblocks_it(elsewhere: tuple[Path, Path], against_emulator: Emulator,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    stack, state = elsewhere
    appflow_client(against_emulator.endpoint).create_connector_profile(
        connectorProfileName="reliable-p00", connectorType="Zendesk", connectionMode="Public",
        connectorProfileConfig={
            "connectorProfileProperties": {"Zendesk": {"instanceUrl": "https://elsewhere.zendesk.com"}},
            "connectorProfileCredentials": {"Zendesk": {"clientId": "theirs", "clientSecret": "theirs"}},
        })
    code, out, _ = run(capsys, "plan", str(stack), "--env", "qa", "--state", str(state))
    assert code == 1
    imported = command_after(out, "import it with")
    assert imported == ["state", "import", str(stack), "p00", "reliable-p00", "--env", "qa", "--state", str(state)]
    assert command_after(out, "take it over with") == ["deploy", str(stack), "--adopt", "--env", "qa", "--state",
                                                       str(state)]
    assert "STACK_DIR" not in out
    assert run(capsys, *imported)[0] == 0
    assert run(capsys, "plan", str(stack), "--env", "qa", "--state", str(state))[0] == 0  # no longer blocked


def test_the_lock_held_hint_releases_that_lock(elsewhere: tuple[Path, Path], against_emulator: Emulator,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    stack, state = elsewhere
    holder, _ = acquire(LocalBackend(state).lock, "deploy")  # a live holder: never taken over
    code, _, err = run(capsys, "deploy", str(stack), "--env", "qa", "--state", str(state), "--auto-approve")
    assert code == 1
    unlock = command_after(err, "if that run is gone, release it with")
    assert unlock == ["state", "unlock", str(stack), holder.lock_id, "--env", "qa", "--state", str(state)]
    assert run(capsys, *unlock) == (0, f"Released {holder.describe()}.\n", "")
    assert run(capsys, "deploy", str(stack), "--env", "qa", "--state", str(state), "--auto-approve")[0] == 0


def test_a_renamed_resource_names_the_state_mv_that_keeps_it(elsewhere: tuple[Path, Path],
                                                             against_emulator: Emulator,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    stack, state = elsewhere
    selection = ["--env", "qa", "--state", str(state)]
    assert run(capsys, "deploy", str(stack), *selection, "--auto-approve")[0] == 0
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace("  - name: p00\n", "  - name: crm\n"))
    code, out, _ = run(capsys, "plan", str(stack), *selection)
    assert code == 0 and "+ crm [reliable-p00 in us-east-1] will be created" in out
    moved = command_after(out, "to the manifest or run")
    assert moved == ["state", "mv", str(stack), "p00", "crm", *selection]
    assert run(capsys, *moved)[0] == 0
    assert run(capsys, "plan", str(stack), *selection, "--detailed-exitcode")[0] == 0


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_no_state_hint_deploys_that_state(elsewhere: tuple[Path, Path], against_emulator: Emulator,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    stack, state = elsewhere
    code, _, err = run(capsys, "drift", str(stack), "--env", "qa", "--state", str(state))
    assert code == 1
    deploy = command_after(err, "deploy first (")
    assert deploy == ["deploy", str(stack), "--env", "qa", "--state", str(state)]
    monkeypatch.setattr(sys, "stdin", _Terminal("yes\n"))  # it asks, as deploy does on a terminal
    assert run(capsys, *deploy)[0] == 0
    assert state.is_file()
    assert run(capsys, "drift", str(stack), "--env", "qa", "--state", str(state))[0] == 0


def test_a_hint_never_shows_a_secret_given_with_e(against_emulator: Emulator, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    appflow_client(against_emulator.endpoint).create_connector_profile(
        connectorProfileName="reliable-p00", connectorType="Zendesk", connectionMode="Public",
        connectorProfileConfig={
            "connectorProfileProperties": {"Zendesk": {"instanceUrl": "https://elsewhere.zendesk.com"}},
            "connectorProfileCredentials": {"Zendesk": {"clientId": "theirs", "clientSecret": "theirs"}},
        })
    code, out, _ = run(capsys, "plan", str(stack), "-e", "Secret=abc", "-e", "Team=crm", "--region", "us-east-1")
    assert code == 1
    imported = command_after(out, "import it with")
    assert imported == ["state", "import", str(stack), "p00", "reliable-p00", "--region", "us-east-1", "-e",
                        "Team=crm"]
    assert "(give -e Secret=... again: secret values are not shown)" in out
    assert "abc" not in out
    assert run(capsys, *imported, "-e", "Secret=abc")[0] == 0


@pytest.mark.parametrize(
    ("invocation", "expected"),
    [
        (Invocation("stacks/crm"), "`stack state unlock stacks/crm ID`"),
        (Invocation("my stacks/crm", env="prod", state="s3://b/p", local=True),
         "`stack state unlock 'my stacks/crm' ID --env prod --state s3://b/p --local`"),
        (Invocation("crm", region="eu-west-1", var_files=("v.yaml",), variables=(("A", "1 2"),)),
         "`stack state unlock crm ID`"),
    ],
    ids=["defaults-left-out", "quoted-and-selected", "inputs-only-where-rendered"],
)
def test_commands_carry_the_selection_and_quote_for_the_shell(invocation: Invocation, expected: str) -> None:
    assert invocation.command("state unlock", "ID") == expected


def test_commands_that_render_carry_the_inputs_but_no_secret() -> None:
    SECRETS.add("registered-secret")
    invocation = Invocation("crm", region="eu-west-1", profile="ops", var_files=("v.yaml",),
                            variables=(("A", "1 2"), ("Token", "declared"), ("B", "registered-secret")),
                            secret=frozenset({"Token"}))
    assert invocation.command("deploy", renders=True) == (
        "`stack deploy crm --region eu-west-1 --profile ops --var-file v.yaml -e 'A=1 2'`")
    assert invocation.withheld() == " (give -e Token=... -e B=... again: secret values are not shown)"
    assert invocation.apply_command("plan.json") == "`stack apply plan.json --var-file v.yaml`"
