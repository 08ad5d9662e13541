"""The rules every state backend follows, written once (Terraform's statemgr TestFull, in spirit).

A backend's test module subclasses ``Conformance`` and provides ``make`` (a backend for
one stack and environment; two calls give two runs' views of the same state) and
``corrupt`` (replace the stored state with unreadable bytes).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import replace
from typing import Any

import pytest

from deployer.backends import StateBackend
from deployer.errors import StackError, StateError
from deployer.lock import LockedError, acquire, force_unlock, release
from deployer.state import ResourceState, StackState


def resource(name: str) -> ResourceState:
    return ResourceState(name=name, type="AWS::AppFlow::ConnectorProfile", identifier=f"{name}-profile",
                         region="us-east-1", arn=f"arn:aws:appflow:us-east-1:1:connectorprofile/{name}-profile",
                         applied={"connectionMode": "Public"}, credentials_fingerprint="hmac-sha256:x", exports={})


class Conformance:
    def make(self) -> StateBackend:
        raise NotImplementedError  # each backend's test module provides it

    def corrupt(self, backend: StateBackend, data: bytes) -> None:
        raise NotImplementedError

    def test_nothing_stored_reads_as_none(self) -> None:
        assert self.make().read() is None

    def test_round_trip_with_growing_serial(self) -> None:
        backend = self.make()
        first = backend.write(replace(StackState.new("crm", "dev"), resources={"a": resource("a")}))
        assert first.serial == 1
        second = backend.write(replace(first, resources={**first.resources, "b": resource("b")}))
        assert second.serial == 2
        assert self.make().read() == second

    def test_another_lineage_is_refused(self) -> None:
        backend = self.make()
        backend.write(StackState.new("crm", "dev"))
        with pytest.raises(StateError, match="belongs to another lineage"):
            self.make().write(StackState.new("crm", "dev"))

    def test_an_older_serial_is_refused(self) -> None:
        backend = self.make()
        first = backend.write(StackState.new("crm", "dev"))
        backend.write(first)
        other = self.make()
        other.read()
        with pytest.raises(StateError):
            other.write(replace(first, serial=0))

    def test_a_lost_race_is_refused_not_overwritten(self) -> None:
        one, two = self.make(), self.make()
        base = one.write(StackState.new("crm", "dev"))
        assert two.read() == base
        one.write(replace(base, resources={"a": resource("a")}))
        with pytest.raises(StateError, match="run the command again|Run the command again"):
            two.write(replace(base, resources={"b": resource("b")}))
        stored = self.make().read()
        assert stored is not None and sorted(stored.resources) == ["a"]

    def test_unreadable_state_says_how_to_recover(self) -> None:
        backend = self.make()
        backend.write(StackState.new("crm", "dev"))
        self.corrupt(backend, b'{"version": 1, "stack": "cr')
        with pytest.raises(StateError, match="the state file is unreadable"):
            self.make().read()

    def test_no_secret_in_what_is_stored(self) -> None:
        state = StackState.new("crm", "dev")
        backend = self.make()
        backend.write(replace(state, resources={"a": replace(resource("a"),
                                                               credentials_fingerprint=state.fingerprint("pw-1234"))}))
        assert "pw-1234" not in json.dumps(self.stored_text(backend))

    def stored_text(self, backend: StateBackend) -> str:
        stored = self.make().read()
        return stored.to_json() if stored else ""

    # the lock

    def test_one_lock_holder_at_a_time(self) -> None:
        backend = self.make()
        mine, taken_over = acquire(backend.lock, "deploy")
        assert taken_over is None and backend.lock.holder() == mine
        with pytest.raises(LockedError) as raised:
            acquire(self.make().lock, "destroy")
        assert raised.value.holder == mine
        release(backend.lock, mine)
        assert self.make().lock.holder() is None
        again, _ = acquire(self.make().lock, "deploy")
        assert again.lock_id != mine.lock_id

    def test_release_removes_only_our_own_lock(self) -> None:
        backend = self.make()
        mine, _ = acquire(backend.lock, "deploy")
        force_unlock(self.make().lock, mine.lock_id)
        theirs, _ = acquire(self.make().lock, "deploy")
        release(backend.lock, mine)  # ours is gone already; theirs must stay
        assert self.make().lock.holder() == theirs

    def test_waiting_for_the_lock(self) -> None:
        backend = self.make()
        held, _ = acquire(backend.lock, "deploy")
        now = [0.0]

        def sleep(seconds: float) -> None:
            now[0] += seconds
            if now[0] > 3:
                release(backend.lock, held)  # the other run finishes while we wait

        mine, _ = acquire(self.make().lock, "deploy", timeout=60, sleep=sleep, clock=lambda: now[0])
        assert self.make().lock.holder() == mine and now[0] > 3

    def test_waiting_gives_up_at_the_timeout(self) -> None:
        acquire(self.make().lock, "deploy")
        now = [0.0]

        def sleep(seconds: float) -> None:
            now[0] += seconds

        with pytest.raises(LockedError, match="after waiting 10 s"):
            acquire(self.make().lock, "deploy", timeout=10, sleep=sleep, clock=lambda: now[0])

    def test_a_dead_holders_lock_is_taken_over(self) -> None:
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        backend = self.make()
        acquire(backend.lock, "deploy")
        dead = replace(backend.lock.holder(), pid=gone.pid, lock_id="dead-run")  # type: ignore[arg-type]
        self.replace_lock(backend, dead)
        mine, taken_over = acquire(self.make().lock, "deploy")
        assert taken_over == dead and self.make().lock.holder() == mine

    def test_another_hosts_lock_is_never_taken_over(self) -> None:
        backend = self.make()
        acquire(backend.lock, "deploy")
        elsewhere = replace(backend.lock.holder(), host=f"not-{socket.gethostname()}", pid=1)  # type: ignore[arg-type]
        self.replace_lock(backend, elsewhere)
        with pytest.raises(LockedError, match=f"held by .*@not-{socket.gethostname()}"):
            acquire(self.make().lock, "deploy")

    def test_force_unlock_needs_the_right_id(self) -> None:
        held, _ = acquire(self.make().lock, "deploy")
        with pytest.raises(StackError, match="the lock id does not match"):
            force_unlock(self.make().lock, "wrong")
        assert force_unlock(self.make().lock, held.lock_id) == held
        with pytest.raises(StackError, match="the stack is not locked"):
            force_unlock(self.make().lock, held.lock_id)

    def replace_lock(self, backend: StateBackend, lock: Any) -> None:
        raise NotImplementedError


RACE_SCRIPT = """\
import json, sys, time
from deployer.lock import LockedError, acquire
sys.path.insert(0, {root!r})
from {module} import race_backend
rounds, start, spacing = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
results = []
for number in range(rounds):
    backend = race_backend(sys.argv[4], number)
    while time.time() < start + number * spacing:
        pass
    try:
        acquire(backend.lock, "deploy")
        results.append("won")
    except LockedError:
        results.append("lost")
print(json.dumps(results), flush=True)
# stay alive until every process is done: a winner that exited would leave a stale lock a late racer may take over
while time.time() < start + rounds * spacing + 5:
    time.sleep(0.05)
"""


def race(module: str, location: str, rounds: int = 20, processes: int = 8) -> list[list[str]]:
    """``processes`` processes race for the same lock in each of ``rounds`` rounds; per round, the outcomes."""
    import time
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent.parent)
    script = RACE_SCRIPT.format(root=root, module=module)
    start = time.time() + 2.0
    runs = [subprocess.Popen([sys.executable, "-c", script, str(rounds), str(start), "0.15", location],
                             stdout=subprocess.PIPE, text=True, cwd=root) for _ in range(processes)]
    per_process = [json.loads(run.communicate(timeout=120)[0]) for run in runs]
    return [sorted(outcomes[number] for outcomes in per_process) for number in range(rounds)]
