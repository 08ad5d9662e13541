from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deployer.errors import StackError
from deployer.lock import LocalLock, LockedError


def test_one_holder_at_a_time_and_release(tmp_path: Path) -> None:
    lock = LocalLock(tmp_path / "dev.json.lock")
    mine, taken_over = lock.acquire("deploy")
    assert taken_over is None and lock.holder() == mine
    with pytest.raises(LockedError) as raised:
        LocalLock(tmp_path / "dev.json.lock").acquire("destroy")
    assert raised.value.holder == mine
    lock.release(mine)
    assert lock.holder() is None


def test_waiting_gets_the_lock_when_the_holder_lets_go(tmp_path: Path) -> None:
    first = LocalLock(tmp_path / "l")
    held, _ = first.acquire("deploy")
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds
        first.release(held)  # the other run finishes while we wait

    waiting = LocalLock(tmp_path / "l", sleep=sleep, clock=lambda: now[0])
    mine, _ = waiting.acquire("deploy", timeout=30)
    assert waiting.holder() == mine and now[0] > 0


def test_waiting_gives_up_after_the_timeout(tmp_path: Path) -> None:
    LocalLock(tmp_path / "l").acquire("deploy")
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(LockedError, match=r"the stack is locked after waiting 10 s"):
        LocalLock(tmp_path / "l", sleep=sleep, clock=lambda: now[0]).acquire("deploy", timeout=10)


def test_a_dead_holder_is_taken_over_and_named(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "l").write_text(json.dumps({"lock_id": "x", "operation": "deploy", "user": "u", "pid": gone.pid,
                                            "host": socket.gethostname(), "started": "then"}))
    mine, taken_over = LocalLock(tmp_path / "l").acquire("deploy")
    assert taken_over is not None and taken_over.lock_id == "x" and mine.lock_id != "x"


def test_another_hosts_lock_is_never_taken_over(tmp_path: Path) -> None:
    (tmp_path / "l").write_text(json.dumps({"lock_id": "x", "operation": "deploy", "user": "u", "pid": 1,
                                            "host": "some-other-host", "started": "then"}))
    with pytest.raises(LockedError, match="held by u@some-other-host"):
        LocalLock(tmp_path / "l").acquire("deploy")


def test_force_unlock_needs_the_right_id(tmp_path: Path) -> None:
    lock = LocalLock(tmp_path / "l")
    held, _ = lock.acquire("deploy")
    with pytest.raises(StackError, match="the lock id does not match"):
        lock.force_unlock("wrong")
    assert lock.force_unlock(held.lock_id) == held
    with pytest.raises(StackError, match="the stack is not locked"):
        lock.force_unlock(held.lock_id)


def test_eight_processes_race_and_exactly_one_wins(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from deployer.lock import LocalLock, LockedError\n"
        "start = float(sys.argv[2])\n"
        "while time.time() < start: pass\n"
        "try:\n"
        "    LocalLock(Path(sys.argv[1])).acquire('deploy')\n"
        "    print('won')\n"
        "    time.sleep(1.0)\n"
        "except LockedError:\n"
        "    print('lost')\n"
    )
    for round_ in range(3):
        path = tmp_path / f"race-{round_}.lock"
        import time

        start = time.time() + 1.5
        runs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(start)], stdout=subprocess.PIPE,
                                 text=True) for _ in range(8)]
        outcomes = sorted(run.communicate(timeout=60)[0].strip() for run in runs)
        assert outcomes == ["lost"] * 7 + ["won"]
