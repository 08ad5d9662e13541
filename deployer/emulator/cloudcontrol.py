"""The AWS Cloud Control API operations, as the emulator performs them, for any type that has a schema.

Takes a decoded call (operation, region, JSON body) and returns the JSON answer or raises
``ApiError``; ``wire.py`` routes ``X-Amz-Target: CloudApiService.*`` here. Everything is driven
by the type's schema (``typeschemas.py``): the model is checked with jsonschema, the primary
identifier and the read-only attributes of ``derived.py``'s recipes are assigned, create-only properties
refuse updates and write-only properties are never returned. Resources are kept in ``resources.py``'s
table, except those of a type another emulated service also serves (``DOORS``): those live in that
service's store, so both APIs see one resource. A request's outcome is decided when it is made; its
progress event says ``IN_PROGRESS`` until the emulator's latency (times ``HANDLER_ROUND_TRIPS``) has
passed on the injected clock, then ``SUCCESS`` or ``FAILED``. As in AWS, what the resource handler
would refuse (a model the schema refuses, a taken identifier, a create-only change) is a ``FAILED``
event with an ``ErrorCode``, and what Cloud Control itself refuses (a malformed request, an unknown
type, a type without the handler) is an error answer.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.model import ServiceModel

from deployer.apimodel import check_value, without_nulls
from deployer.emulator.appflow_door import ConnectorProfileDoor
from deployer.emulator.derived import derive_attributes
from deployer.emulator.knobs import CallStats, Clock, FaultSource, Knobs, TokenBucket
from deployer.emulator.patch import PatchError, apply_patch, drop_at, model_parts, values_at
from deployer.emulator.resources import (
    Failure,
    ResourceDoor,
    ResourceRequest,
    ResourceStore,
    decode_next_token,
    encode_next_token,
)
from deployer.emulator.service import LOST_RESPONSE, ApiError, Call, KnobbedService, LostResponse
from deployer.emulator.store import Store
from deployer.emulator.typeschemas import find_type_schema, model_violations
from deployer.paths import format_path
from deployer.providers.cloudcontrol.pointers import top_level_names

if TYPE_CHECKING:
    from deployer.registry import TypeSchema

TARGET_PREFIX = "CloudApiService."
SIGNING_NAME = "cloudcontrolapi"
TOKEN_LIFETIME_S = 36 * 3600  # "A client token is valid for 36 hours once used" (Cloud Control API reference)
REQUEST_LIFETIME_S = 7 * 24 * 3600  # ListResourceRequests: "requests ... within the last 7 days"
HANDLER_ROUND_TRIPS = 10  # a handler makes several calls to its service: IN_PROGRESS lasts this many latencies
DEFAULT_MAX_RESULTS = 20  # not documented by AWS; the paginator follows NextToken either way
_SERVER_ERRORS = {"ServiceInternalErrorException", "HandlerInternalFailureException"}
_FAULTS = {  # the knobs' generic fault codes, in Cloud Control's words
    "InternalServerException": ("ServiceInternalErrorException", "An internal service error occurred."),
    "ThrottlingException": ("ThrottlingException", "Rate exceeded"),
}

# Types that another emulated service also serves, kept in that service's store so that both APIs see one
# resource (what Cloud Control's handler for the type does in AWS: it calls the service's API).
DOORS: dict[str, Callable[[Store, Knobs, Clock], ResourceDoor]] = {
    "AWS::AppFlow::ConnectorProfile": ConnectorProfileDoor,
}


@functools.lru_cache(maxsize=1)
def cloudcontrol_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("cloudcontrol")


def operation_for(target: str) -> str | None:
    """The operation an ``X-Amz-Target`` names, or None."""
    name = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else ""
    return name if name in cloudcontrol_model().operation_names else None


def cloudcontrol_error(code: str, message: str) -> ApiError:
    error = ApiError(code, message)
    error.status = 500 if code in _SERVER_ERRORS else 400  # JSON 1.0: the code is in the body, not the status
    return error


class CloudControlService(KnobbedService):
    def __init__(self, store: Store, knobs: Knobs, clock: Clock, sleep: Callable[[float], None], *,
                 stats: CallStats | None = None,
                 schemas: Callable[[str, str], TypeSchema | None] = find_type_schema) -> None:
        self.store = store
        self.resources = ResourceStore(store)
        self.knobs = knobs
        self.stats = stats or CallStats()
        self._clock = clock
        self._sleep = sleep
        self._schemas = schemas
        self._bucket = TokenBucket(clock)
        self._faults = FaultSource(knobs)
        self._doors = {type_name: make(store, knobs, clock) for type_name, make in DOORS.items()}

    def _answer(self, call: Call) -> dict[str, Any]:
        account = self.knobs.account_id
        if self.knobs.tps is not None and not self._bucket.take(account, self.knobs.tps):
            raise cloudcontrol_error(*_FAULTS["ThrottlingException"])
        fault = self._faults.next_fault(call.operation)
        if fault and fault != LOST_RESPONSE:
            raise cloudcontrol_error(*_FAULTS.get(fault, (fault, f"Injected {fault}")))
        shape = cloudcontrol_model().operation_model(call.operation).input_shape
        call = replace(call, body=without_nulls(shape, call.body))
        _raise_violations(check_value(shape, call.body))
        handler = {
            "CreateResource": self._create,
            "UpdateResource": self._update,
            "DeleteResource": self._delete,
            "GetResource": self._get,
            "ListResources": self._list,
            "GetResourceRequestStatus": self._status,
            "ListResourceRequests": self._list_requests,
        }.get(call.operation)
        if handler is None:
            raise cloudcontrol_error("UnsupportedActionException", f"The emulator does not serve {call.operation}.")
        hold = self.knobs.take_hold(call.operation)
        if hold is not None and not hold.effect:
            hold.wait()
            raise LostResponse()
        answer = handler(account, call)
        if hold is not None:
            hold.wait()
        if fault == LOST_RESPONSE or hold is not None:
            raise LostResponse()
        return answer

    # Requests that change resources: decided now, reported through progress events.

    def _create(self, account: str, call: Call) -> dict[str, Any]:
        type_schema = self._type(call, "create")
        desired = _json_object(call.body["DesiredState"], "DesiredState")
        with self.store.transaction():
            replayed = self._replay(account, call)
            if replayed is not None:
                return replayed
            problems = _create_problems(type_schema, desired)
            identifier: str | None = None
            failure: Failure | None = ("InvalidRequest", f"Model validation failed ({'; '.join(problems)})")
            if not problems:
                identifier, failure = self._door(type_schema).create(account, call.region, desired)
            return self._new_request(account, call, "CREATE", identifier, failure)

    def _update(self, account: str, call: Call) -> dict[str, Any]:
        type_schema = self._type(call, "update")
        patch = _json_value(call.body["PatchDocument"], "PatchDocument")
        if not isinstance(patch, list):
            raise cloudcontrol_error("ValidationException", "PatchDocument must be a JSON Patch (RFC 6902) array.")
        identifier = call.body["Identifier"]
        with self.store.transaction():
            replayed = self._replay(account, call)
            if replayed is not None:
                return replayed
            door = self._door(type_schema)
            current = door.get(account, call.region, identifier)
            failure: Failure | None = _not_found(type_schema.type_name, identifier) if current is None else None
            if current is not None:
                try:
                    patched = apply_patch(current, patch)
                except PatchError as error:
                    patched, failure = None, ("InvalidRequest", f"Invalid patch document: {error}")
                if patched is not None:
                    failure = _update_failure(type_schema, current, patched)
                if failure is None:
                    failure = door.update(account, call.region, identifier, patched)
            return self._new_request(account, call, "UPDATE", identifier, failure)

    def _delete(self, account: str, call: Call) -> dict[str, Any]:
        type_schema = self._type(call, "delete")
        identifier = call.body["Identifier"]
        with self.store.transaction():
            replayed = self._replay(account, call)
            if replayed is not None:
                return replayed
            door = self._door(type_schema)
            if door.get(account, call.region, identifier) is None:
                failure: Failure | None = _not_found(type_schema.type_name, identifier)
            else:
                failure = door.delete(account, call.region, identifier)
            return self._new_request(account, call, "DELETE", identifier, failure)

    def _new_request(self, account: str, call: Call, operation: str, identifier: str | None,
                     failure: Failure | None) -> dict[str, Any]:
        now = self._clock()
        request = ResourceRequest(
            account=account, region=call.region, token=str(uuid.uuid4()), type_name=call.body["TypeName"],
            identifier=identifier, operation=operation, status="FAILED" if failure else "SUCCESS",
            error_code=failure[0] if failure else None, message=failure[1] if failure else None,
            created_at=now, done_at=now + self.knobs.latency_ms / 1000.0 * HANDLER_ROUND_TRIPS,
            client_token=call.body.get("ClientToken"), digest=_digest(call),
        )
        self.resources.add_request(request)
        return {"ProgressEvent": self._event(request, just_made=True)}

    def _replay(self, account: str, call: Call) -> dict[str, Any] | None:
        """The progress of the request a live ClientToken was first used for, or None for a new token."""
        token = call.body.get("ClientToken")
        seen = self.resources.by_client_token(account, call.region, token) if token else None
        if seen is None or self._clock() - seen.created_at > TOKEN_LIFETIME_S:
            return None
        if seen.digest != _digest(call):
            raise cloudcontrol_error("ClientTokenConflictException",
                                     f"The client token {token} was already used for a different request.")
        self.stats.replayed[call.operation] += 1
        return {"ProgressEvent": self._event(seen)}

    # Reads.

    def _get(self, account: str, call: Call) -> dict[str, Any]:
        type_schema = self._type(call, "read")
        identifier = call.body["Identifier"]
        with self.store.transaction():
            model = self._door(type_schema).get(account, call.region, identifier)
        if model is None:
            raise cloudcontrol_error("ResourceNotFoundException", _not_found(type_schema.type_name, identifier)[1])
        return {"TypeName": type_schema.type_name, "ResourceDescription": _description(type_schema, identifier, model)}

    def _list(self, account: str, call: Call) -> dict[str, Any]:
        type_schema = self._type(call, "list")
        page_size = call.body.get("MaxResults", DEFAULT_MAX_RESULTS)
        scope = [account, call.region, type_schema.type_name]
        after = _cursor(call.body.get("NextToken"), scope)
        with self.store.transaction():
            found = self._door(type_schema).list(account, call.region, after, page_size + 1)
        page = found[:page_size]
        answer: dict[str, Any] = {
            "TypeName": type_schema.type_name,
            "ResourceDescriptions": [_description(type_schema, identifier, model) for identifier, model in page],
        }
        if len(found) > page_size:
            answer["NextToken"] = encode_next_token(page[-1][0], scope)
        return answer

    def _status(self, account: str, call: Call) -> dict[str, Any]:
        token = call.body["RequestToken"]
        with self.store.transaction():
            request = self.resources.request(token)
        if request is None or request.account != account or request.region != call.region:
            raise cloudcontrol_error("RequestTokenNotFoundException", f"Request with token {token} was not found.")
        return {"ProgressEvent": self._event(request)}

    def _list_requests(self, account: str, call: Call) -> dict[str, Any]:
        page_size = call.body.get("MaxResults", DEFAULT_MAX_RESULTS)
        wanted = call.body.get("ResourceRequestStatusFilter", {})
        operations, statuses = wanted.get("Operations"), wanted.get("OperationStatuses")
        scope = [account, call.region, sorted(operations or []), sorted(statuses or [])]
        before = _cursor(call.body.get("NextToken"), scope)
        matches: list[dict[str, Any]] = []
        last_seq = 0
        with self.store.transaction():
            since = self._clock() - REQUEST_LIFETIME_S
            before_seq = int(before) if before and before.isdigit() else None
            for request in self.resources.requests(account, call.region, since, before_seq):
                event = self._event(request)
                if (operations is None or request.operation in operations) and (
                        statuses is None or event["OperationStatus"] in statuses):
                    if len(matches) == page_size:
                        return {"ResourceRequestStatusSummaries": matches,
                                "NextToken": encode_next_token(str(last_seq), scope)}
                    matches.append(event)
                    last_seq = request.seq
        return {"ResourceRequestStatusSummaries": matches}

    def _event(self, request: ResourceRequest, *, just_made: bool = False) -> dict[str, Any]:
        """The request's ProgressEvent now; the answer to the request itself always says IN_PROGRESS."""
        done = not just_made and self._clock() >= request.done_at
        event: dict[str, Any] = {
            "TypeName": request.type_name,
            "RequestToken": request.token,
            "Operation": request.operation,
            "OperationStatus": request.status if done else "IN_PROGRESS",
            "EventTime": request.done_at if done else request.created_at,
        }
        if request.identifier and (request.operation != "CREATE" or (done and request.status == "SUCCESS")):
            event["Identifier"] = request.identifier  # a create's identifier is known once it succeeds
        if not done:
            event["RetryAfter"] = request.done_at
        elif request.status == "FAILED":
            event["ErrorCode"] = request.error_code
            event["StatusMessage"] = request.message
        return event

    def _door(self, type_schema: TypeSchema) -> ResourceDoor:
        return self._doors.get(type_schema.type_name) or _TableDoor(self.resources, type_schema)

    def _type(self, call: Call, handler: str) -> TypeSchema:
        """The schema of the call's type, which must have ``handler``."""
        type_name = call.body["TypeName"]
        type_schema = self._schemas(type_name, call.region)
        if type_schema is None:
            raise cloudcontrol_error("TypeNotFoundException",
                                     f"The type '{type_name}' cannot be found in the CloudFormation registry.")
        if handler not in type_schema.handlers or (handler == "create" and not type_schema.provisionable):
            why = f": {type_schema.why_not}" if handler == "create" and type_schema.why_not else ""
            raise cloudcontrol_error("UnsupportedActionException",
                                     f"Resource type {type_name} does not support {handler.upper()} action{why}")
        return type_schema


