"""State in a local file, with its lock beside it.

The file is written atomically (a temporary file, fsync, rename) and the previous
version is kept as ``<file>.backup``. The lock is ``<file>.lock``, created by a hard
link so that nobody ever sees a half-written lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from dataclasses import asdict
from pathlib import Path

from deployer.errors import StackError, StateError
from deployer.lock import LockInfo
from deployer.state import StackState, next_version


class LocalBackend:
    """State in a local JSON file; the previous version is kept as ``<file>.backup``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = LocalLockStore(path.with_name(path.name + ".lock"))
        self._last: StackState | None = None  # what this backend wrote last, and the file's stat after it
        self._last_stat: tuple[int, int, int] | None = None

    @property
    def location(self) -> str:
        return str(self.path)

    def read(self) -> StackState | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StateError(f"{self.path}: cannot read the state file: {error.strerror}") from None
        return StackState.from_json(text, str(self.path))

    def write(self, state: StackState, *, force: bool = False) -> StackState:
        """Write ``state`` with the next serial, atomically; returns what was written."""
        current = self._last if self._unchanged_since_last_write() else self.read()
        written = next_version(current, state, self.location, force=force)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            # the current file becomes the backup by a second name: no copy, and the new one replaces it atomically
            backup = self.path.with_name(self.path.name + ".backup")
            linked = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.backup")
            os.link(self.path, linked)
            os.replace(linked, backup)
        _atomic_write(self.path, written.to_json().encode())
        self._last, self._last_stat = written, _stat(self.path)
        return written

    def _unchanged_since_last_write(self) -> bool:
        return self._last is not None and self._last_stat == _stat(self.path)


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def _atomic_write(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise




class LocalLockStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def create(self, lock: LockInfo) -> bool:
        """Written aside, then hard-linked into place, which fails if the lock exists."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
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

    def holder(self) -> LockInfo | None:
        try:
            return LockInfo(**json.loads(self.path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as error:
            raise StackError(f"{self.path}: the lock file is unreadable ({error}); if no run is going on, "
                             "delete it") from None

    def remove_if_held_by(self, holder: LockInfo) -> bool:
        """Only one rename of the file wins; if it turns out to hold someone else's lock, it goes back."""
        aside = self.path.with_name(f"{self.path.name}.removing-{uuid.uuid4().hex}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        try:
            moved: LockInfo | None = LockInfo(**json.loads(aside.read_text()))
        except (ValueError, TypeError):
            moved = None
        if moved != holder:
            with contextlib.suppress(FileExistsError):  # yet another run may hold the lock by now
                os.link(aside, self.path)
            aside.unlink()
            return False
        aside.unlink()
        return True
