"""Saved plans: ``stack plan -o FILE`` writes one, ``stack apply FILE`` applies exactly it.

The file records the stack and environment, how to find the stack and its state again
(from another checkout too), the state's version (lineage and serial), the digest of
each source the stack is made from, the non-secret variables, and per change its action
and a fingerprint of the desired request. It holds no secret value and no key: requests
are fingerprinted with a key derived from the state's own fingerprint key, so testing a
guessed credential against a fingerprint needs the state as well. Before the first state
is written there is no such key, and the fingerprint leaves secret values out instead.
Apply plans again and refuses unless everything still matches: the plan is stale if the
state, a source, credentials (when state existed at plan time) or AWS changed since.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer.errors import StackError
from deployer.manifest import check_env_name
from deployer.plan import Plan
from deployer.redact import redact
from deployer.secrets import SECRETS
from deployer.state import StackState

SAVED_PLAN_VERSION = 2
# Derives the plan's fingerprint key from the state's, so a plan fingerprint is never a state fingerprint
_REQUEST_KEY_LABEL = b"stack saved plan: desired request fingerprint"


@dataclass(frozen=True)
class SavedPlan:
    stack: str
    env: str
    stack_dir: str  # absolute, where the plan was made
    stack_path: str | None  # the same, relative to its checkout's Git top-level (else the working directory)
    state_location: str | None  # as given by --state or STACK_STATE; None: the manifest's, else the default
    lineage: str  # "" when no state was stored yet
    serial: int
    digest: str
    sources: dict[str, str]  # source name -> its digest, to say which one changed
    variables: dict[str, Any]
    changes: tuple[dict[str, Any], ...]
    local: bool = False  # made against the embedded local cloud
    adopt: bool = False  # made with --adopt: apply takes over the same existing profiles


def request_key(state: StackState) -> bytes | None:
    """The key of request fingerprints, when the state is stored: a state never written has a key no later run
    sees."""
    if not state.serial or not state.fingerprint_key:
        return None
    return hmac.new(bytes.fromhex(state.fingerprint_key), _REQUEST_KEY_LABEL, hashlib.sha256).digest()


def change_fingerprints(plan: Plan, key: bytes | None) -> tuple[dict[str, Any], ...]:
    """Each change's action and a fingerprint of its desired request: keyed, or without a key of the request with
    its secret values left out (which then cannot show that a secret changed)."""
    def fingerprint(request: Any) -> str | None:
        if request is None:
            return None
        if key is None:
            return "sha256:" + hashlib.sha256(_canonical(redact(request))).hexdigest()
        return "hmac-sha256:" + hmac.new(key, _canonical(request), hashlib.sha256).hexdigest()

    return tuple(
        {"resource": c.resource, "action": c.action.value, "identifier": c.identifier,
         "request": fingerprint(c.desired.request if c.desired else None)}
        for c in plan.changes
    )


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()


def make_saved_plan(plan: Plan, state: StackState, *, stack_dir: Path, stack_path: str | None,
                    state_location: str | None, digest: str, sources: dict[str, str], variables: dict[str, Any],
                    local: bool = False, adopt: bool = False) -> SavedPlan:
    lineage = state.lineage if state.serial else ""  # a state never written has no lineage yet
    public = {k: v for k, v in variables.items() if not _holds_secret(v)}
    return SavedPlan(plan.stack, plan.env, str(stack_dir), stack_path, state_location, lineage, state.serial, digest,
                     sources, public, change_fingerprints(plan, request_key(state)), local, adopt)


def portable_location(location: str | None) -> str | None:
    """A state location as it finds the same state from another working directory."""
    if location is None or location.startswith("s3://"):
        return location
    return str(Path(location).resolve())


def path_under(path: Path, bases: Sequence[Path]) -> str | None:
    """``path`` relative to the first of ``bases`` that holds it."""
    for base in bases:
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return None


def find_stack(saved: SavedPlan, bases: Sequence[Path]) -> Path:
    """The planned stack in this checkout: its path under the first of ``bases`` where it exists, else where it
    was planned."""
    candidates = [base / saved.stack_path for base in bases if saved.stack_path is not None]
    candidates.append(Path(saved.stack_dir))
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise StackError(f"cannot find the stack of the plan; looked for it at {', '.join(map(str, candidates))}. "
                     "Run apply from the checkout (or a copy) of the repository the plan was made in")


def _holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secret(v) for v in value)
    return isinstance(value, str) and value in SECRETS


def write_saved_plan(saved: SavedPlan, plan_json: dict[str, Any], path: Path) -> None:
    document = {"format_version": SAVED_PLAN_VERSION, "saved_plan": saved.__dict__, "plan": plan_json}
    try:
        path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    except OSError as error:
        raise StackError(f"{path}: cannot write the saved plan: {error.strerror}") from None


def read_saved_plan(path: Path) -> SavedPlan:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format_version") != SAVED_PLAN_VERSION:
            raise StackError(f"{path}: not a saved plan of this version of stack (format "
                             f"{document.get('format_version')!r}, not {SAVED_PLAN_VERSION}); plan again")
        data = document["saved_plan"]
        saved = SavedPlan(**{**data, "changes": tuple(data["changes"])})
    except OSError as error:
        raise StackError(f"{path}: cannot read the saved plan: {error.strerror}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise StackError(f"{path}: not a saved plan ({type(error).__name__}: {error})") from None
    if not isinstance(saved.env, str):
        raise StackError(f"{path}: not a saved plan (env is not text)")
    try:
        check_env_name(saved.env)  # it names the state file and the environment files apply reads
    except StackError as error:
        raise StackError(f"{path}: {error}") from None
    return saved


def staleness(saved: SavedPlan, plan: Plan, *, state: StackState, sources: dict[str, str]) -> list[str]:
    """Why the saved plan no longer describes what apply would do; empty when it still does."""
    reasons = []
    if not saved.lineage:  # planned before any state existed
        if state.serial != 0:
            reasons.append(f"state was written since the plan (serial {state.serial} now, none then)")
    elif state.lineage != saved.lineage:
        reasons.append(f"the state is another one now (lineage {state.lineage}, the plan's {saved.lineage})")
    elif state.serial != saved.serial:
        reasons.append(f"the state changed since the plan (serial {saved.serial} then, {state.serial} now)")
    for name in sorted(set(saved.sources) | set(sources)):
        if name not in sources:
            reasons.append(f"{name} is gone since the plan")
        elif name not in saved.sources:
            reasons.append(f"{name} is new since the plan")
        elif sources[name] != saved.sources[name]:
            reasons.append(f"{name} changed since the plan")
    if saved.lineage and state.lineage != saved.lineage:
        return reasons  # another state has another key: its fingerprints would all differ and say nothing more
    now = {c["resource"]: c for c in change_fingerprints(plan, request_key(state) if saved.lineage else None)}
    then = {c["resource"]: c for c in saved.changes}
    for name in sorted(set(now) | set(then)):
        before, after = then.get(name), now.get(name)
        if before is None or after is None:
            reasons.append(f"'{name}' is {'new' if before is None else 'gone'} since the plan")
        elif before["action"] != after["action"]:
            reasons.append(f"'{name}': the plan said {before['action']}, now it would be {after['action']} "
                           "(AWS or state changed)")
        elif before["request"] != after["request"]:
            reasons.append(f"'{name}': the desired values differ from the plan's (a secret or resolver value, "
                           "or a value known only after apply)")
    return reasons
