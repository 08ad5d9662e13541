"""Apply: carry out a plan, resource by resource, recording each result as it happens.

Resources leaving the stack go first, dependents before what they depend on. Then
the rest walk the dependency graph, independent resources in parallel (up to
``parallelism``). A resource whose inputs were unknown at plan time is rendered
again with its dependencies' real exports just before it is applied. A failure
stops only the resources that depend on it; everything else finishes and is recorded.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any, Protocol

from deployer.connectors import CONFIG, CREDENTIALS
from deployer.errors import AwsError, ResourceNotFound, StackError
from deployer.kinds import FLOW
from deployer.plan import Action, Change, Plan, live_matches
from deployer.plan_flows import flow_status_change
from deployer.providers import Live
from deployer.providers.cloudcontrol.pointers import top_level_names
from deployer.providers.routing import Providers
from deployer.state import Intent, ResourceState, StateRecorder, now
from deployer.validate import Desired

Resolve = Callable[[Desired, Mapping[str, Mapping[str, Any]]], Desired]


class Status(enum.Enum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Outcome:
    resource: str
    action: Action
    status: Status
    message: str = ""


@dataclass(frozen=True)
class ApplyResult:
    outcomes: tuple[Outcome, ...]
    moved: tuple[tuple[str, str], ...] = ()  # (old, new) resource names renamed in state

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status is not Status.DONE)

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status is status and o.action is not Action.NOOP)


class ApplyHooks(Protocol):
    def started(self, change: Change) -> None: ...

    def finished(self, outcome: Outcome) -> None: ...


class NoHooks:
    """Apply with nobody watching: every hook does nothing."""

    def started(self, change: Change) -> None:
        return None

    def finished(self, outcome: Outcome) -> None:
        return None


def new_client_token() -> str:
    """A token for one intended mutation. AWS answers a repeated token with the first call's answer, without
    acting, for 8 hours: a token derived from the desired input would replay an old answer when a stack goes
    back to an earlier state (destroy then deploy, A -> B -> A, repairing drift). So every intent gets its own,
    reused only to retry that intent: by the retry wrapper within a run, and from the intent journal by the
    next run after a crash."""
    return secrets.token_hex(32)


def without_credentials(request: Mapping[str, Any]) -> dict[str, Any]:
    config = {k: v for k, v in (request.get(CONFIG) or {}).items() if k != CREDENTIALS}
    return {**request, CONFIG: config} if CONFIG in request else dict(request)


class _Applier:
    def __init__(self, plan: Plan, providers: Providers, recorder: StateRecorder, resolve: Resolve,
                 hooks: ApplyHooks, resumable: Mapping[str, Intent]) -> None:
        self.plan = plan
        self.resumable = resumable
        self.providers = providers
        self.provider = providers.native
        self.recorder = recorder
        self.resolve = resolve
        self.hooks = hooks
        self.exports: dict[str, dict[str, Any]] = recorder.state.exports()
        for change in plan.changes:
            if change.live is not None and change.action is Action.NOOP:
                self.exports[change.resource] = {**self.exports.get(change.resource, {}), **change.live.exports}
        self.needed_by: dict[str, set[str]] = {}  # resource -> the resources that depend on it
        for change in plan.changes:
            for dependency in change.desired.depends_on if change.desired else ():
                self.needed_by.setdefault(dependency, set()).add(change.resource)

    def run(self, change: Change) -> Outcome:
        self.hooks.started(change)
        try:
            message = self._carry_out(change)
            outcome = Outcome(change.resource, change.action, Status.DONE, message)
        except StackError as error:
            outcome = Outcome(change.resource, change.action, Status.FAILED, str(error))
        self.hooks.finished(outcome)
        return outcome

    def _carry_out(self, change: Change) -> str:
        if change.action is Action.FORGET:
            self.recorder.forget(change.resource, "forgotten (left in AWS)" if change.live else "forgotten")
            return "forgotten; it stays in AWS" if change.live else "forgotten"
        if change.action is Action.DELETE:
            assert change.prior is not None
            self._delete(change.prior)
            self.recorder.forget(change.resource, f"deleted {change.prior.identifier}")
            return f"deleted {change.prior.identifier}"
        assert change.desired is not None
        desired = change.desired
        if desired.has_unknowns:
            desired = self.resolve(desired, self.exports)
        if change.action is Action.NOOP:
            assert change.prior is not None
            refreshed = replace(change.prior, exports=self.exports.get(change.resource, change.prior.exports),
                                depends_on=tuple(sorted(desired.depends_on)), retain=desired.spec.retain,
                                prevent_destroy=desired.prevent_destroy)
            if refreshed != change.prior:
                self.recorder.record(refreshed)  # state-only: exports, dependencies, deletion policy
            return "no changes"
        if change.action is Action.REPLACE:
            assert change.prior is not None
            self._delete(change.prior)
        if desired.cloud:
            return self._carry_out_cloud(change, desired)
        if desired.type == FLOW:
            return self._carry_out_flow(change, desired)
        operation = "update" if change.action is Action.UPDATE else "create"
        exports = self._write(desired, operation)
        if operation == "update" and change.prior is not None:
            exports = {**change.prior.exports, **exports}
        name, region = desired.request["connectorProfileName"], desired.region or ""
        if desired.request.get("connectionMode") == "Private":
            ready = self.provider.wait_until_ready(region, name)
            exports = {**exports, **ready.exports}
        elif self.needed_by.get(desired.name):  # dependents need every export now; others get them at the next read
            live = self.provider.read(region, [name]).get(name)
            if live is not None:
                exports = {**exports, **live.exports}
        self.exports[desired.name] = exports
        verb = "replaced" if change.action is Action.REPLACE else {"create": "created", "update": "updated"}[operation]
        self.recorder.record(self._state_of(desired, change, exports), f"{verb} {name}")
        return f"{verb} {name}"

    def _carry_out_flow(self, change: Change, desired: Desired) -> str:
        """Create or update a flow, then start or stop it as FlowStatus says (never an on-demand flow)."""
        flows = self.providers.flows
        name, region = desired.request["flowName"], desired.region or ""
        operation = "update" if change.action is Action.UPDATE else "create"
        state = self.recorder.state
        applied = state.protect(desired.request)
        resumed = self.resumable.get(desired.name)
        token = new_client_token()
        if resumed is not None and (resumed.operation, resumed.identifier, resumed.region, resumed.applied) == (
                operation, name, region, applied):
            token = resumed.client_token  # the same call an interrupted run made: AWS answers it once
        self.recorder.begin(intent_of(desired, operation, name, token, applied))
        try:
            if operation == "create":
                flows.create(region, desired.request, token)
            else:
                flows.update(region, desired.request, token, change.live)
            live = flows.read(region, [name]).get(name)
            status = flow_status_change(desired, live.status if live else None)
            if status is not None:
                (flows.start if status == "Active" else flows.stop)(region, name)
                live = flows.read(region, [name]).get(name)
        except AwsError as error:
            if error.answered:
                self.recorder.settle(desired.name)
            raise
        if live is None:
            raise ResourceNotFound(f"{operation} of flow '{name}' succeeded, but DescribeFlow does not find it",
                                   code="ResourceNotFoundException", operation="DescribeFlow", resource=name)
        self.exports[desired.name] = dict(live.exports)
        verb = {Action.REPLACE: "replaced", Action.UPDATE: "updated"}.get(change.action, "created")
        prior = change.prior if change.action is Action.UPDATE else None
        self.recorder.record(record_of(desired, prior, name, live.arn, applied, dict(live.exports)), f"{verb} {name}")
        started = f"; {'started' if status == 'Active' else 'stopped'} it" if status else ""
        return f"{verb} {name}{started}"

    def _carry_out_cloud(self, change: Change, desired: Desired) -> str:
        """Create or update a Cloud Control resource; state records what was applied and what a read returned."""
        prior = change.prior if change.action is Action.UPDATE else None
        live = self._write_cloud(desired, prior, change.live)
        self.exports[desired.name] = dict(live.exports)
        verb = {Action.REPLACE: "replaced", Action.UPDATE: "updated"}.get(change.action, "created")
        self.recorder.record(record_of(desired, prior, live.identifier, live.arn,
                                       self.recorder.state.protect(desired.request), dict(live.exports)),
                             f"{verb} {live.identifier}")
        return f"{verb} {live.identifier}"

    def _write_cloud(self, desired: Desired, prior: ResourceState | None, found: Live | None) -> Live:
        """The intent is recorded before the request, its request token as soon as AWS answers and the identifier
        as soon as AWS gives it, so a crash at any point leaves enough to find the one resource made. A create
        an interrupted run left behind is made again with its client token: AWS answers with that first
        request (its token lives 36 hours), so a type whose identifier AWS assigns is never created twice."""
        state = self.recorder.state
        applied = state.protect(desired.request)
        region = desired.region or ""
        operation = "update" if prior is not None else "create"
        resumed = self.resumable.get(desired.name)
        token = new_client_token()
        if (resumed is not None and operation == "create" and (resumed.operation, resumed.type, resumed.region,
                                                               resumed.applied) == ("create", desired.type, region,
                                                                                    applied)):
            token = resumed.client_token
        known = desired.identifier if isinstance(desired.identifier, str) else ""
        intent = intent_of(desired, operation, prior.identifier if prior else known, token, applied)
        self.recorder.begin(intent)
        noted = [intent]

        def progress(event: Mapping[str, Any]) -> None:
            latest = noted[-1]
            updated = replace(latest, request_token=str(event.get("RequestToken") or latest.request_token),
                              identifier=str(event.get("Identifier") or latest.identifier))
            if updated != latest:
                noted.append(updated)
                self.recorder.begin(updated)

        cloud = self.providers.cloud
        try:
            if prior is None:
                return cloud.create(desired.type, region, desired.request, token, progress)
            return cloud.update(desired.type, region, prior.identifier, patch_base(desired, prior, found),
                                desired.request, token)
        except AwsError as error:
            if error.answered:
                self.recorder.settle(desired.name)  # AWS refused it, or its request failed: nothing happened
            raise

    def _write(self, desired: Desired, operation: str) -> dict[str, Any]:
        """Create or update, with the intent recorded first and a token that makes a retry of it harmless.

        The token of an intent an interrupted run left behind is reused when this is the same call again (same
        operation and input), so a call that AWS received but never answered is not carried out twice. Its
        answer may then be a replay of the first call's, given whatever AWS holds now: it counts only once a
        read shows its effect; otherwise the call is made again as a new intent."""
        state = self.recorder.state
        applied = state.protect(without_credentials(desired.request))
        credentials = state.fingerprint(desired.credentials)
        resumed = self.resumable.get(desired.name)
        if resumed is not None and (resumed.operation, resumed.identifier, resumed.region, resumed.applied,
                                    resumed.credentials_fingerprint) == (
                operation, desired.request["connectorProfileName"], desired.region or "", applied, credentials):
            exports = self._send(desired, operation, resumed.client_token, applied, credentials)
            if self._took_effect(desired, operation):
                return exports
        return self._send(desired, operation, new_client_token(), applied, credentials)

    def _send(self, desired: Desired, operation: str, token: str, applied: dict[str, Any],
              credentials: str | None) -> dict[str, Any]:
        self.recorder.begin(intent_of(desired, operation, desired.request["connectorProfileName"], token, applied,
                                      credentials))
        call = self.provider.update if operation == "update" else self.provider.create
        try:
            return call(desired.region or "", desired.request, token)
        except AwsError as error:
            if error.answered:
                self.recorder.settle(desired.name)  # AWS refused it, so nothing happened
            raise

    def _took_effect(self, desired: Desired, operation: str) -> bool:
        name = desired.request["connectorProfileName"]
        live = self.provider.read(desired.region or "", [name]).get(name)
        return live is not None and (operation == "create" or live_matches(desired, live))

    def _delete(self, prior: ResourceState) -> None:
        self.recorder.begin(Intent(resource=prior.name, operation="delete", identifier=prior.identifier,
                                   region=prior.region, client_token="", started=now(), type=prior.type))
        try:
            self.providers.delete(prior.type, prior.region, prior.identifier)
        except ResourceNotFound:
            return  # already gone: the goal is reached
        except AwsError as error:
            if error.answered:
                self.recorder.settle(prior.name)
            raise

    def _state_of(self, desired: Desired, change: Change, exports: dict[str, Any]) -> ResourceState:
        state = self.recorder.state
        return record_of(desired, change.prior if change.action is Action.UPDATE else None,
                         desired.request["connectorProfileName"], str(exports.get("ConnectorProfileArn", "")),
                         state.protect(without_credentials(desired.request)), exports,
                         state.fingerprint(desired.credentials))


def intent_of(desired: Desired, operation: str, identifier: str, token: str, applied: dict[str, Any],
              credentials: str | None = None) -> Intent:
    """The intent of a create or update of ``desired``, recorded before the call is made."""
    return Intent(resource=desired.name, operation=operation, identifier=identifier, region=desired.region or "",
                  client_token=token, applied=applied, credentials_fingerprint=credentials,
                  depends_on=tuple(sorted(desired.depends_on)), retain=desired.spec.retain,
                  prevent_destroy=desired.prevent_destroy, started=now(), type=desired.type)


def record_of(desired: Desired, prior: ResourceState | None, identifier: str, arn: str, applied: dict[str, Any],
              exports: dict[str, Any], credentials: str | None = None) -> ResourceState:
    """The state record of ``desired`` once applied; an update (``prior``) keeps its creation time."""
    stamp = now()
    return ResourceState(name=desired.name, type=desired.type, identifier=identifier, region=desired.region or "",
                         arn=arn, applied=applied, credentials_fingerprint=credentials, exports=exports,
                         depends_on=tuple(sorted(desired.depends_on)), retain=desired.spec.retain,
                         prevent_destroy=desired.prevent_destroy, created_at=prior.created_at if prior else stamp,
                         updated_at=stamp)


def patch_base(desired: Desired, prior: ResourceState, found: Live | None) -> dict[str, Any]:
    """What an update patch starts from: what AWS holds now (so a change made outside is put right, not just
    a change to the manifest), for the properties the manifest or the last apply set (not AWS's defaults), and
    the write-only values last applied (a read never returns them)."""
    if found is None:
        return dict(prior.applied)
    assert desired.schema is not None
    current = {name: value for name, value in found.properties.items()
               if name in desired.request or name in prior.applied}
    write_only = {name: prior.applied[name] for name in top_level_names(desired.schema.write_only)
                  if name in prior.applied}
    return {**current, **write_only}


def apply_plan(plan: Plan, *, providers: Providers, recorder: StateRecorder, resolve: Resolve,
               parallelism: int = 10, hooks: ApplyHooks | None = None,
               resumable: Mapping[str, Intent] | None = None) -> ApplyResult:
    """Carry out ``plan``. ``resumable``: intents an interrupted run left behind that did not take effect,
    whose client tokens are reused if the same call is made again."""
    recorder.move(plan.moves)  # before anything else, so every record below is under its new name
    applier = _Applier(plan, providers, recorder, resolve, hooks or NoHooks(), resumable or {})
    outcomes: list[Outcome] = []
    leaving = [c for c in plan.changes if c.desired is None]
    for change in leaving:
        outcomes.append(applier.run(change))
    staying = {c.resource: c for c in plan.changes if c.desired is not None}
    finished: dict[str, Status] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="apply") as pool:
        running: dict[Future[Outcome], str] = {}
        while staying or running:
            for name, change in list(staying.items()):
                depends = change.desired.depends_on if change.desired else frozenset()
                blocked = [d for d in depends if finished.get(d) in (Status.FAILED, Status.SKIPPED)]
                if blocked:
                    del staying[name]
                    outcome = Outcome(name, change.action, Status.SKIPPED,
                                      f"skipped: depends on '{sorted(blocked)[0]}', which did not succeed")
                    applier.hooks.finished(outcome)
                    outcomes.append(outcome)
                    finished[name] = Status.SKIPPED
                elif all(finished.get(d) is Status.DONE for d in depends):
                    del staying[name]
                    running[pool.submit(applier.run, change)] = name
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                outcome = future.result()
                outcomes.append(outcome)
                finished[name] = outcome.status
    return ApplyResult(tuple(outcomes), plan.moves)
