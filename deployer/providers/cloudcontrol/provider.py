"""The Cloud Control provider: the one place that calls the AWS Cloud Control API.

One implementation for every type Cloud Control can manage, driven by the type's schema
(terraform-provider-awscc's ``internal/generic/resource.go``). Values in and out use
CloudFormation property names; a live resource is a ``deployer.providers.Live`` whose
``identifier`` is Cloud Control's (primary identifier values joined by ``|``).

- ``read`` calls GetResource once per identifier, in a bounded pool: Cloud Control has no batch read.
- ``create``, ``update`` and ``delete`` make their request, then wait for it with the poller
  here, not the SDK's waiter (which gives up after two minutes and ignores ``RetryAfter``):
  GetResourceRequestStatus until SUCCESS or FAILED, sleeping until ``RetryAfter`` when AWS
  gives one and with capped exponential backoff otherwise, within a per-type timeout
  (the schema's ``timeoutInMinutes`` of the handler). Sleep and clock are injected, so tests never wait.

Errors are translated here, by code, never by message: a botocore ``ClientError``'s code and
a FAILED progress event's ``ErrorCode`` both become ``AwsError`` (``ResourceNotFound`` for
``ResourceNotFoundException`` / ``NotFound``) naming the operation, the type and the
identifier, with AWS's message. A call that got no answer is ``AwsError(answered=False)``.

Retries. ``RetryPolicy.call`` retries a fixed set of AppFlow error codes, and Cloud Control's
differ (``ConcurrentOperationException``, ``ServiceInternalErrorException``), so calls here
are retried by ``_retrying`` with the policy's own settings (attempts, backoff, ``sleep``,
``on_retry``) and Cloud Control's codes (``RETRYABLE_EXCEPTIONS``, from botocore's
cloudcontrol model). A request whose progress ends FAILED with a transient ``ErrorCode``
(``RETRYABLE_HANDLER_CODES``) is made again with a client token derived from the first, since
the same token would only replay the failed request. ``InvalidRequest``, ``NotUpdatable`` and
``AlreadyExists`` are never retried.
"""

from __future__ import annotations

import functools
import json
import random
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions

from deployer.aws import Clients
from deployer.errors import AwsError, ResourceNotFound, StackError
from deployer.providers import Live
from deployer.providers.cloudcontrol.patch import update_patch
from deployer.providers.cloudcontrol.resource import exports_of
from deployer.redact import redact_echo
from deployer.registry import DEFAULT_REGION, TypeSchema, type_schema
from deployer.retry import RetryPolicy

Progress = Callable[[dict[str, Any]], None]  # sees each ProgressEvent of a request as it comes

NEW = "(new)"  # the identifier of a resource AWS has not named yet, for messages
READ_WORKERS = 8  # GetResource calls in flight at once, per read

# Synchronous errors worth another try (botocore's cloudcontrol model names them): throttling, a
# request already in flight on the same resource, Cloud Control's own 500. Unanswered calls are retried too.
RETRYABLE_EXCEPTIONS = frozenset({
    "ThrottlingException", "ConcurrentOperationException", "ServiceInternalErrorException",
    "NetworkFailureException",
})
# A FAILED progress event's ErrorCode (the HandlerErrorCode enum) that a fresh request may get past.
RETRYABLE_HANDLER_CODES = frozenset({"Throttling", "NetworkFailure", "ServiceInternalError", "ResourceConflict"})
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NotFound"})

POLL_INITIAL_S = 1.0  # the first wait when AWS gives no RetryAfter; doubles after each poll
POLL_MAX_S = 30.0  # the longest single wait between polls
# How long a request may stay IN_PROGRESS before we stop waiting (AWS goes on with it): the schema's
# handlers.<operation>.timeoutInMinutes (Redshift and RDS declare 36 hours), else the CloudFormation
# resource schema's documented default for a handler's timeout, 120 minutes.
DEFAULT_TIMEOUT_S = 120 * 60.0
_OPERATION_HANDLERS = {"CreateResource": "create", "UpdateResource": "update", "DeleteResource": "delete"}


