"""Golden files for the review outputs (plan as markdown and JSON, drift as JSON and markdown).

Regenerate after an intended change with `scripts/update-golden`, and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from deployer.cli import main
from deployer.emulator import Emulator
from tests.support import appflow_client
from tests.test_reliability import write_stack

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("STACK_UPDATE_GOLDEN") == "1"


def check(name: str, text: str) -> None:
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", text)
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert path.read_text() == text, f"{name} differs from the golden file; run scripts/update-golden if intended"


@pytest.fixture
def mixed_plan(against_emulator: Emulator, tmp_path: Path) -> Path:
    """A deployed stack changed so that its next plan has every kind of action."""
    stack = write_stack(tmp_path / "golden", 5)
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=one"]) == 0
    head, _, body = (stack / "stack.yaml").read_text().partition("resources:\n")
    resources = ["  - name: " + r for r in re.split(r"(?m)^  - name: ", body) if r]
    resources[0] = resources[0].replace("value: Public", "value: Private")                   # p00: update
    resources[1] = resources[1].replace("value: Zendesk", "value: Slack").replace(
        "Zendesk:", "Slack:")                                                                  # p01: replace
    resources[2] = resources[2].replace("client-p02", "client-p02-rotated")                    # p02: credentials
    resources.append(resources[4].replace("p04", "p05"))                                       # p05: create
    del resources[3]                                                                           # p03: delete
    (stack / "stack.yaml").write_text(head + "resources:\n" + "".join(resources))           # p04: no-op
    against_emulator.knobs.private_delay_s = 0
    return stack


def test_plan_markdown(mixed_plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["plan", str(mixed_plan), "-e", "Secret=one", "--output", "markdown"]) == 0
    check("plan.md", capsys.readouterr().out)


def test_plan_json(mixed_plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["plan", str(mixed_plan), "-e", "Secret=one", "--output", "json"]) == 0
    check("plan.json", capsys.readouterr().out)


def test_drift_json(against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "golden", 2)
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=one"]) == 0
    appflow_client(against_emulator.endpoint).delete_connector_profile(connectorProfileName="reliable-p01")
    capsys.readouterr()
    assert main(["drift", str(stack), "--output", "json"]) == 2
    check("drift.json", capsys.readouterr().out)


def test_drift_markdown(against_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path / "golden", 3)
    assert main(["deploy", str(stack), "--auto-approve", "-e", "Secret=one"]) == 0
    client = appflow_client(against_emulator.endpoint)
    client.update_connector_profile(
        connectorProfileName="reliable-p00", connectionMode="Public",
        connectorProfileConfig={"connectorProfileProperties": {"Zendesk": {"instanceUrl": "https://moved.zendesk.com"}}})
    client.delete_connector_profile(connectorProfileName="reliable-p01")
    capsys.readouterr()
    assert main(["drift", str(stack), "--output", "markdown"]) == 2
    check("drift.md", capsys.readouterr().out)
