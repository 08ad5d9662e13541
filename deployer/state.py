"""State: what this stack, in one environment, has made in AWS.

``StackState`` is a value: per resource its identifier, ARN, the last applied
non-secret request, a keyed fingerprint of its credentials (never the values), its
exports and timestamps; per file a lineage id and a serial that grows with every
write, pending intents and a short history. Backends (``deployer.backends``) read and
write it; ``StateRecorder`` is how apply records each result as soon as it happens. What is
read is trusted only once it matches ``data/state.schema.json`` (``StackState.from_json``).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib import resources as package_files
from typing import TYPE_CHECKING, Any

import jsonschema

from deployer.errors import StateError
from deployer.secrets import SECRETS, SENSITIVE

if TYPE_CHECKING:
    from deployer.backends import StateBackend

STATE_VERSION = 1
# Far above any real state (a profile is about 1 KiB, history is capped): a bigger file is not a state, and
# reading it whole could exhaust memory. Backends read at most one byte more than this.
MAX_STATE_BYTES = 64 * 1024 * 1024
MAX_NESTING = 64  # levels of JSON; a state needs about 10, and code that walks values recurses


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
    type: str = "AWS::AppFlow::ConnectorProfile"
    request_token: str = ""  # a Cloud Control request's, once AWS has answered the call


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
    # the stack's outputs at its last apply: name -> {value, description, sensitive, export}; a sensitive value
    # (or one computed from a secret) is kept as a fingerprint, never in clear
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

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
        if self.outputs:
            lines.append(f'  "outputs": {mapping(self.outputs)}')
        events = ",\n".join(f"    {compact(vars(e))}" for e in self.history)
        lines.append(f'  "history": [\n{events}\n  ]' if events else '  "history": []')
        return "{\n" + ",\n".join(lines) + "\n}\n"

    @classmethod
    def from_json(cls, data: str | bytes, source: str, *, recovery: str = "") -> StackState:
        """The state stored as ``data``, checked against ``data/state.schema.json``.

        Anything else (not UTF-8, not JSON, too big, too deep, or a document that does not match) is a
        StateError naming the first problem and its JSON path, then ``recovery``: how to get a good state
        back, which only the backend knows (a ``.backup`` file, an earlier S3 object version).
        """
        def unreadable(why: str) -> StateError:
            advice = f" {recovery}" if recovery else ""
            return StateError(f"{source}: the state file is unreadable ({why}); nothing was changed.{advice}")

        if len(data) > MAX_STATE_BYTES:
            raise unreadable(f"it is larger than {MAX_STATE_BYTES // 2**20} MiB, so it is not a state")
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            document = json.loads(text)
        except UnicodeDecodeError as error:
            raise unreadable(f"not UTF-8 text: byte 0x{error.object[error.start]:02x} at offset {error.start}"
                             ) from None
        except RecursionError:
            raise unreadable("JSON nested too deeply") from None
        except ValueError as error:
            raise unreadable(f"{type(error).__name__}: {error}") from None
        version = document.get("version") if isinstance(document, dict) else None
        if isinstance(version, int) and not isinstance(version, bool) and version != STATE_VERSION:
            raise StateError(f"{source}: state version {version} is not supported by this version of stack; "
                             "nothing was changed. Use the version of stack that wrote it")
        problem = _first_problem(document)
        if problem:
            raise unreadable(problem)
        resources = {
            name: ResourceState(**{**item, "depends_on": tuple(item.get("depends_on", ()))})
            for name, item in document["resources"].items()
        }
        pending = {
            name: Intent(**{**item, "depends_on": tuple(item.get("depends_on", ()))})
            for name, item in document.get("pending", {}).items()
        }
        history = tuple(Event(**item) for item in document.get("history", []))
        return cls(document["stack"], document["env"], document["lineage"], int(document["serial"]),
                   document["fingerprint_key"], resources, pending, history, dict(document.get("deployment") or {}),
                   dict(document.get("outputs") or {}))


@functools.lru_cache(maxsize=1)
def state_schema() -> dict[str, Any]:
    """The JSON Schema of a state file: what ``StackState.to_json`` writes, and all ``from_json`` accepts."""
    return dict(json.loads(package_files.files("deployer").joinpath("data/state.schema.json").read_text()))


def _first_problem(document: Any) -> str | None:
    """What is wrong with a parsed state document, at its JSON path; None when it is a state."""
    odd = _odd_value(document)
    if odd is not None:
        return odd
    errors = sorted(jsonschema.Draft202012Validator(state_schema()).iter_errors(document),
                    key=lambda e: [str(part) for part in e.absolute_path])
    if errors:
        first = errors[0]
        path = tuple(first.absolute_path)
        # the message quotes the bad value; the fingerprint key is never shown (state show hides it too)
        message = ("is not 64 lowercase hexadecimal digits" if path == ("fingerprint_key",)
                   else _shortened(first.message))
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        return f"{_json_path(path)}: {message}{more}"
    for section, member in (("resources", "name"), ("pending", "resource")):
        for key, item in document.get(section, {}).items():
            if item[member] != key:
                return f"{_json_path((section, key, member))}: {item[member]!r} differs from its key {key!r}"
    return None


def _odd_value(document: Any) -> str | None:
    """What JSON allows but no state holds, and code that walks values cannot take: nesting deeper than
    ``MAX_NESTING`` (it recurses), numbers that are not finite (``1e400``, ``NaN``). Found without recursing."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_NESTING:
            return f"{_json_path(path[:8])}...: nested deeper than {MAX_NESTING} levels"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{_json_path(path)}: {value} is not a finite number"
        children: Iterable[tuple[Any, Any]] = (
            value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ())
        stack.extend((child, (*path, key)) for key, child in children)
    return None


def _json_path(path: Iterable[Any]) -> str:
    """``$.resources.crm.identifier``, ``$.history[3]``, ``$.resources['odd key']`` (JSONPath)."""
    text = "$"
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            text += f".{part}"
        else:
            text += f"[{json.dumps(part)}]"
    return text


def _shortened(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[:limit] + "..."


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

    def _change(self, change: Callable[[StackState], StackState | None],
                undo: Callable[[StackState], StackState] | None = None) -> None:
        """Make ``change`` and store it; when the write fails, ``undo`` takes it back out of memory before any
        other write can carry it (a failed write leaves the stored state as it was, and raises)."""
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
            try:
                written = self._backend.write(snapshot)
            except StateError:
                if undo is not None:
                    with self._lock:
                        self.state = undo(self.state)
                raise
            with self._lock:
                self.state = replace(self.state, serial=written.serial)
                self._stored = upto

    def begin(self, intent: Intent) -> None:
        """Record ``intent``; if that fails the call must not be made, and the intent must not be stored later
        by another worker's write (it would name a call that never happened)."""
        def undo(state: StackState) -> StackState:
            if state.pending.get(intent.resource) is not intent:
                return state
            return replace(state, pending={k: v for k, v in state.pending.items() if k != intent.resource})

        self._change(lambda state: replace(state, pending={**state.pending, intent.resource: intent}), undo)

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

    def note_outputs(self, outputs: dict[str, dict[str, Any]]) -> None:
        self._change(lambda state: replace(state, outputs=outputs) if state.outputs != outputs else None)
