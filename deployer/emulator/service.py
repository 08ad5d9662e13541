"""The AppFlow API as the emulator performs it: connector-profile operations here, flows in ``flows.py``.

Takes a decoded request (operation, region, JSON body) and returns the JSON
response or raises ``ApiError`` with the AWS error code and HTTP status. Knows
nothing of HTTP; the server in ``server.py`` does the wire format.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from deployer.apimodel import ApiPath, Violation, check_value, input_shape, without_nulls
from deployer.connectors import CONFIG, CREDENTIALS, check_connector_rules
from deployer.emulator.apierror import ApiError
from deployer.emulator.flows import OPERATIONS as FLOW_OPERATIONS
from deployer.emulator.flows import FlowOperations
from deployer.emulator.flowstore import FlowStore
from deployer.emulator.knobs import CallStats, Clock, FaultSource, Knobs, TokenBucket
from deployer.emulator.store import Store, StoredProfile, StoredToken
from deployer.paths import format_path

Spell = Callable[[ApiPath], str]  # the name of the member an API path ends in, in a fix's words

TOKEN_LIFETIME_S = 8 * 3600  # clientToken is active for 8 hours (AWS CLI reference)
DEFAULT_MAX_RESULTS = 20

OPERATIONS = {
    "/create-connector-profile": "CreateConnectorProfile",
    "/update-connector-profile": "UpdateConnectorProfile",
    "/delete-connector-profile": "DeleteConnectorProfile",
    "/describe-connector-profiles": "DescribeConnectorProfiles",
    **FLOW_OPERATIONS,
}

_FAULT_MESSAGES = {
    "InternalServerException": "An internal service error occurred. Try the request again.",
    "ThrottlingException": "Rate exceeded",
    "ConnectorAuthenticationException": "The connector could not authenticate with the credentials provided.",
}


LOST_RESPONSE = "LostResponse"  # a scripted fault: the call takes effect, then the connection drops
ECHO_VALIDATION = "EchoValidationException"  # a scripted fault: a ValidationException quoting the whole request


class LostResponse(Exception):
    """The server must drop the connection without answering."""


class InvalidRequest(ApiError):
    """A ValidationException for violations of the model or of AppFlow's rules, kept so that another door
    (Cloud Control's, ``appflow_door.py``) can word them in its own names."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("ValidationException", violations_message(violations))
        self.violations = violations


@dataclass(frozen=True)
class Call:
    operation: str
    region: str
    body: dict[str, Any]


class KnobbedService:
    """What every emulated service does around its operations: the latency knob, and counting each call
    with how it was answered. A service sets ``knobs``, ``stats`` and ``_sleep`` and answers in ``_answer``."""

    knobs: Knobs
    stats: CallStats
    _sleep: Callable[[float], None]

    def handle(self, call: Call) -> dict[str, Any]:
        """Answer one call, or raise ``ApiError``. Knob-made faults come before any effect."""
        if self.knobs.latency_ms > 0:
            self._sleep(self.knobs.latency_ms / 1000.0)
        try:
            result = self._answer(call)
        except ApiError as error:
            self.stats.record(call.operation, error.code)
            raise
        except LostResponse:
            self.stats.record(call.operation, LOST_RESPONSE)
            raise
        self.stats.record(call.operation, None)
        return result

    def _answer(self, call: Call) -> dict[str, Any]:
        raise NotImplementedError  # each service answers its own operations


class AppFlowService(KnobbedService):
    def __init__(self, store: Store, knobs: Knobs, clock: Clock, sleep: Callable[[float], None]) -> None:
        self.store = store
        self.knobs = knobs
        self.stats = CallStats()
        self._clock = clock
        self._sleep = sleep
        self._bucket = TokenBucket(clock)
        self._faults = FaultSource(knobs)
        self._flows = FlowOperations(store, knobs, clock)

    def _answer(self, call: Call) -> dict[str, Any]:
        account = self.knobs.account_id
        if self.knobs.tps is not None and not self._bucket.take(account, self.knobs.tps):
            raise ApiError("ThrottlingException", _FAULT_MESSAGES["ThrottlingException"])
        fault = self._faults.next_fault(call.operation)
        if fault == ECHO_VALIDATION:  # some AWS errors quote the request back, credentials and all
            raise ApiError("ValidationException", f"Invalid request: {json.dumps(call.body)}")
        if fault and fault != LOST_RESPONSE:
            raise ApiError(fault, _FAULT_MESSAGES.get(fault, f"Injected {fault}"))
        # A null member is an absent one, so that no handler, stored profile or clientToken digest sees a null.
        call = replace(call, body=without_nulls(input_shape(call.operation), call.body))
        _raise_violations(request_violations(call.operation, call.body))
        handler = {
            "CreateConnectorProfile": self._create,
            "UpdateConnectorProfile": self._update,
            "DeleteConnectorProfile": self._delete,
            "DescribeConnectorProfiles": self._describe,
        }.get(call.operation, self._flow)
        hold = self.knobs.take_hold(call.operation)
        if hold is not None and not hold.effect:
            hold.wait()
            raise LostResponse()  # lost on the way: never carried out
        answer = handler(account, call)
        if hold is not None:
            hold.wait()
        if fault == LOST_RESPONSE or hold is not None:
            raise LostResponse()  # done, but the caller never hears of it
        return answer

    def _create(self, account: str, call: Call) -> dict[str, Any]:
        with self.store.transaction() as store:
            replayed = self._replay(store, account, call)
            if replayed is not None:
                return replayed
            profile = create_profile(store, self.knobs, self._clock(), account, call.region, call.body)
            response = {"connectorProfileArn": profile_arn(profile)}
            self._remember(store, account, call, response)
            return response

    def _update(self, account: str, call: Call) -> dict[str, Any]:
        with self.store.transaction() as store:
            replayed = self._replay(store, account, call)
            if replayed is not None:
                return replayed
            updated = update_profile(store, self.knobs, self._clock(), account, call.region, call.body)
            response = {"connectorProfileArn": profile_arn(updated)}
            self._remember(store, account, call, response)
            return response

    def _delete(self, account: str, call: Call) -> dict[str, Any]:
        with self.store.transaction() as store:
            delete_profile(store, account, call.region, call.body["connectorProfileName"],
                           force=call.body.get("forceDelete", False))
        return {}  # the model's output has no members: answered with an empty body (wire.py)

    def _flow(self, account: str, call: Call) -> dict[str, Any]:
        """A flow operation (``flows.py``), with clientToken replay for those that take one."""
        with self.store.transaction() as store:
            replayed = self._replay(store, account, call)
            if replayed is not None:
                return replayed
            response = self._flows.answer(call.operation, account, call.region, call.body)
            self._remember(store, account, call, response)
            return response

    def _describe(self, account: str, call: Call) -> dict[str, Any]:
        body = call.body
        names = body.get("connectorProfileNames")
        wanted_type, wanted_label = body.get("connectorType"), body.get("connectorLabel")
        page_size = body.get("maxResults", DEFAULT_MAX_RESULTS)
        filters = _filters_digest(account, call.region, names, wanted_type, wanted_label)
        after = _decode_next_token(body.get("nextToken"), filters)
        with self.store.transaction() as store:
            matches = [
                profile
                for profile in store.list(account, call.region)  # by name: the cursor's order
                if (after is None or profile.name > after)
                and (names is None or profile.name in names)
                and (wanted_type is None or profile.connector_type == wanted_type)
                and (wanted_label is None or profile.connector_label == wanted_label)
            ]
        page = matches[:page_size]
        response: dict[str, Any] = {"connectorProfileDetails": [self._describe_one(p) for p in page]}
        if len(matches) > page_size:
            response["nextToken"] = _encode_next_token(page[-1].name, filters)
        return response

    def _describe_one(self, profile: StoredProfile) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "connectorProfileArn": profile_arn(profile),
            "connectorProfileName": profile.name,
            "connectorType": profile.connector_type,
            "connectionMode": profile.connection_mode,
            "credentialsArn": profile.credentials_arn,
            "connectorProfileProperties": profile.properties,
            "createdAt": profile.created_at,
            "lastUpdatedAt": profile.updated_at,
        }
        if profile.connector_label:
            detail["connectorLabel"] = profile.connector_label
        if profile.private_ready_at is not None:
            ready = self._clock() >= profile.private_ready_at
            state: dict[str, str] = {"status": "CREATED" if ready else "PENDING"}
            if ready and self.knobs.private_failure:
                state = {"status": "FAILED", "failureMessage": self.knobs.private_failure,
                         "failureCause": "CONNECTOR_AUTHENTICATION"}
            detail["privateConnectionProvisioningState"] = state
        return detail

    def _replay(self, store: Store, account: str, call: Call) -> dict[str, Any] | None:
        """The first response for a repeated clientToken, or None for a new token."""
        token = call.body.get("clientToken")
        if not token:
            return None
        seen = store.get_token(account, call.region, call.operation, token)
        if seen is None or self._clock() - seen.created_at > TOKEN_LIFETIME_S:
            return None
        if seen.digest != _digest(call.body):
            raise ApiError(
                "ConflictException",
                "The clientToken was already used with different input parameters. "
                "Use a new clientToken for a different request.",
            )
        self.stats.replayed[call.operation] += 1
        return seen.response

    def _remember(self, store: Store, account: str, call: Call, response: dict[str, Any]) -> None:
        token = call.body.get("clientToken")
        if token:
            entry = StoredToken(_digest(call.body), response, self._clock())
            store.put_token(account, call.region, call.operation, token, entry)


