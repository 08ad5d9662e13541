from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from deployer.errors import StateError
from deployer.state import LocalBackend, ResourceState, StackState, StateRecorder


def _resource(name: str = "crm") -> ResourceState:
    return ResourceState(name=name, type="AWS::AppFlow::ConnectorProfile", identifier=f"{name}-profile",
                         region="us-east-1", arn=f"arn:aws:appflow:us-east-1:1:connectorprofile/{name}-profile",
                         applied={"connectionMode": "Public"}, credentials_fingerprint=None, exports={})


def test_round_trip_and_serial(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "dev.json")
    assert backend.read() is None
    state = StackState.new("crm", "dev")
    written = backend.write(replace(state, resources={"crm": _resource()}))
    assert written.serial == 1
    again = backend.write(written)
    assert again.serial == 2
    assert backend.read() == again
    assert json.loads((tmp_path / "dev.json.backup").read_text())["serial"] == 1


def test_a_stale_writer_or_another_lineage_is_refused(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "dev.json")
    first = backend.write(StackState.new("crm", "dev"))
    backend.write(first)
    with pytest.raises(StateError, match="changed by another run"):
        backend.write(replace(first, serial=0))
    with pytest.raises(StateError, match="another lineage"):
        backend.write(StackState.new("crm", "dev"))


@pytest.mark.parametrize("content", ["", "{\"version\": 1, \"stack\": \"crm\"", "[]", "{\"version\": 1}"],
                         ids=["empty", "truncated", "not-an-object", "missing-fields"])
def test_unreadable_state_says_how_to_recover(tmp_path: Path, content: str) -> None:
    (tmp_path / "dev.json").write_text(content)
    with pytest.raises(StateError, match=r"the state file is unreadable .*Restore it from .*dev.json.backup"):
        LocalBackend(tmp_path / "dev.json").read()


def test_fingerprints_are_keyed_per_state() -> None:
    one, two = StackState.new("crm", "dev"), StackState.new("crm", "dev")
    secret = {"Salesforce": {"accessToken": "token-value"}}
    assert one.fingerprint(secret) == one.fingerprint({"Salesforce": {"accessToken": "token-value"}})
    assert one.fingerprint(secret) != two.fingerprint(secret)
    assert one.fingerprint(secret) != one.fingerprint({"Salesforce": {"accessToken": "other"}})
    assert "token-value" not in str(one.fingerprint(secret))
    assert one.fingerprint(None) is None


def test_recorder_writes_each_change(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "dev.json")
    recorder = StateRecorder(backend, StackState.new("crm", "dev"))
    recorder.record(_resource("a"))
    recorder.record(_resource("b"))
    recorder.forget("a")
    stored = backend.read()
    assert stored is not None and sorted(stored.resources) == ["b"] and stored.serial == 3
    assert (tmp_path / "dev.json").stat().st_mode & 0o777 == 0o600