class _TableDoor:
    """The door of every type no other emulated service serves: ``resources.py``'s table. A new resource is the
    desired model plus its ``DERIVED_ATTRIBUTES``, and a random id for a primary identifier without a recipe."""

    def __init__(self, resources: ResourceStore, type_schema: TypeSchema) -> None:
        self._resources = resources
        self._type_schema = type_schema

    def get(self, account: str, region: str, identifier: str) -> dict[str, Any] | None:
        return self._resources.get(account, region, self._type_schema.type_name, identifier)

    def list(self, account: str, region: str, after: str | None, limit: int) -> list[tuple[str, dict[str, Any]]]:
        return self._resources.list(account, region, self._type_schema.type_name, after, limit)

    def create(self, account: str, region: str, desired: dict[str, Any]) -> tuple[str | None, Failure | None]:
        type_name, id_names = self._type_schema.type_name, top_level_names(self._type_schema.primary_identifier)
        model = derive_attributes(type_name, desired, region, account)
        for name in id_names:
            model.setdefault(name, str(uuid.uuid4()))  # no recipe: a random id, as many handlers make
        identifier = "|".join(str(model.get(name)) for name in id_names)
        if self.get(account, region, identifier) is not None:
            return identifier, ("AlreadyExists",
                                f"Resource of type '{type_name}' with identifier '{identifier}' already exists.")
        self._resources.put(account, region, type_name, identifier, model)
        return identifier, None

    def update(self, account: str, region: str, identifier: str, model: dict[str, Any]) -> Failure | None:
        self._resources.put(account, region, self._type_schema.type_name, identifier, model)
        return None

    def delete(self, account: str, region: str, identifier: str) -> Failure | None:
        self._resources.delete(account, region, self._type_schema.type_name, identifier)
        return None