# What a create, update or delete does to the store, whichever door it came through (this API, or Cloud Control's
# AWS::AppFlow::ConnectorProfile in ``appflow_door.py``). Each runs inside the caller's ``Store.transaction()``,
# takes a request body the API model accepts (``request_violations``) and raises ``ApiError`` as AppFlow does.


def create_profile(store: Store, knobs: Knobs, now: float, account: str, region: str,
                   body: dict[str, Any]) -> StoredProfile:
    name = body["connectorProfileName"]
    if store.get(account, region, name) is not None:
        raise ApiError("ConflictException", f"Connector profile with name '{name}' already exists.")
    if store.count(account, region) >= knobs.quota:
        raise ApiError(
            "ServiceQuotaExceededException",
            f"The quota of {knobs.quota} connector profiles per account and region is reached.",
        )
    private = body["connectionMode"] == "Private"
    profile = StoredProfile(
        account=account,
        region=region,
        name=name,
        connector_type=body["connectorType"],
        connector_label=body.get("connectorLabel"),
        connection_mode=body["connectionMode"],
        kms_arn=body.get("kmsArn"),
        credentials_arn=_credentials_arn(account, region, name),
        properties=body[CONFIG]["connectorProfileProperties"],
        created_at=now,
        updated_at=now,
        private_ready_at=now + knobs.private_delay_s if private else None,
    )
    store.put(profile)
    return profile


