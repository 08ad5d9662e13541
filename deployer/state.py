"""State: what this stack, in one environment, has made in AWS.

``StackState`` is a value: per resource its identifier, ARN, the last applied
non-secret request, a keyed fingerprint of its credentials (never the values), its
exports and timestamps; per file a lineage id and a serial that grows with every
write, pending intents and a short history. Backends (``deployer.backends``) read and
write it; ``StateRecorder`` is how apply records each result as soon as it happens.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from deployer.errors import StateError
from deployer.secrets import SECRETS, SENSITIVE

if TYPE_CHECKING:
    from deployer.backends import StateBackend

STATE_VERSION = 1


@dataclass(frozen=True)
class ResourceState:
    name: str
    type: str
    identifier: str
    region: str
    arn: str
    applied: dict[str, Any]  # the last applied request, credentials removed
    credentials_fingerprint: str | None
    exports: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    retain: bool = False
    prevent_destroy: bool = False
    created_at: str = ""
    updated_at: str = ""


@dataclass(frozen=True)
class Intent:
    """A mutating call about to be made: written before the call, cleared after its result is recorded.

    After a crash, an intent left behind says which call may or may not have happened.
    """

    resource: str
    operation: str  # create | update | delete
    identifier: str
    region: str
    client_token: str
    applied: dict[str, Any] = field(default_factory=dict)  # the request, credentials removed
    credentials_fingerprint: str | None = None
    depends_on: tuple[str, ...] = ()
    retain: bool = False
    prevent_destroy: bool = False
    started: str = ""


@dataclass(frozen=True)
class Event:
    """One line of history: what was done to a resource, when, by which state serial."""

    serial: int
    time: str
    resource: str
    event: str


HISTORY_LENGTH = 200


@dataclass(frozen=True)
class StackState:
    stack: str
    env: str
    lineage: str
    serial: int = 0
    fingerprint_key: str = field(default="", repr=False)
    resources: dict[str, ResourceState] = field(default_factory=dict)
    pending: dict[str, Intent] = field(default_factory=dict)
    history: tuple[Event, ...] = ()
    # the last deploy: digest of what it was made from, Git commit, time, failed resources, and for a
    # promotion the environment, digest and commit it was promoted from
    deployment: dict[str, Any] = field(default_factory=dict)

    def with_event(self, resource: str, event: str) -> StackState:
        entry = Event(self.serial + 1, now(), resource, event)
        return replace(self, history=(*self.history, entry)[-HISTORY_LENGTH:])

    def renamed(self, old: str, new: str) -> StackState:
        """The state with resource ``old`` recorded as ``new`` (and dependencies on it renamed); AWS is untouched."""
        def rename(resource: ResourceState) -> ResourceState:
            return replace(resource, name=new if resource.name == old else resource.name,
                           depends_on=tuple(sorted(new if d == old else d for d in resource.depends_on)))

        resources = {(new if name == old else name): rename(r) for name, r in self.resources.items()}
        return replace(self, resources=resources).with_event(new, f"moved from {old}")

    @classmethod
    def new(cls, stack: str, env: str) -> StackState:
        return cls(stack=stack, env=env, lineage=str(uuid.uuid4()), fingerprint_key=secrets.token_hex(32))

    def fingerprint(self, value: Any) -> str | None:
        """A keyed fingerprint (HMAC-SHA256) of a secret value: shows a change, cannot give the value back."""
        if value is None:
            return None
        canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
        digest = hmac.new(bytes.fromhex(self.fingerprint_key), canonical.encode(), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest}"

    def protect(self, value: Any) -> Any:
        """``value`` with every registered secret replaced by its fingerprint, for storing."""
        if isinstance(value, dict):
            return {k: self.protect(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.protect(v) for v in value]
        if isinstance(value, str) and value in SECRETS:
            return f"{SENSITIVE} {self.fingerprint(value)}"
        return value

    def matches(self, stored: Any, value: Any) -> bool:
        """Whether a stored (possibly protected) value is ``value``."""
        return stored == value or (isinstance(stored, str) and stored == f"{SENSITIVE} {self.fingerprint(value)}")

    def exports(self) -> dict[str, dict[str, Any]]:
        return {name: dict(resource.exports) for name, resource in self.resources.items()}

    def to_json(self) -> str:
        """JSON with one line per resource, intent and event: readable in a diff, and fast to write
        (the C encoder, which ``indent`` would turn off, does each line)."""
        def compact(value: Any) -> str:
            return json.dumps(value, separators=(", ", ": "), default=str)

        def mapping(items: dict[str, Any]) -> str:
            if not items:
                return "{}"
            return "{\n" + ",\n".join(f"    {compact(k)}: {compact(v)}" for k, v in sorted(items.items())) + "\n  }"

        head = {"version": STATE_VERSION, "stack": self.stack, "env": self.env, "lineage": self.lineage,
                "serial": self.serial, "fingerprint_key": self.fingerprint_key}
        lines = [f"  {compact(k)}: {compact(v)}" for k, v in head.items()]
        lines.append(f'  "resources": {mapping({n: vars(r) for n, r in self.resources.items()})}')
        lines.append(f'  "pending": {mapping({n: vars(i) for n, i in self.pending.items()})}')
        lines.append(f'  "deployment": {compact(self.deployment)}')
        events = ",\n".join(f"    {compact(vars(e))}" for e in self.history)
        lines.append(f'  "history": [\n{events}\n  ]' if events else '  "history": []')
        return "{\n" + ",\n".join(lines) + "\n}\n"

    @classmethod
    def from_json(cls, text: str, source: str) -> StackState:
        try:
            data = json.loads(text)
            if data.get("version") != STATE_VERSION:
                raise StateError(f"{source}: state version {data.get('version')!r} is not supported by this stack")
            resources = {
                name: ResourceState(**{**item, "depends_on": tuple(item.get("depends_on", ()))})
                for name, item in data["resources"].items()
            }
            pending = {
                name: Intent(**{**item, "depends_on": tuple(item.get("depends_on", ()))})
                for name, item in data.get("pending", {}).items()
            }
            history = tuple(Event(**item) for item in data.get("history", []))
            return cls(data["stack"], data["env"], data["lineage"], int(data["serial"]), data["fingerprint_key"],
                       resources, pending, history, dict(data.get("deployment") or {}))
        except StateError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise StateError(
                f"{source}: the state file is unreadable ({type(error).__name__}: {error}); nothing was changed. "
                f"Restore it from {source}.backup (the version before the last write) or from version control"
            ) from None


def next_version(current: StackState | None, state: StackState, location: str, *, force: bool = False
                 ) -> StackState:
    """What a backend writes over ``current``: ``state`` with the next serial. The rules every backend
    follows: the same lineage, a serial not behind the stored one; ``force`` (state push) takes over both."""
    if force and current is not None:
        state = replace(state, lineage=current.lineage, serial=max(state.serial, current.serial))
    if current is not None and current.lineage != state.lineage:
        raise StateError(f"{location}: the state belongs to another lineage ({current.lineage}); "
                         "refusing to overwrite it")
    if current is not None and current.serial > state.serial:
        raise StateError(f"{location}: the state was changed by another run (serial {current.serial}, "
                         f"ours {state.serial}); run the command again")
    return replace(state, serial=state.serial + 1)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class StateRecorder:
    """Holds the current state during apply and writes it after every change (thread-safe).

    ``begin`` records an intent before a mutating call; ``record``, ``forget`` and ``settle`` clear it.
    Each returns once its change is stored. Changes that workers make while a write is under way are
    stored together by the next write (group commit): one write can carry many workers' changes,
    and none returns before its own change is durable.
    """

    def __init__(self, backend: StateBackend, state: StackState) -> None:
        self._backend = backend
        self._lock = threading.Lock()  # guards the in-memory state and the counters
        self._writing = threading.Lock()  # one write at a time
        self._changes = 0
        self._stored = 0
        self.state = state

    def _change(self, change: Callable[[StackState], StackState | None]) -> None:
        with self._lock:
            changed = change(self.state)
            if changed is None:
                return
            self.state = changed
            self._changes += 1
            mine = self._changes
        with self._writing:
            if self._stored >= mine:
                return  # an earlier write already carried this change
            with self._lock:
                snapshot, upto = self.state, self._changes
            written = self._backend.write(snapshot)
            with self._lock:
                self.state = replace(self.state, serial=written.serial)
                self._stored = upto

    def begin(self, intent: Intent) -> None:
        self._change(lambda state: replace(state, pending={**state.pending, intent.resource: intent}))

    def record(self, resource: ResourceState, event: str = "") -> None:
        def change(state: StackState) -> StackState:
            pending = {k: v for k, v in state.pending.items() if k != resource.name}
            changed = replace(state, resources={**state.resources, resource.name: resource}, pending=pending)
            return changed.with_event(resource.name, event) if event else changed

        self._change(change)

    def forget(self, name: str, event: str = "") -> None:
        def change(state: StackState) -> StackState:
            resources = {k: v for k, v in state.resources.items() if k != name}
            pending = {k: v for k, v in state.pending.items() if k != name}
            changed = replace(state, resources=resources, pending=pending)
            return changed.with_event(name, event) if event else changed

        self._change(change)

    def settle(self, name: str) -> None:
        """The call failed with an answer from AWS, so it did nothing: the intent goes."""
        self._change(lambda state: replace(state, pending={k: v for k, v in state.pending.items() if k != name})
                     if name in state.pending else None)

    def move(self, moves: tuple[tuple[str, str], ...]) -> None:
        """Rename resources in state, all in one write."""
        def change(state: StackState) -> StackState:
            for old, new in moves:
                state = state.renamed(old, new)
            return state

        if moves:
            self._change(change)

    def note_deployment(self, deployment: dict[str, Any]) -> None:
        self._change(lambda state: replace(state, deployment=deployment))