def _create_problems(type_schema: TypeSchema, desired: dict[str, Any]) -> list[str]:
    """Why the type's handler would refuse ``desired``: read-only properties set, and the schema's complaints."""
    read_only = [pointer for pointer in type_schema.read_only if values_at(desired, pointer)]
    problems = [f"#/{'/'.join(model_parts(pointer))}: read-only property cannot be set" for pointer in read_only]
    return problems + model_violations(type_schema, desired)


def _update_failure(type_schema: TypeSchema, current: dict[str, Any], patched: Any) -> Failure | None:
    if not isinstance(patched, dict):
        return "InvalidRequest", "Invalid patch document: the patched model is not a JSON object."
    changed = [p for p in type_schema.create_only if values_at(current, p) != values_at(patched, p)]
    if changed:
        return "NotUpdatable", f"Invalid patch update: createOnlyProperties [{', '.join(changed)}] cannot be updated"
    changed = [p for p in type_schema.read_only if values_at(current, p) != values_at(patched, p)]
    if changed:
        return "InvalidRequest", f"Invalid patch update: readOnlyProperties [{', '.join(changed)}] cannot be updated"
    problems = model_violations(type_schema, patched)
    if problems:
        return "InvalidRequest", f"Model validation failed ({'; '.join(problems)})"
    return None