def update_profile(store: Store, knobs: Knobs, now: float, account: str, region: str, body: dict[str, Any],
                   spell: Spell | None = None) -> StoredProfile:
    """``spell`` names members in the fixes of violations (``check_connector_rules``); default: the API's names."""
    name = body["connectorProfileName"]
    current = store.get(account, region, name)
    if current is None:
        raise ApiError("ResourceNotFoundException", f"Connector profile '{name}' does not exist.")
    _raise_violations(
        check_connector_rules(current.connector_type, current.connector_label, body[CONFIG], creating=False,
                              spell=spell)
    )
    becomes_private = body["connectionMode"] == "Private" and current.connection_mode != "Private"
    ready_at = current.private_ready_at
    if body["connectionMode"] != "Private":
        ready_at = None
    elif becomes_private:
        ready_at = now + knobs.private_delay_s
    updated = replace(
        current,
        connection_mode=body["connectionMode"],
        properties=body[CONFIG]["connectorProfileProperties"],
        updated_at=now,
        private_ready_at=ready_at,
    )
    store.put(updated)
    return updated


def delete_profile(store: Store, account: str, region: str, name: str, *, force: bool = False) -> None:
    """Without ``force``, a profile that a flow uses stays (forceDelete: "delete the profile, even if it is
    currently in use in one or more flows"); with it, the flows stay and name a profile that is gone."""
    if store.get(account, region, name) is None:
        raise ApiError("ResourceNotFoundException", f"Connector profile '{name}' does not exist.")
    users = FlowStore(store).users_of_profile(account, region, name)
    if users and not force:
        raise ApiError(
            "ConflictException",
            f"Connector profile '{name}' is in use by flow(s) {', '.join(users)}. "
            "Delete or change those flows first, or pass forceDelete.",
        )
    store.delete(account, region, name)


