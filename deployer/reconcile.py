"""Reconciling intents left behind by an interrupted run with what AWS has.

An intent is written to state before every mutating call and cleared once the result
is recorded. One still there means the run stopped in between, and the call may or may
not have happened. AWS says which:

- create: the profile exists, so it was created (the client token makes sure it is ours,
  and was created once) and is adopted into state; otherwise nothing happened.
- update: the properties AWS returns are compared by the next plan anyway; the
  credentials are unknowable, so their fingerprint is reset and the next plan updates them.
- delete: the profile is gone, so the record goes; otherwise the record stays.

A create that had not happened and an interrupted update are *resumable*: if the next
apply makes the same call, it reuses the intent's client token, so that a call AWS
received after our read is still not carried out twice (see ``apply``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from deployer.plan import LiveIndex
from deployer.state import Intent, ResourceState, StackState, now

UNKNOWN_CREDENTIALS = "unknown: an update was interrupted"


@dataclass(frozen=True)
class Reconciled:
    state: StackState  # every pending intent resolved
    notes: tuple[str, ...] = ()  # one line per intent saying how
    resumable: dict[str, Intent] = field(default_factory=dict)  # by resource: calls to make again, same token


def reconcile(state: StackState, live: LiveIndex) -> Reconciled:
    """The state with every pending intent resolved."""
    resources = dict(state.resources)
    notes: list[str] = []
    resumable: dict[str, Intent] = {}
    for name, intent in sorted(state.pending.items()):
        found = live.get((intent.type, intent.region, intent.identifier)) if intent.identifier else None
        if intent.operation == "create":
            if found is not None:
                resources[name] = _adopted(intent, found.arn, found.exports)
                notes.append(f"{name}: an interrupted create of {intent.identifier} had completed; recorded it")
            else:
                what = intent.identifier or f"a new {intent.type}"
                notes.append(f"{name}: an interrupted create of {what} had not happened")
                resumable[name] = intent
        elif intent.operation == "update":
            prior = resources.get(name)
            resumable[name] = intent
            if prior is not None:
                resources[name] = replace(prior, credentials_fingerprint=UNKNOWN_CREDENTIALS)
            notes.append(f"{name}: an update of {intent.identifier} was interrupted; it will be applied again")
        elif intent.operation == "delete":
            prior = resources.get(name)
            if found is None and prior is not None and prior.identifier == intent.identifier:
                del resources[name]
                notes.append(f"{name}: an interrupted delete of {intent.identifier} had completed")
            else:
                notes.append(f"{name}: an interrupted delete of {intent.identifier} had not happened")
    if not notes:
        return Reconciled(state)
    reconciled = replace(state, resources=resources, pending={})
    for note in notes:
        reconciled = reconciled.with_event(note.split(":", 1)[0], "recovered: " + note.split(": ", 1)[1])
    return Reconciled(reconciled, tuple(notes), resumable)


def _adopted(intent: Intent, arn: str, exports: dict[str, object]) -> ResourceState:
    stamp = now()
    return ResourceState(
        name=intent.resource,
        type=intent.type,
        identifier=intent.identifier,
        region=intent.region,
        arn=arn,
        applied=dict(intent.applied),
        credentials_fingerprint=intent.credentials_fingerprint,
        exports=dict(exports),
        depends_on=intent.depends_on,
        retain=intent.retain,
        prevent_destroy=intent.prevent_destroy,
        created_at=stamp,
        updated_at=stamp,
    )
