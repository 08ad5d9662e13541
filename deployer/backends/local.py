"""State in a local file, with its lock beside it.

The file is written atomically (a temporary file, fsync, rename) and the previous
version is kept as ``<file>.backup``; a write that fails leaves the file as it was. A
backup without its state file stops every command (``stack state restore`` puts it
back) rather than starting a new lineage. The lock is ``<file>.lock``, created by a
hard link so that nobody ever sees a half-written lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from deployer.errors import StackError, StateError
from deployer.lock import LockInfo
from deployer.state import MAX_STATE_BYTES, StackState, next_version


class LocalBackend:
    """State in a local JSON file; the previous version is kept as ``<file>.backup``."""

    def __init__(self, path: Path, *, restore_command: str = "") -> None:
        self.path = path
        # how the user restores this state (the engine knows the stack directory and options)
        self.restore_command = restore_command or ("`stack state restore` with the stack's directory and this run's "
                                                   "--env, --state or --local")
        self.lock = LocalLockStore(path.with_name(path.name + ".lock"))
        self._last: StackState | None = None  # what this backend wrote last, and the file's stat after it
        self._last_stat: tuple[int, int, int] | None = None

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def backup(self) -> Path:
        return self.path.with_name(self.path.name + ".backup")

    def read(self) -> StackState | None:
        """The state; None when there is none and never was (a backup without its state file is an error:
        starting a new lineage there would lose track of what the old one owns in AWS)."""
        try:
            data = _read_bounded(self.path)
        except FileNotFoundError:
            if os.path.lexists(self.backup):
                raise StateError(self._missing_message()) from None
            return None
        except OSError as error:
            raise StateError(f"{self.path}: cannot read the state file: {error.strerror}") from None
        return StackState.from_json(data, str(self.path), recovery=self._recovery())

    def _recovery(self) -> str:
        if not os.path.lexists(self.backup):
            return (f"There is no {self.backup.name} beside it: restore it from version control, or mend it by hand "
                    "(deployer/data/state.schema.json describes the format)")
        return (f"Restore it from {self.backup} (the version before the last write): {self.restore_command} "
                "(the unreadable file is kept beside it), or from version control")

    def _missing_message(self) -> str:
        try:
            kept = StackState.from_json(_read_bounded(self.backup), str(self.backup))
            what = f"serial {kept.serial}, lineage {kept.lineage}"
        except (OSError, StateError):
            what = "unreadable"
        return (f"{self.path} is missing but {self.backup} is there ({what}): the state file was deleted or moved, "
                "and a new state would lose track of what the stack owns in AWS, so nothing was done. Restore it: "
                f"{self.restore_command}; to start a new state on purpose, delete {self.backup} too")

    def write(self, state: StackState, *, force: bool = False) -> StackState:
        """Write ``state`` with the next serial, atomically; returns what was written. A write that fails
        leaves the file as it was and no temporary file, and raises a StateError with the OS's reason."""
        fresh = not self._unchanged_since_last_write()
        current = self.read() if fresh else self._last
        written = next_version(current, state, self.location, force=force)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if current is not None:
                self._keep_as_backup(current.lineage, check=fresh)
            _atomic_write(self.path, written.to_json().encode())
        except OSError as error:
            culprit = error.filename2 or error.filename  # of a rename, the destination: the temporary name is gone
            where = f" ({culprit})" if culprit and str(culprit) != str(self.path) else ""
            before = f"it still holds serial {current.serial}" if current is not None else "nothing was written"
            raise StateError(f"{self.path}: cannot write the state: {error.strerror or error}{where}; {before}. "
                             "Make room or fix the cause, then run the command again: it carries on from the "
                             "stored state and its intent journal") from None
        self._last, self._last_stat = written, _stat(self.path)
        return written

    def _keep_as_backup(self, lineage: str, *, check: bool) -> None:
        """The current file becomes the backup by a second name: no copy, and the new one replaces it atomically.

        A backup of another lineage (a state file swapped by hand) is never overwritten: it is kept as
        ``<file>.backup-LINEAGE``. ``check`` is False when this backend wrote the backup itself.
        """
        if check and self.backup.is_file():
            kept = _lineage_of(self.backup)
            if kept != lineage:
                _link_anew(self.backup, self.backup.with_name(f"{self.backup.name}-{kept}"))
        linked = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.backup")
        os.link(self.path, linked)
        try:
            os.replace(linked, self.backup)
        finally:
            linked.unlink(missing_ok=True)

    def restore(self, *, stack: str, env: str, force: bool = False) -> tuple[StackState, str | None]:
        """Put ``<file>.backup`` in place of a missing or unreadable state file (with ``force``, of a readable one
        too); the file it replaces is kept beside it. Returns the restored state and where the old file went."""
        try:
            data = _read_bounded(self.backup)
        except FileNotFoundError:
            raise StateError(f"there is no {self.backup} to restore {self.path} from") from None
        except OSError as error:
            raise StateError(f"{self.backup}: cannot read the backup: {error.strerror}") from None
        restored = StackState.from_json(data, str(self.backup),
                                        recovery="Restore the state from version control instead")
        if (restored.stack, restored.env) != (stack, env):
            raise StateError(f"{self.backup} is the state of stack '{restored.stack}' environment '{restored.env}', "
                             f"not '{stack}' '{env}'; nothing was restored")
        kept: str | None = None
        if os.path.lexists(self.path):
            try:
                current = self.read()
            except StateError:
                current = None  # unreadable: nothing of value is replaced, and it is kept anyway
            if current is not None and not force:
                raise StateError(f"{self.path} holds a readable state (serial {current.serial}); restore only "
                                 f"replaces a missing or unreadable one. To go back to {self.backup.name} (serial "
                                 f"{restored.serial}) anyway, pass --force (the current file is kept beside it)")
            aside = _free_name(self.path, "replaced" if current is not None else "unreadable")
            try:
                os.rename(self.path, aside)
            except OSError as error:
                raise StateError(f"{self.path}: cannot move it aside: {error.strerror}; nothing was restored") from None
            kept = str(aside)
        try:
            _atomic_write(self.path, data)
        except OSError as error:
            raise StateError(f"{self.path}: cannot write the state: {error.strerror}; nothing was restored"
                             + (f" (the old file is {kept})" if kept else "")) from None
        self._last = self._last_stat = None
        return restored, kept

    def _unchanged_since_last_write(self) -> bool:
        return self._last is not None and self._last_stat == _stat(self.path)


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, but never more than one past the largest state (``from_json`` reports the excess)."""
    with open(path, "rb") as stream:
        return stream.read(MAX_STATE_BYTES + 1)


def _lineage_of(path: Path) -> str:
    """The lineage recorded in a state file; ``unreadable`` when there is none to be found."""
    try:
        return str(StackState.from_json(_read_bounded(path), str(path)).lineage)
    except (OSError, StateError):
        return "unreadable"


def _link_anew(source: Path, target: Path) -> None:
    """A second name for ``source``, ``target`` or, when that is taken, a fresh variant of it."""
    try:
        os.link(source, target)
    except FileExistsError:
        os.link(source, target.with_name(f"{target.name}-{uuid.uuid4().hex[:8]}"))


def _free_name(path: Path, tag: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    candidate = path.with_name(f"{path.name}.{tag}-{stamp}")
    while os.path.lexists(candidate):
        candidate = path.with_name(f"{path.name}.{tag}-{stamp}-{uuid.uuid4().hex[:8]}")
    return candidate


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