class CloudControlProvider:
    """Create, read, update and delete any Cloud Control type, by type name."""

    def __init__(self, clients: Clients, retry: RetryPolicy | None = None, *,
                 clock: Callable[[], float] = time.time,
                 schemas: Callable[[str, str], TypeSchema] = type_schema,
                 timeouts: Mapping[str, float] | None = None,
                 read_workers: int = READ_WORKERS) -> None:
        self._clients = clients
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._schemas = schemas
        self._timeouts = dict(timeouts or {})  # by type, overriding the schema's (for tests)
        self._read_workers = max(1, read_workers)

    def _client(self, region: str) -> Any:
        return self._clients.client("cloudcontrol", region)

    def timeout(self, type_name: str, operation: str = "CreateResource") -> float:
        if type_name in self._timeouts:
            return self._timeouts[type_name]
        try:
            handlers = self._schemas(type_name, DEFAULT_REGION).schema.get("handlers") or {}
        except StackError:
            return DEFAULT_TIMEOUT_S
        minutes = (handlers.get(_OPERATION_HANDLERS.get(operation, "create")) or {}).get("timeoutInMinutes")
        return float(minutes) * 60 if isinstance(minutes, (int, float)) and minutes > 0 else DEFAULT_TIMEOUT_S

    # Reads.

    def read(self, type_name: str, region: str, identifiers: list[str]) -> dict[str, Live]:
        """The resources that exist, by identifier; an identifier that is not found is left out."""
        wanted = sorted(set(identifiers))
        if not wanted:
            return {}
        with ThreadPoolExecutor(max_workers=min(self._read_workers, len(wanted))) as pool:
            found = list(pool.map(lambda identifier: self._get(type_name, region, identifier), wanted))
        return {live.identifier: live for live in found if live is not None}

    def read_many(self, wanted: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], Live]:
        """``read`` for (type, region, identifier) triples of any types, all in the one bounded pool: a stack of
        many types takes as many rounds as its resources need, not one round per type."""
        unique = sorted(set(wanted))
        if not unique:
            return {}
        with ThreadPoolExecutor(max_workers=min(self._read_workers, len(unique))) as pool:
            found = list(pool.map(lambda item: self._get(*item), unique))
        return {(t, r, live.identifier): live for (t, r, _), live in zip(unique, found, strict=True)
                if live is not None}

    def _get(self, type_name: str, region: str, identifier: str) -> Live | None:
        try:
            answer = self._call("GetResource", type_name, identifier, self._client(region).get_resource,
                                TypeName=type_name, Identifier=identifier)
        except ResourceNotFound:
            return None
        described = answer["ResourceDescription"]
        return _live(self._schemas(type_name, DEFAULT_REGION), described.get("Identifier") or identifier,
                     described.get("Properties") or "{}")

    # Changes.

    def create(self, type_name: str, region: str, desired: dict[str, Any], client_token: str,
               progress: Progress | None = None) -> Live:
        """Create the resource and wait for it; the identifier and the properties read back after success.
        ``progress`` sees every progress event as it comes (the request token first, the identifier once AWS
        gives it), so the caller can record them before waiting on."""
        state = json.dumps(desired, sort_keys=True)
        event = self._request("CreateResource", type_name, region, NEW, client_token,
                              lambda token: self._client(region).create_resource(
                                  TypeName=type_name, DesiredState=state, ClientToken=token), progress)
        identifier = str(event.get("Identifier") or "")
        return self._read_back("CreateResource", type_name, region, identifier)

    def resume(self, type_name: str, region: str, request_token: str) -> dict[str, Any]:
        """Wait for a request an earlier run made (its token recorded before it crashed): its last progress
        event, SUCCESS or FAILED. A token AWS no longer knows (older than 7 days) is an error."""
        event = self._call("GetResourceRequestStatus", type_name, "(request)",
                           lambda: self._client(region).get_resource_request_status(RequestToken=request_token)
                           )["ProgressEvent"]
        return self._wait("CreateResource", type_name, region, str(event.get("Identifier") or NEW), event)

    def update(self, type_name: str, region: str, identifier: str, last_applied: dict[str, Any],
               desired: dict[str, Any], client_token: str) -> Live:
        """Apply the RFC 6902 patch from ``last_applied`` to ``desired``; an empty patch makes no UpdateResource
        call. The properties read back afterwards."""
        patch = update_patch(self._schemas(type_name, region).schema, last_applied, desired)
        if patch:
            document = json.dumps(patch)
            self._request("UpdateResource", type_name, region, identifier, client_token,
                          lambda token: self._client(region).update_resource(
                              TypeName=type_name, Identifier=identifier, PatchDocument=document, ClientToken=token))
        return self._read_back("UpdateResource", type_name, region, identifier)

    def delete(self, type_name: str, region: str, identifier: str) -> None:
        """Delete the resource and wait for it; one that is already gone counts as deleted."""
        try:
            self._request("DeleteResource", type_name, region, identifier, str(uuid.uuid4()),
                          lambda token: self._client(region).delete_resource(
                              TypeName=type_name, Identifier=identifier, ClientToken=token))
        except ResourceNotFound:
            return

    def _read_back(self, operation: str, type_name: str, region: str, identifier: str) -> Live:
        live = self._get(type_name, region, identifier)
        if live is None:
            raise ResourceNotFound(f"{operation} of {type_name} '{identifier}' succeeded, but GetResource does "
                                   f"not find it", code="ResourceNotFoundException", operation="GetResource",
                                   resource=f"{type_name} '{identifier}'")
        return live

    def _request(self, operation: str, type_name: str, region: str, identifier: str, client_token: str,
                 send: Callable[[str], Any], progress: Progress | None = None) -> dict[str, Any]:
        """Make a resource request and wait for its outcome: the SUCCESS progress event, or an error. A FAILED
        event with a transient ErrorCode is retried as a new request (a derived client token)."""
        attempts = max(1, self._retry.max_attempts)
        for attempt in range(1, attempts + 1):
            token = client_token if attempt == 1 else _derived_token(client_token, attempt)
            made = self._call(operation, type_name, identifier, functools.partial(send, token))
            if progress is not None:
                progress(made["ProgressEvent"])
            event = self._wait(operation, type_name, region, identifier, made["ProgressEvent"], progress)
            if event["OperationStatus"] == "SUCCESS":
                return event
            code = str(event.get("ErrorCode") or "GeneralServiceException")
            if code in RETRYABLE_HANDLER_CODES and attempt < attempts:
                if self._retry.on_retry:
                    self._retry.on_retry(operation, _resource(type_name, identifier), attempt)
                self._retry.sleep(_backoff(self._retry, attempt))
                continue
            raise _failed(operation, type_name, str(event.get("Identifier") or identifier), code,
                          str(event.get("StatusMessage") or ""), attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, operation: str, type_name: str, region: str, identifier: str,
              event: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
        """Poll GetResourceRequestStatus until the request is SUCCESS or FAILED, or the type's timeout passes."""
        started = self._clock()
        deadline = started + self.timeout(type_name, operation)
        pause = POLL_INITIAL_S
        token = event["RequestToken"]
        while event["OperationStatus"] not in ("SUCCESS", "FAILED"):
            now = self._clock()
            if now >= deadline:
                raise AwsError(
                    f"{operation} of {type_name} '{event.get('Identifier') or identifier}' is still "
                    f"{event['OperationStatus']} after {now - started:.0f} s (the limit for {type_name}); AWS goes on "
                    f"with it: check it with `aws cloudcontrol get-resource-request-status --request-token {token}` "
                    f"and run again once it is done", code="Timeout", operation=operation,
                    resource=_resource(type_name, identifier), answered=False)  # it may still happen
            retry_after = _epoch(event.get("RetryAfter"))
            if retry_after is not None and retry_after > now:
                wait = min(retry_after - now, POLL_MAX_S)  # AWS's clock, not ours: a skew must not stall us
            else:  # a time already past means "now" once; after that, back off so a stale one cannot spin
                wait = 0.0 if retry_after is not None and pause == POLL_INITIAL_S else pause
            self._retry.sleep(min(wait, deadline - now))
            pause = min(pause * 2, POLL_MAX_S)
            event = self._call("GetResourceRequestStatus", type_name, identifier,
                               lambda: self._client(region).get_resource_request_status(RequestToken=token)
                               )["ProgressEvent"]
            if progress is not None:
                progress(event)
        return event

    # The boundary: every boto3 call goes through here.

    def _call(self, operation: str, type_name: str, identifier: str, method: Callable[..., Any],
              **arguments: Any) -> Any:
        resource = _resource(type_name, identifier)
        return _retrying(self._retry, operation, resource, lambda: _call(operation, resource, method, **arguments))


def _retrying(policy: RetryPolicy, operation: str, resource: str, attempt: Callable[[], Any]) -> Any:
    """``attempt`` until it succeeds, fails for good or the policy's attempts run out; Cloud Control's codes."""
    attempts = max(1, policy.max_attempts)
    for number in range(1, attempts + 1):
        try:
            return attempt()
        except AwsError as error:
            retryable = not error.answered or error.code in RETRYABLE_EXCEPTIONS
            if not retryable:
                raise
            if number == attempts:
                if number == 1:
                    raise
                raise type(error)(f"{error} (gave up after {number} attempts)", code=error.code,
                                  operation=error.operation, resource=error.resource,
                                  answered=error.answered) from None
            if policy.on_retry:
                policy.on_retry(operation, resource, number)
            policy.sleep(_backoff(policy, number))
    raise AssertionError("unreachable")  # pragma: no cover


def _backoff(policy: RetryPolicy, attempt: int) -> float:
    """Exponential from the policy's initial wait, capped at its longest, with up to one initial wait of jitter."""
    if policy.max_wait <= 0:
        return 0.0
    jitter = min(policy.initial_wait, policy.max_wait)
    return min(policy.initial_wait * 2 ** (attempt - 1), policy.max_wait - jitter) + random.uniform(0, jitter)


def _call(operation: str, resource: str, method: Callable[..., Any], **arguments: Any) -> Any:
    """Call AWS; translate its errors by code into the deployer's."""
    try:
        return method(**arguments)
    except botocore.exceptions.ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "Unknown"))
        message = redact_echo(str(error.response.get("Error", {}).get("Message", "")))
        kind = ResourceNotFound if code in NOT_FOUND_CODES else AwsError
        raise kind(f"{operation} failed for {resource}: {code}: {message}", code=code, operation=operation,
                   resource=resource) from None
    except botocore.exceptions.NoCredentialsError:
        raise AwsError("no AWS credentials found: configure them (aws configure, AWS_PROFILE, environment "
                       "variables)", code="NoCredentials", operation=operation, resource=resource) from None
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as error:
        # never sent, so answered: nothing happened, and it is not retried (it will not heal within a run)
        url = urlsplit(str(error.kwargs.get("endpoint_url", "")))
        raise AwsError(f"{operation} failed for {resource}: cannot reach the Cloud Control endpoint "
                       f"{url.scheme}://{url.netloc}; check the network and AWS_ENDPOINT_URL_CLOUDCONTROL",
                       code="EndpointConnectionError", operation=operation, resource=resource) from None
    except botocore.exceptions.BotoCoreError as error:
        # sent, but no answer came back: it may have happened (retried: requests carry a client token)
        raise AwsError(f"{operation} for {resource} got no answer: {error}", code=type(error).__name__,
                       operation=operation, resource=resource, answered=False) from None


