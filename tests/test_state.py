from __future__ import annotations

from pathlib import Path

from deployer.backends.local import LocalBackend
from deployer.state import ResourceState, StackState, StateRecorder


def _resource(name: str = "crm") -> ResourceState:
    return ResourceState(name=name, type="AWS::AppFlow::ConnectorProfile", identifier=f"{name}-profile",
                         region="us-east-1", arn=f"arn:aws:appflow:us-east-1:1:connectorprofile/{name}-profile",
                         applied={"connectionMode": "Public"}, credentials_fingerprint=None, exports={})


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
    recorder.record(_resource("a"), "created a")
    recorder.record(_resource("b"))
    recorder.forget("a", "deleted a")
    stored = backend.read()
    assert stored is not None and sorted(stored.resources) == ["b"] and stored.serial == 3
    assert [(e.serial, e.resource, e.event) for e in stored.history] == [(1, "a", "created a"), (3, "a", "deleted a")]
    assert (tmp_path / "dev.json").stat().st_mode & 0o777 == 0o600


def test_protected_values_match_without_being_stored() -> None:
    from deployer.secrets import SECRETS

    state = StackState.new("crm", "dev")
    SECRETS.add("arn:aws:kms:us-east-1:1:key/secret-key-id")
    stored = state.protect({"kmsArn": "arn:aws:kms:us-east-1:1:key/secret-key-id", "connectionMode": "Public"})
    assert stored["connectionMode"] == "Public" and "secret-key-id" not in stored["kmsArn"]
    assert state.matches(stored["kmsArn"], "arn:aws:kms:us-east-1:1:key/secret-key-id")
    assert not state.matches(stored["kmsArn"], "arn:aws:kms:us-east-1:1:key/other")
