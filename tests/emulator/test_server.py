"""The wire protocol: signing, malformed input, sizes, unknown paths, error format."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from deployer.apimodel import output_members
from deployer.emulator import Emulator
from deployer.emulator.server import MAX_BODY_BYTES
from deployer.emulator.service import OPERATIONS
from tests.support import appflow_client, full_create_request, signed_call


def _raw(emulator: Emulator, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    url = urlparse(emulator.endpoint)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_unsigned_request_is_refused_with_403(emulator: Emulator) -> None:
    unsigned = boto3.client("appflow", endpoint_url=emulator.endpoint, region_name="us-east-1",
                            config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
    with pytest.raises(unsigned.exceptions.ClientError) as raised:
        unsigned.describe_connector_profiles()
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"] == {"Code": "MissingAuthenticationTokenException", "Message": "Missing Authentication Token"}


def test_authorization_without_a_credential_scope_is_refused(emulator: Emulator) -> None:
    status, headers, body = _raw(emulator, "/describe-connector-profiles", b"{}", {"Authorization": "Bearer abc"})
    assert (status, headers["x-amzn-ErrorType"]) == (403, "IncompleteSignatureException")
    assert "Credential scope" in body["message"]


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (b"{not json", "SerializationException"),
        (b"[1, 2]", "SerializationException"),
        (b'{"connectorProfileName": 7}', "ValidationException"),
        (b'{"connectorProfileName": {"deep": [1]}}', "ValidationException"),
    ],
    ids=["not-json", "not-an-object", "number-for-string", "object-for-string"],
)
def test_malformed_body_is_a_400(emulator: Emulator, body: bytes, error_type: str) -> None:
    status, headers, answer = signed_call(emulator.endpoint, "/delete-connector-profile", body)
    assert (status, headers["x-amzn-ErrorType"]) == (400, error_type)
    assert answer["message"]
    # and the server still answers afterwards
    assert signed_call(emulator.endpoint, "/describe-connector-profiles", b"{}")[0] == 200


def test_oversized_body_is_refused_without_reading_it(emulator: Emulator) -> None:
    body = b"{" + b" " * MAX_BODY_BYTES + b"}"
    status, headers, answer = signed_call(emulator.endpoint, "/create-connector-profile", body)
    assert (status, headers["x-amzn-ErrorType"]) == (413, "RequestEntityTooLargeException")
    assert signed_call(emulator.endpoint, "/describe-connector-profiles", b"{}")[0] == 200


_S3_FLOW = {
    "flowName": "ff",
    "triggerConfig": {"triggerType": "Scheduled",
                      "triggerProperties": {"Scheduled": {"scheduleExpression": "rate(1hours)"}}},
    "sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {"S3": {"bucketName": "in-bucket"}}},
    "destinationFlowConfigList": [
        {"connectorType": "S3", "destinationConnectorProperties": {"S3": {"bucketName": "out-bucket"}}},
    ],
    "tasks": [{"sourceFields": ["id"], "connectorOperator": {"S3": "PROJECTION"}, "taskType": "Filter"}],
}


def _call_flow(appflow: Any, operation: str) -> dict[str, Any]:
    """A successful call of a flow operation, on a scheduled S3-to-S3 flow (no profile; buckets not checked)."""
    if operation == "CreateFlow":
        return dict(appflow.create_flow(**_S3_FLOW))
    appflow.create_flow(**_S3_FLOW)
    if operation == "StopFlow":
        appflow.start_flow(flowName="ff")
    calls = {
        "UpdateFlow": lambda: appflow.update_flow(**_S3_FLOW),
        "DeleteFlow": lambda: appflow.delete_flow(flowName="ff"),
        "DescribeFlow": lambda: appflow.describe_flow(flowName="ff"),
        "ListFlows": lambda: appflow.list_flows(),
        "StartFlow": lambda: appflow.start_flow(flowName="ff"),
        "StopFlow": lambda: appflow.stop_flow(flowName="ff"),
        "DescribeFlowExecutionRecords": lambda: appflow.describe_flow_execution_records(flowName="ff"),
    }
    return dict(calls[operation]())


def _call(appflow: Any, operation: str) -> dict[str, Any]:
    if "Flow" in operation:
        return _call_flow(appflow, operation)
    zendesk = full_create_request("Zendesk", "zd")
    if operation == "CreateConnectorProfile":
        return dict(appflow.create_connector_profile(**zendesk))
    appflow.create_connector_profile(**zendesk)
    if operation == "UpdateConnectorProfile":
        return dict(appflow.update_connector_profile(connectorProfileName="zd", connectionMode="Public",
                                                     connectorProfileConfig=zendesk["connectorProfileConfig"]))
    if operation == "DeleteConnectorProfile":
        return dict(appflow.delete_connector_profile(connectorProfileName="zd"))
    return dict(appflow.describe_connector_profiles())


@pytest.mark.parametrize("operation", sorted(OPERATIONS.values()))
def test_a_success_has_a_body_only_when_the_output_shape_has_members(emulator: Emulator, operation: str) -> None:
    """DeleteConnectorProfile's and DeleteFlow's outputs are empty structures; the API reference: "an HTTP 200
    response with an empty HTTP body". The others answer JSON."""
    emulator.knobs.check_buckets = False
    response = _call(appflow_client(emulator.endpoint), operation)
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    if output_members(operation):
        assert headers["content-type"] == "application/json"
        assert int(headers["content-length"]) > 2
    else:
        assert headers["content-length"] == "0"
        assert "content-type" not in headers
        assert set(response) == {"ResponseMetadata"}


def test_delete_answers_an_empty_body_on_the_wire(emulator: Emulator) -> None:
    appflow_client(emulator.endpoint).create_connector_profile(**full_create_request("Zendesk", "zd"))
    url = urlparse(emulator.endpoint)
    request = AWSRequest(method="POST", url=emulator.endpoint + "/delete-connector-profile",
                         data=b'{"connectorProfileName": "zd"}', headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("AKIDTEST", "test-secret"), "appflow", "us-east-1").add_auth(request)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("POST", "/delete-connector-profile", body=request.body, headers=dict(request.headers))
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"")
    finally:
        connection.close()


def test_unknown_path_is_a_404(emulator: Emulator) -> None:
    status, headers, _ = signed_call(emulator.endpoint, "/create-flux-capacitor", b"{}")
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")


def test_region_comes_from_the_credential_scope(emulator: Emulator) -> None:
    status, _, body = signed_call(emulator.endpoint, "/create-connector-profile",
                                  json.dumps(full_create_request("Zendesk", "zd")), region="ap-south-1")
    assert status == 200
    assert body["connectorProfileArn"] == "arn:aws:appflow:ap-south-1:123456789012:connectorprofile/zd"


def test_binds_to_loopback_by_default(emulator: Emulator) -> None:
    assert urlparse(emulator.endpoint).hostname == "127.0.0.1"
