"""The local file backend against the conformance suite."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from deployer.backends import StateBackend
from deployer.backends.local import LocalBackend
from deployer.lock import LockInfo
from deployer.state import StackState
from tests.backends.conformance import Conformance, race


def race_backend(location: str, number: int) -> LocalBackend:
    return LocalBackend(Path(location) / f"race-{number}.json")


class TestLocalBackend(Conformance):
    @pytest.fixture(autouse=True)
    def _place(self, tmp_path: Path) -> None:
        self.path = tmp_path / "state" / "dev.json"

    def make(self) -> StateBackend:
        return LocalBackend(self.path)

    def corrupt(self, backend: StateBackend, data: bytes) -> None:
        self.path.write_bytes(data)

    def replace_lock(self, backend: StateBackend, lock: LockInfo) -> None:
        (self.path.parent / "dev.json.lock").write_text(json.dumps(asdict(lock)))

    def test_the_previous_version_is_kept_as_backup(self) -> None:
        backend = self.make()
        first = backend.write(StackState.new("crm", "dev"))
        backend.write(first)
        assert json.loads((self.path.parent / "dev.json.backup").read_text())["serial"] == 1
        assert self.path.stat().st_mode & 0o777 == 0o600


def test_eight_processes_race_for_the_lock_and_exactly_one_wins_each_round(tmp_path: Path) -> None:
    rounds = race("tests.backends.test_local", str(tmp_path))
    assert rounds == [["lost"] * 7 + ["won"]] * 20
