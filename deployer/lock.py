"""At most one deploy or destroy per stack and environment at a time.

A lock is an object beside the state, created only if it does not exist yet (a file
created by hard link, an S3 object written with ``If-None-Match: *``), so exactly one
run gets it. It records who holds it. A second run fails at once naming the holder, or
waits up to a timeout. A lock whose holder is provably gone (same host, process no
longer running) is taken over, and the caller is told whose it was. Each backend
provides a ``LockStore``; the waiting and take-over logic here is shared.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

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
    """``unlock``: the command that releases the lock, as the user would type it (the engine knows the stack
    directory and options; without it the message names the lock id only)."""

    def __init__(self, holder: LockInfo, waited: float, *, unlock: str = "") -> None:
        waited_text = f" after waiting {waited:.0f} s" if waited >= 1 else ""
        release = unlock or f"`stack state unlock` with the stack's directory and lock id {holder.lock_id}"
        super().__init__(f"the stack is locked{waited_text}: {holder.describe()}. Wait for it to finish, pass "
                         f"--lock-timeout SECONDS to wait, or, if that run is gone, release it with {release}")
        self.holder = holder
        self.waited = waited


class LockStore(Protocol):
    """Where a backend keeps its lock."""

    def create(self, lock: LockInfo) -> bool:
        """Create the lock if there is none; False if there is one."""
        ...

    def holder(self) -> LockInfo | None: ...

    def remove_if_held_by(self, holder: LockInfo) -> bool:
        """Remove the lock only if it is still ``holder``'s; False if it is not (or is gone)."""
        ...


def new_lock(operation: str) -> LockInfo:
    return LockInfo(str(uuid.uuid4()), operation, _user(), socket.gethostname(), os.getpid(), now())


def acquire(store: LockStore, operation: str, timeout: float = 0.0, *,
            sleep: Callable[[float], None] = time.sleep,
            clock: Callable[[], float] = time.monotonic) -> tuple[LockInfo, LockInfo | None]:
    """Take the lock; returns it and, when a dead holder's lock was taken over, that holder."""
    mine = new_lock(operation)
    start = clock()
    pause = 0.2
    taken_over: LockInfo | None = None
    while True:
        if store.create(mine):
            return mine, taken_over
        holder = store.holder()
        if holder is None:
            continue  # released between our two looks
        if is_gone(holder) and store.remove_if_held_by(holder):
            taken_over = holder
            continue
        waited = clock() - start
        if waited >= timeout:
            raise LockedError(holder, waited)
        sleep(min(pause, max(timeout - waited, 0.01)))
        pause = min(pause * 2, 5.0)


def release(store: LockStore, lock: LockInfo) -> None:
    store.remove_if_held_by(lock)


def force_unlock(store: LockStore, lock_id: str) -> LockInfo:
    holder = store.holder()
    if holder is None:
        raise StackError("the stack is not locked")
    if holder.lock_id != lock_id:
        raise StackError(f"the lock id does not match: the stack is held by {holder.describe()}")
    store.remove_if_held_by(holder)
    return holder


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return str(os.getuid())


def is_gone(holder: LockInfo) -> bool:
    """Provably gone: on this host, and no process with its pid. Another host's holder never is."""
    if holder.host != socket.gethostname():
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
