"""AWS::AppFlow::ConnectorProfile through Cloud Control, kept where the AppFlow API keeps it: one profile, two doors.

In AWS, Cloud Control's handlers for the type call AppFlow's API, so a profile made through either API is seen
through both. This door does the same on the emulator's own store: a model in CloudFormation names becomes an
AppFlow request (``convert.to_api``), is checked by the rules the AppFlow API checks (``service.request_violations``,
the model and the connector rules) and is stored by the same ``create_profile``, ``update_profile`` and
``delete_profile``; a stored profile reads back in CloudFormation names (``convert.to_cfn``) with its read-only
ConnectorProfileArn and CredentialsArn. Credentials are never stored, so never read back, and Cloud Control
leaves the write-only ConnectorProfileConfig and KMSArn out of its answers anyway. AppFlow's refusals become
handler error codes (``HANDLER_ERRORS``), their paths in CloudFormation names.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from deployer.apimodel import ApiPath, Violation, input_shape
from deployer.connectors import CONFIG, CREDENTIALS
from deployer.emulator.knobs import Clock, Knobs
from deployer.emulator.resources import Failure
from deployer.emulator.service import (
    ApiError,
    InvalidRequest,
    create_profile,
    delete_profile,
    profile_arn,
    request_violations,
    update_profile,
    violations_message,
)
from deployer.emulator.store import Store, StoredProfile

CREATE, UPDATE = "CreateConnectorProfile", "UpdateConnectorProfile"
READ_ONLY = ("ConnectorProfileArn", "CredentialsArn")  # the schema's readOnlyProperties: no request member

# AppFlow's error codes as Cloud Control's HandlerErrorCode (Cloud Control API reference, "Handler error codes").
HANDLER_ERRORS = {
    "ValidationException": "InvalidRequest",
    "ConflictException": "AlreadyExists",
    "ResourceNotFoundException": "NotFound",
    "ServiceQuotaExceededException": "ServiceLimitExceeded",
}


class ConnectorProfileDoor:
    """The ``ResourceDoor`` of AWS::AppFlow::ConnectorProfile: the AppFlow API's profiles, by ConnectorProfileName."""

    def __init__(self, store: Store, knobs: Knobs, clock: Clock) -> None:
        self._store = store
        self._knobs = knobs
        self._clock = clock

    def get(self, account: str, region: str, identifier: str) -> dict[str, Any] | None:
        profile = self._store.get(account, region, identifier)
        return _model(profile) if profile is not None else None

    def list(self, account: str, region: str, after: str | None, limit: int) -> list[tuple[str, dict[str, Any]]]:
        later = [profile for profile in self._store.list(account, region) if profile.name > (after or "")]
        return [(profile.name, _model(profile)) for profile in later[:limit]]

    def create(self, account: str, region: str, desired: dict[str, Any]) -> tuple[str | None, Failure | None]:
        name = desired.get("ConnectorProfileName")
        body, failure = _request(CREATE, desired)
        if failure is None:
            try:
                create_profile(self._store, self._knobs, self._clock(), account, region, body)
            except ApiError as error:
                failure = _failure(error)
        return name if isinstance(name, str) else None, failure

    def update(self, account: str, region: str, identifier: str, model: dict[str, Any]) -> Failure | None:
        body, failure = _request(UPDATE, model)
        if failure is not None:
            return failure
        try:
            update_profile(self._store, self._knobs, self._clock(), account, region, body, _cfn_member)
        except ApiError as error:
            return _failure(error)
        return None

    def delete(self, account: str, region: str, identifier: str) -> Failure | None:
        try:
            delete_profile(self._store, account, region, identifier)
        except ApiError as error:
            if error.code == "ConflictException":  # on a delete: a flow uses the profile, not a name taken
                return "ResourceConflict", error.message
            return _failure(error)
        return None


def _model(profile: StoredProfile) -> dict[str, Any]:
    """A stored profile as Cloud Control's model: what a create request would have said, and the read-only ARNs."""
    request: dict[str, Any] = {
        "connectorProfileName": profile.name,
        "connectorType": profile.connector_type,
        "connectionMode": profile.connection_mode,
        CONFIG: {"connectorProfileProperties": profile.properties},
    }
    if profile.connector_label:
        request["connectorLabel"] = profile.connector_label
    if profile.kms_arn:
        request["kmsArn"] = profile.kms_arn
    from deployer.convert import to_cfn  # the converter brings the manifest side along: only when this type is used

    model, _ = to_cfn(request, input_shape(CREATE))  # stored properties passed the model: all have CFN names
    return {**model, "ConnectorProfileArn": profile_arn(profile), "CredentialsArn": profile.credentials_arn}


def _request(operation: str, model: dict[str, Any]) -> tuple[dict[str, Any], Failure | None]:
    """The AppFlow request that makes ``model`` so, and why AppFlow would refuse it, if it would."""
    from deployer.convert import to_api

    create_shape = input_shape(CREATE)  # the schema's properties are the create request's members
    conversion = to_api(model, create_shape, not_in_api=READ_ONLY)
    if conversion.problems:
        return {}, ("InvalidRequest", violations_message([_hidden(v, v.path) for v in conversion.problems]))
    body = conversion.value
    if operation == UPDATE:  # what an update may change; create-only properties were compared already
        body = {member: body[member] for member in input_shape(UPDATE).members if member in body}
    violations = request_violations(operation, body, _cfn_member)
    if violations:
        return body, ("InvalidRequest", _in_cfn_words(violations))
    return body, None


def _cfn_member(api_path: ApiPath) -> str:
    """The CloudFormation name of the member an API path ends in, for fixes (as ``stack validate`` words them)."""
    from deployer.convert import cfn_path

    return str(cfn_path(api_path, input_shape(CREATE))[-1])


def _failure(error: ApiError) -> Failure:
    message = _in_cfn_words(error.violations) if isinstance(error, InvalidRequest) else error.message
    return HANDLER_ERRORS.get(error.code, "GeneralServiceException"), message


def _in_cfn_words(violations: list[Violation]) -> str:
    """AppFlow's message for ``violations``, with paths in CloudFormation names; credentials are never quoted."""
    from deployer.convert import cfn_path

    shape = input_shape(CREATE)
    return violations_message([_hidden(v, cfn_path(v.path, shape)) for v in violations])


def _hidden(violation: Violation, path: tuple[str | int, ...]) -> Violation:
    """``violation`` at ``path``, sensitive when it is about credentials (judged by its API path, or by either
    spelling of the credentials block)."""
    about_credentials = any(part in (CREDENTIALS, "ConnectorProfileCredentials") for part in violation.path)
    return replace(violation, path=path, sensitive=violation.sensitive or about_credentials)
