"""deploy, destroy, apply and promote with --output json: JSON Lines only on stdout, the human lines on stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.test_reliability import write_stack

SECRET = ["-e", "Secret=events-secret-1"]


def events(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> tuple[list[dict[str, Any]], str]:
    """Run ``stack ARGV``; every line of stdout parsed as JSON, and stderr."""
    capsys.readouterr()
    assert main(list(argv)) == code
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines and out.endswith("\n")
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object, nothing else is on stdout
    for event in parsed:
        assert event["format_version"] == 1 and isinstance(event["type"], str) and event["time"].endswith("+00:00")
    return parsed, err


def sequence(parsed: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Each event as (type, resource, outcome) where it has them; changes sorted within a run of the same type
    (independent resources are applied in parallel)."""
    return [tuple(str(e[k]) for k in ("type", "resource", "action", "outcome") if k in e) for e in parsed]


def test_a_create_is_a_plan_then_started_and_finished_then_a_summary(against_emulator: Emulator, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    parsed, err = events(capsys, "deploy", str(stack), "--auto-approve", "--output", "json", *SECRET)
    assert sequence(parsed) == [("plan",), ("change_started", "p00", "create"),
                                ("change_finished", "p00", "create", "done"), ("summary",)]
    plan = parsed[0]["plan"]
    assert plan["format_version"] == 1 and plan["summary"]["create"] == 1
    assert [p["path"] for p in plan["changes"][0]["properties"]][:3] == [
        "ConnectorProfileName", "ConnectionMode", "ConnectorType"]
    assert parsed[2]["message"] == "created reliable-p00"
    assert parsed[-1]["counts"] == {"changed": 1, "unchanged": 0, "failed": 0, "skipped": 0}
    assert parsed[-1]["failures"] == []
    assert "events-secret-1" not in json.dumps(parsed)
    # the human lines, on stderr
    assert "  + p00 [reliable-p00 in us-east-1] will be created" in err
    assert "Plan: 1 to create, 0 to update" in err
    assert " p00: create started\n" in err and " p00: create ok - created reliable-p00\n" in err
    assert "Apply finished: 1 changed." in err

    parsed, _ = events(capsys, "deploy", str(stack), "--auto-approve", "--output", "json", *SECRET)
    assert sequence(parsed) == [("plan",), ("summary",)]
    assert parsed[-1]["counts"] == {"changed": 0, "unchanged": 1, "failed": 0, "skipped": 0}


def test_an_update_and_a_failure_end_in_a_summary_that_names_it(against_emulator: Emulator, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    assert main(["deploy", str(stack), "--auto-approve", *SECRET]) == 0
    write_stack(stack, 2)  # p01 is new
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace("https://p00.zendesk.com", "https://p00-new.zendesk.com"))
    against_emulator.knobs.fail_next("ValidationException", operation="CreateConnectorProfile")
    parsed, err = events(capsys, "deploy", str(stack), "--auto-approve", "--output", "json", *SECRET, code=1)
    assert parsed[0]["type"] == "plan" and parsed[-1]["type"] == "summary"
    assert sorted(sequence(parsed[1:-1])) == [
        ("change_finished", "p00", "update", "done"), ("change_finished", "p01", "create", "failed"),
        ("change_started", "p00", "update"), ("change_started", "p01", "create")]
    for name in ("p00", "p01"):  # each change starts before it finishes
        kinds = [e["type"] for e in parsed if e.get("resource") == name]
        assert kinds == ["change_started", "change_finished"]
    [failed] = [e for e in parsed if e["type"] == "change_finished" and e["outcome"] == "failed"]
    assert "CreateConnectorProfile failed for 'reliable-p01': ValidationException" in failed["message"]
    summary = parsed[-1]
    assert summary["counts"] == {"changed": 1, "unchanged": 0, "failed": 1, "skipped": 0}
    assert [(f["resource"], f["action"], f["outcome"]) for f in summary["failures"]] == [("p01", "create", "failed")]
    assert "Apply finished: 1 changed, 1 failed." in err
    assert "Error: p01: CreateConnectorProfile failed" in err


def test_retries_and_recovered_intents_are_events(against_emulator: Emulator, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 2)
    against_emulator.knobs.fail_next("LostResponse", operation="CreateConnectorProfile")  # p00's answer is lost
    assert main(["deploy", str(stack), "--auto-approve", *SECRET, "--parallelism", "1", "--max-attempts", "1"]) == 1
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace("https://p01.zendesk.com", "https://p01-new.zendesk.com"))
    against_emulator.knobs.fail_next("ThrottlingException", operation="UpdateConnectorProfile")
    parsed, err = events(capsys, "deploy", str(stack), "--auto-approve", "--output", "json", "--max-wait", "0",
                         *SECRET)
    assert sequence(parsed) == [("recovered",), ("plan",), ("change_started", "p01", "update"), ("retry", "p01"),
                                ("change_finished", "p01", "update", "done"), ("summary",)]
    assert parsed[0]["message"] == "p00: an interrupted create of reliable-p00 had completed; recorded it"
    assert {k: parsed[3][k] for k in ("identifier", "operation", "attempt")} == {
        "identifier": "reliable-p01", "operation": "UpdateConnectorProfile", "attempt": 1}
    assert "Recovered: p00: an interrupted create of reliable-p00 had completed" in err
    assert " reliable-p01: UpdateConnectorProfile attempt 1 failed, retrying\n" in err


def test_a_run_that_stops_ends_with_an_error_event(against_emulator: Emulator, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    parsed, err = events(capsys, "deploy", str(stack), "--output", "json", *SECRET, code=1)  # no terminal
    assert sequence(parsed) == [("plan",), ("error",)]
    assert parsed[-1]["message"].startswith("no terminal to confirm the deploy")
    assert "Error: no terminal to confirm the deploy" in err

    (stack / "stack.yaml").write_text((stack / "stack.yaml").read_text().replace("Zendesk\n", "Zendsk\n", 1))
    parsed, _ = events(capsys, "deploy", str(stack), "--output", "json", "--auto-approve", *SECRET, code=1)
    [error] = parsed
    assert error["type"] == "error" and error["message"] == "1 problem in the stack"
    assert 'ConnectorType: "Zendsk" is not an allowed value' in error["problems"][0]


def test_destroy_apply_and_promote_write_events_too(against_emulator: Emulator, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "s", 1)
    manifest = stack / "stack.yaml"
    manifest.write_text(manifest.read_text().replace("'{{ stack_name }}-p", "'{{ stack_name }}-{{ stack_env }}-p"))
    plan = tmp_path / "plan.json"
    assert main(["plan", str(stack), "--env", "staging", "-o", str(plan), *SECRET]) == 0
    parsed, err = events(capsys, "apply", str(plan), "--output", "json", *SECRET)
    assert sequence(parsed) == [("plan",), ("change_started", "p00", "create"),
                                ("change_finished", "p00", "create", "done"), ("summary",)]
    assert "Apply finished: 1 changed." in err

    parsed, _ = events(capsys, "promote", str(stack), "--from", "staging", "--to", "prod", "--auto-approve",
                       "--output", "json", *SECRET)
    assert sequence(parsed) == [("plan",), ("change_started", "p00", "create"),
                                ("change_finished", "p00", "create", "done"), ("summary",)]
    assert parsed[0]["plan"]["env"] == "prod"

    parsed, _ = events(capsys, "destroy", str(stack), "--env", "prod", "--auto-approve", "--output", "json", *SECRET)
    assert sequence(parsed) == [("plan",), ("change_started", "p00", "delete"),
                                ("change_finished", "p00", "delete", "done"), ("summary",)]