def request_violations(operation: str, body: dict[str, Any], spell: Spell | None = None) -> list[Violation]:
    """Model violations, and for a create also AppFlow's connector rules (update's need the stored type);
    ``spell`` as for ``update_profile``."""
    found = check_value(input_shape(operation), body)
    if operation == "CreateConnectorProfile" and isinstance(body.get("connectorType"), str):
        label = body.get("connectorLabel")
        found += check_connector_rules(
            body["connectorType"], label if isinstance(label, str) else None, body.get(CONFIG) or {}, creating=True,
            spell=spell,
        )
    return found


def _raise_violations(violations: list[Violation]) -> None:
    if violations:
        raise InvalidRequest(violations)


def violations_message(violations: list[Violation]) -> str:
    count = len(violations)
    details = "; ".join(describe_violation(v) for v in violations)
    return f"{count} validation error{'s' if count > 1 else ''} detected: {details}"


def describe_violation(violation: Violation) -> str:
    # Like AWS, name the member and echo the value, except for credentials.
    text = f"'{format_path(violation.path)}' {violation.problem}"
    hidden = violation.sensitive or CREDENTIALS in violation.path
    if violation.has_value and not hidden:
        text = f"Value {json.dumps(violation.value)} at {text}"
    return f"{text} ({violation.fix})" if violation.fix else text


def _digest(body: dict[str, Any]) -> str:
    canonical = {k: v for k, v in body.items() if k != "clientToken"}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def profile_arn(profile: StoredProfile) -> str:
    return f"arn:aws:appflow:{profile.region}:{profile.account}:connectorprofile/{profile.name}"


def _credentials_arn(account: str, region: str, name: str) -> str:
    suffix = secrets.token_hex(3)
    return f"arn:aws:secretsmanager:{region}:{account}:secret:appflow!{account}-{name}-{suffix}"


# A nextToken is a cursor, not an offset: the last name of the page, so that profiles deleted between
# pages do not shift the rest past the reader (an offset skips one per deletion); and it carries a
# digest of the filters it was issued for, so that it cannot continue another listing.


def _filters_digest(account: str, region: str, names: list[str] | None, connector_type: str | None,
                    label: str | None) -> str:
    wanted = [account, region, sorted(set(names)) if names is not None else None, connector_type, label]
    return hashlib.sha256(json.dumps(wanted).encode()).hexdigest()[:16]


def _encode_next_token(after: str, filters: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after, "filters": filters}).encode()).decode()


def _decode_next_token(token: str | None, filters: str) -> str | None:
    """The name the page starts after; None for the first page."""
    if token is None:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        after, issued_for = decoded["after"], decoded["filters"]
    except (ValueError, KeyError, TypeError):
        raise ApiError("ValidationException", "Invalid nextToken: pass the nextToken of an earlier response.") from None
    if not isinstance(after, str) or not isinstance(issued_for, str):
        raise ApiError("ValidationException", "Invalid nextToken: pass the nextToken of an earlier response.")
    if issued_for != filters:
        raise ApiError(
            "ValidationException",
            "Invalid nextToken: it was issued for other connectorProfileNames, connectorType or connectorLabel; "
            "pass the filters of the request that returned it, or start again without a nextToken.",
        )
    return after