def _not_found(type_name: str, identifier: str) -> Failure:
    return "NotFound", f"Resource of type '{type_name}' with identifier '{identifier}' was not found."


def _description(type_schema: TypeSchema, identifier: str, model: dict[str, Any]) -> dict[str, Any]:
    """A resource as GetResource and ListResources return it: write-only properties left out."""
    shown = json.loads(json.dumps(model))
    for pointer in type_schema.write_only:
        drop_at(shown, model_parts(pointer))
    return {"Identifier": identifier, "Properties": json.dumps(shown)}


def _cursor(token: str | None, scope: list[Any]) -> str | None:
    try:
        return decode_next_token(token, scope)
    except ValueError as error:
        raise cloudcontrol_error("ValidationException", str(error)) from None


def _json_value(text: str, member: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        raise cloudcontrol_error("ValidationException", f"{member} is not valid JSON.") from None


def _json_object(text: str, member: str) -> dict[str, Any]:
    value = _json_value(text, member)
    if not isinstance(value, dict):
        raise cloudcontrol_error("ValidationException", f"{member} must be a JSON object.")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _raise_violations(violations: list[Any]) -> None:
    if not violations:
        return
    details = []
    for violation in violations:  # like AWS, name the member; echo the value unless it is sensitive
        text = f"'{format_path(violation.path)}' {violation.problem}"
        if violation.has_value and not violation.sensitive:
            text = f"Value {json.dumps(violation.value)} at {text}"
        details.append(text)
    count = len(violations)
    raise cloudcontrol_error(
        "ValidationException", f"{count} validation error{'s' if count > 1 else ''} detected: {'; '.join(details)}")


def _digest(call: Call) -> str:
    canonical = [call.operation, {k: v for k, v in call.body.items() if k != "ClientToken"}]
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
