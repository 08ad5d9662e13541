"""At most one deploy or destroy per stack and environment at a time.

The lock is a file beside the state (``<state>.lock``), created with O_EXCL so exactly
one run gets it. It records who holds it. A second run fails at once naming the
holder, or waits up to a timeout. A lock whose holder is provably gone (same host,
process no longer running) is taken over, and the caller is told whose it was.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from deployer.errors import StackError
from deployer.state import now


@dataclass(frozen=True)
class LockInfo:
    lock_id: str
    operation: str
    user: str
    host: str
    pid: int
    started: str

    def describe(self) -> str:
        return (f"lock {self.lock_id} held by {self.user}@{self.host} (pid {self.pid}) for {self.operation} "
                f"since {self.started}")


class LockedError(StackError):
    def __init__(self, holder: LockInfo, waited: float) -> None:
        waited_text = f" after waiting {waited:.0f} s" if waited >= 1 else ""
        super().__init__(f"the stack is locked{waited_text}: {holder.describe()}. Wait for it to finish, pass "
                         f"--lock-timeout SECONDS to wait, or, if that run is gone, `stack state unlock STACK_DIR "
                         f"{holder.lock_id}`")
        self.holder = holder


class LocalLock:
    def __init__(self, path: Path, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._sleep = sleep
        self._clock = clock

    def holder(self) -> LockInfo | None:
        try:
            return LockInfo(**json.loads(self.path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as error:
            raise StackError(f"{self.path}: the lock file is unreadable ({error}); if no run is going on, "
                             f"delete it") from None

    def acquire(self, operation: str, timeout: float = 0.0) -> tuple[LockInfo, LockInfo | None]:
        """Take the lock; returns it and, when a dead holder's lock was taken over, that holder."""
        mine = LockInfo(str(uuid.uuid4()), operation, _user(), socket.gethostname(), os.getpid(), now())
        start = self._clock()
        pause = 0.2
        taken_over: LockInfo | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            if self._create(mine):
                return mine, taken_over
            holder = self.holder()
            if holder is None:
                continue  # released between our two looks
            if _is_gone(holder) and self._remove_if_still(holder):
                taken_over = holder
                continue
            waited = self._clock() - start
            if waited >= timeout:
                raise LockedError(holder, waited)
            self._sleep(min(pause, max(timeout - waited, 0.01)))
            pause = min(pause * 2, 5.0)

    def release(self, lock: LockInfo) -> None:
        if self.holder() == lock:
            self.path.unlink(missing_ok=True)

    def force_unlock(self, lock_id: str) -> LockInfo:
        holder = self.holder()
        if holder is None:
            raise StackError(f"{self.path}: the stack is not locked")
        if holder.lock_id != lock_id:
            raise StackError(f"the lock id does not match: the stack is held by {holder.describe()}")
        self.path.unlink(missing_ok=True)
        return holder

    def _create(self, lock: LockInfo) -> bool:
        """Create the lock file with its content in one step: written aside, then hard-linked into place,
        which fails if the lock exists. Nobody ever sees a half-written lock."""
        aside = self.path.with_name(f".{self.path.name}.{lock.lock_id}")
        with open(aside, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(asdict(lock)))
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(aside, self.path)
        except FileExistsError:
            return False
        finally:
            aside.unlink()
        return True

    def _remove_if_still(self, holder: LockInfo) -> bool:
        """Remove a dead holder's lock, unless someone else got there first (only one rename wins)."""
        aside = self.path.with_name(f"{self.path.name}.stale-{uuid.uuid4().hex}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        try:
            moved = LockInfo(**json.loads(aside.read_text()))
        except (ValueError, TypeError):
            moved = None
        if moved != holder:  # a live run took the lock between our read and the rename: give it back
            try:
                os.link(aside, self.path)  # fails if yet another run holds the lock by now
            except FileExistsError:
                pass
            aside.unlink()
            return False
        aside.unlink()
        return True


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return str(os.getuid())


def _is_gone(holder: LockInfo) -> bool:
    if holder.host != socket.gethostname():
        return False  # cannot tell for another machine
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
