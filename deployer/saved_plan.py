"""Saved plans: ``stack plan -o FILE`` writes one, ``stack apply FILE`` applies exactly it.

The file records the stack, environment, state location and version (lineage and
serial), the digest of the manifest and its non-secret variables, those variables
themselves, and per change its action and a keyed fingerprint of the desired request
(credentials included, so they must be supplied again, identical). It holds no secret
value. Apply plans again and refuses unless everything still matches: the plan is
stale if state, manifest, variables, credentials or AWS changed since it was made.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployer.errors import StackError
from deployer.plan import Plan
from deployer.secrets import SECRETS

SAVED_PLAN_VERSION = 1


@dataclass(frozen=True)
class SavedPlan:
    stack: str
    env: str
    stack_dir: str
    state_location: str
    lineage: str
    serial: int
    digest: str
    variables: dict[str, Any]
    changes: tuple[dict[str, Any], ...]
    key: str = field(default="", repr=False)
    local: bool = False  # made against the embedded local cloud


def change_fingerprints(plan: Plan, key: str) -> tuple[dict[str, Any], ...]:
    def fingerprint(value: Any) -> str | None:
        if value is None:
            return None
        canonical = json.dumps(value, sort_keys=True, default=str).encode()
        return hmac.new(bytes.fromhex(key), canonical, hashlib.sha256).hexdigest()

    return tuple(
        {"resource": c.resource, "action": c.action.value, "identifier": c.identifier,
         "request": fingerprint(c.desired.request if c.desired else None)}
        for c in plan.changes
    )


def make_saved_plan(plan: Plan, *, stack_dir: str, state_location: str, lineage: str, serial: int, digest: str,
                    variables: dict[str, Any], local: bool = False) -> SavedPlan:
    key = secrets.token_hex(32)
    lineage = lineage if serial else ""  # a state never written has no lineage yet
    public = {k: v for k, v in variables.items() if not _holds_secret(v)}
    return SavedPlan(plan.stack, plan.env, stack_dir, state_location, lineage, serial, digest, public,
                     change_fingerprints(plan, key), key, local)


def _holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secret(v) for v in value)
    return isinstance(value, str) and value in SECRETS


def write_saved_plan(saved: SavedPlan, plan_json: dict[str, Any], path: Path) -> None:
    document = {"format_version": SAVED_PLAN_VERSION, "saved_plan": saved.__dict__, "plan": plan_json}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")


def read_saved_plan(path: Path) -> SavedPlan:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format_version") != SAVED_PLAN_VERSION:
            raise StackError(f"{path}: not a saved plan of this version of stack")
        data = document["saved_plan"]
        return SavedPlan(**{**data, "changes": tuple(data["changes"])})
    except OSError as error:
        raise StackError(f"{path}: cannot read the saved plan: {error.strerror}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise StackError(f"{path}: not a saved plan ({type(error).__name__}: {error})") from None


def staleness(saved: SavedPlan, plan: Plan, *, lineage: str, serial: int, digest: str) -> list[str]:
    """Why the saved plan no longer describes what apply would do; empty when it still does."""
    reasons = []
    if not saved.lineage:  # planned before any state existed
        if serial != 0:
            reasons.append(f"state was written since the plan (serial {serial} now, none then)")
    elif lineage != saved.lineage:
        reasons.append(f"the state is another one now (lineage {lineage}, the plan's {saved.lineage})")
    elif serial != saved.serial:
        reasons.append(f"the state changed since the plan (serial {saved.serial} then, {serial} now)")
    if digest != saved.digest:
        reasons.append("the manifest, its templates or its variables changed since the plan")
    now = {c["resource"]: c for c in change_fingerprints(plan, saved.key)}
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