def _failed(operation: str, type_name: str, identifier: str, code: str, message: str, attempts: int) -> AwsError:
    """The error for a request whose progress ended FAILED with ``code`` (a HandlerErrorCode)."""
    resource = _resource(type_name, identifier)
    message = redact_echo(message)
    tried = f" (gave up after {attempts} attempts)" if attempts > 1 else ""
    if code == "AlreadyExists":
        return AwsError(f"{operation} failed for {resource}: the identifier is taken, a {type_name} with it already "
                        f"exists (AlreadyExists: {message}); choose another name, or import the existing one",
                        code=code, operation=operation, resource=resource)
    kind = ResourceNotFound if code in NOT_FOUND_CODES else AwsError
    return kind(f"{operation} failed for {resource}: {code}: {message}{tried}", code=code, operation=operation,
                resource=resource)


def _resource(type_name: str, identifier: str) -> str:
    return f"a new {type_name}" if identifier == NEW else f"{type_name} '{identifier}'"


def _live(schema: TypeSchema, identifier: str, properties_json: str) -> Live:
    properties = json.loads(properties_json)
    arn = properties.get("Arn")
    return Live(identifier, arn if isinstance(arn, str) else "", properties, exports_of(schema, properties))


def _derived_token(client_token: str, attempt: int) -> str:
    """The client token of a request made again after a transient failure (ClientToken: at most 128 characters)."""
    return f"{client_token[:120]}-r{attempt}"


def _epoch(value: Any) -> float | None:
    """A progress event's timestamp (botocore parses it to a datetime) as epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    return None
