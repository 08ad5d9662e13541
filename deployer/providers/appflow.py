"""The AppFlow connector-profile provider: the one place that calls the AppFlow API.

Reads up to 100 profiles per DescribeConnectorProfiles call. AWS errors become
``AwsError`` (or ``ResourceNotFound``) by error code, with the operation and the
resource named; the SDK's own retries (standard mode) happen inside the client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions

from deployer.aws import Clients
from deployer.errors import AwsError, ResourceNotFound
from deployer.providers import Live
from deployer.redact import redact_echo
from deployer.retry import RetryPolicy
from deployer.schema import TYPE_NAME

DESCRIBE_BATCH = 100  # DescribeConnectorProfiles takes at most 100 names
PRIVATE_TIMEOUT_S = 600.0


class AppFlowProvider:
    type_name = TYPE_NAME

    def __init__(self, clients: Clients, retry: RetryPolicy | None = None) -> None:
        self._clients = clients
        self._retry = retry or RetryPolicy()

    def _call(self, operation: str, resource: str, method: Callable[..., Any], **arguments: Any) -> Any:
        return self._retry.call(operation, resource, lambda: _call(operation, resource, method, **arguments))

    def _client(self, region: str) -> Any:
        return self._clients.client("appflow", region)

    def read(self, region: str, identifiers: list[str]) -> dict[str, Live]:
        found: dict[str, Live] = {}
        names = sorted(set(identifiers))
        for start in range(0, len(names), DESCRIBE_BATCH):
            batch = names[start : start + DESCRIBE_BATCH]
            for detail in self._describe(region, batch):
                live = _live(detail)
                found[live.identifier] = live
        return found

    def _describe(self, region: str, names: list[str]) -> Iterator[dict[str, Any]]:
        arguments: dict[str, Any] = {"connectorProfileNames": names, "maxResults": DESCRIBE_BATCH}
        while True:
            page = self._call("DescribeConnectorProfiles", ", ".join(names[:3]) + ("..." if len(names) > 3 else ""),
                         self._client(region).describe_connector_profiles, **arguments)
            yield from page.get("connectorProfileDetails", [])
            if not page.get("nextToken"):
                return
            arguments["nextToken"] = page["nextToken"]

    def create(self, region: str, request: dict[str, Any], client_token: str) -> dict[str, Any]:
        name = request["connectorProfileName"]
        answer = self._call("CreateConnectorProfile", name, self._client(region).create_connector_profile,
                       clientToken=client_token, **request)
        return {"ConnectorProfileArn": answer["connectorProfileArn"], "ConnectorProfileName": name}

    def update(self, region: str, request: dict[str, Any], client_token: str) -> dict[str, Any]:
        name = request["connectorProfileName"]
        update = {k: request[k] for k in ("connectorProfileName", "connectionMode", "connectorProfileConfig")}
        answer = self._call("UpdateConnectorProfile", name, self._client(region).update_connector_profile,
                       clientToken=client_token, **update)
        return {"ConnectorProfileArn": answer["connectorProfileArn"], "ConnectorProfileName": name}

    def wait_until_ready(self, region: str, identifier: str) -> Live:
        """Poll until a Private profile's connection is CREATED; FAILED or a timeout is an error."""
        waited, pause = 0.0, 1.0
        while True:
            live = self.read(region, [identifier]).get(identifier)
            if live is None:
                raise AwsError(f"'{identifier}' disappeared while its private connection was provisioned",
                               code="ResourceNotFoundException", operation="DescribeConnectorProfiles",
                               resource=identifier)
            if live.status in (None, "CREATED"):
                return live
            if live.status == "FAILED":
                raise AwsError(f"the private connection of '{identifier}' failed: {live.failure}",
                               code="PrivateConnectionFailed", operation="DescribeConnectorProfiles",
                               resource=identifier)
            if waited >= PRIVATE_TIMEOUT_S:
                raise AwsError(f"the private connection of '{identifier}' is still {live.status} after "
                               f"{waited:.0f} s; run deploy again later to check on it", code="Timeout",
                               operation="DescribeConnectorProfiles", resource=identifier)
            self._retry.sleep(pause)
            waited += pause
            pause = min(pause * 2, 15.0)

    def delete(self, region: str, identifier: str) -> None:
        self._call("DeleteConnectorProfile", identifier, self._client(region).delete_connector_profile,
              connectorProfileName=identifier)


def _live(detail: dict[str, Any]) -> Live:
    properties: dict[str, Any] = {
        "connectorProfileName": detail["connectorProfileName"],
        "connectorType": detail.get("connectorType"),
        "connectionMode": detail.get("connectionMode"),
        "connectorProfileConfig": {"connectorProfileProperties": detail.get("connectorProfileProperties") or {}},
    }
    if detail.get("connectorLabel"):
        properties["connectorLabel"] = detail["connectorLabel"]
    exports = {
        "ConnectorProfileArn": detail.get("connectorProfileArn"),
        "CredentialsArn": detail.get("credentialsArn"),
        "ConnectorProfileName": detail["connectorProfileName"],
    }
    provisioning = detail.get("privateConnectionProvisioningState") or {}
    failure = ", ".join(str(provisioning[k]) for k in ("failureMessage", "failureCause") if provisioning.get(k))
    return Live(detail["connectorProfileName"], detail.get("connectorProfileArn", ""), properties, exports,
                provisioning.get("status"), failure)


def _call(operation: str, resource: str, method: Callable[..., Any], **arguments: Any) -> Any:
    """Call AWS; translate its errors by code into the deployer's."""
    try:
        return method(**arguments)
    except botocore.exceptions.ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "Unknown"))
        message = redact_echo(str(error.response.get("Error", {}).get("Message", "")))
        kind = ResourceNotFound if code == "ResourceNotFoundException" else AwsError
        raise kind(f"{operation} failed for '{resource}': {code}: {message}", code=code, operation=operation,
                   resource=resource) from None
    except botocore.exceptions.NoCredentialsError:
        raise AwsError("no AWS credentials found: configure them (aws configure, AWS_PROFILE, environment "
                       "variables), or run with --local to use the embedded local cloud",
                       code="NoCredentials", operation=operation, resource=resource) from None
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as error:
        # never sent, so answered: nothing happened, and the deployer does not retry it (see retry.py)
        raise AwsError(f"{operation} failed for '{resource}': cannot reach the AppFlow endpoint "
                       f"{_unreachable(error)}; check the network and AWS_ENDPOINT_URL_APPFLOW",
                       code="EndpointConnectionError", operation=operation, resource=resource) from None
    except botocore.exceptions.BotoCoreError as error:
        # sent, but no answer came back (read timeout, dropped connection): it may have happened
        raise AwsError(f"{operation} for '{resource}' got no answer: {error}", code=type(error).__name__,
                       operation=operation, resource=resource, answered=False) from None


def _unreachable(error: botocore.exceptions.BotoCoreError) -> str:
    """The endpoint (without the operation's path) and why it could not be reached: 'http://host:1 (Connection
    refused)'. The reason is the operating system's, found in the chain of causes."""
    url = urlsplit(str(error.kwargs.get("endpoint_url", "")))
    reason = "timed out" if isinstance(error, botocore.exceptions.ConnectTimeoutError) else "no connection"
    cause: BaseException | None = error.kwargs.get("error")
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            reason = cause.strerror
            break
        cause = cause.__cause__ or cause.__context__
    return f"{url.scheme}://{url.netloc} ({reason})"
