"""Test helpers shared across the suite: a fake clock, boto3 clients, model-driven sample requests."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.model import ListShape, MapShape, Shape, StructureShape

from deployer.apimodel import compiled_pattern, shape
from deployer.connectors import CONFIG, CREDENTIALS, PROPERTIES, connector_key

DUMMY_CREDENTIALS = {"aws_access_key_id": "AKIDTEST", "aws_secret_access_key": "test-secret"}


class FakeClock:
    """A clock that moves only when told; its ``sleep`` advances it instead of waiting."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


def appflow_client(endpoint: str, region: str = "us-east-1", *, attempts: int = 1, **config: Any) -> Any:
    """A real boto3 AppFlow client for the emulator; by default it does not retry, so errors surface."""
    return boto3.client(
        "appflow",
        endpoint_url=endpoint,
        region_name=region,
        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}, **config),
        **DUMMY_CREDENTIALS,
    )


def cloudcontrol_client(endpoint: str, region: str = "us-east-1", *, attempts: int = 1, **config: Any) -> Any:
    """A real boto3 Cloud Control API client for the emulator (the same port as AppFlow); no retries by default."""
    return boto3.client(
        "cloudcontrol",
        endpoint_url=endpoint,
        region_name=region,
        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}, **config),
        **DUMMY_CREDENTIALS,
    )


# Candidate values for model strings; the first that satisfies the member's pattern and
# length is used, so a pattern added to the model later fails loudly here, not silently.
_STRING_CANDIDATES = [
    "sample-value",
    "https://example.my.salesforce.com",
    "arn:aws:iam::123456789012:role/sample-role",
    "arn:aws:kms:us-east-1:123456789012:key/sample-key",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:sample",
    "arn:aws:appflow:us-east-1:123456789012:connectorprofile/sample",
    "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
    "header.payload.signature",
    "100",
    "sample",
    "EN",
]


def sample_value(model_shape: Shape, name: str = "") -> Any:
    """A value for every member of ``model_shape`` that the API model accepts."""
    if isinstance(model_shape, StructureShape):
        return {member: sample_value(s, member) for member, s in model_shape.members.items()}
    if isinstance(model_shape, ListShape):
        return [sample_value(model_shape.member)]
    if isinstance(model_shape, MapShape):
        return {sample_value(model_shape.key): sample_value(model_shape.value)}
    kind = model_shape.type_name
    if kind == "boolean":
        return True
    if kind in ("integer", "long"):
        return max(int(model_shape.metadata.get("min", 1)), 1) if name != "portNumber" else 443
    if kind == "string":
        return model_shape.enum[0] if model_shape.enum else sample_string(model_shape)
    raise AssertionError(f"no sample for {kind}")


def sample_string(model_shape: Shape, candidates: list[str] = _STRING_CANDIDATES) -> str:
    """The first candidate that satisfies the model string's length and pattern."""
    meta = model_shape.metadata
    for candidate in candidates:
        fits = meta.get("min", 0) <= len(candidate) <= meta.get("max", 10_000)
        if fits and ("pattern" not in meta or compiled_pattern(meta["pattern"]).fullmatch(candidate)):
            return candidate
    raise AssertionError(f"no sample string fits {model_shape.name}: {meta}")


# Profile names against the model's [\w/!@#+=.-]+, read as ECMAScript reads it: \w is [A-Za-z0-9_],
# where Python's re alone would take any Unicode letter or digit. (id, name, accepted)
PROFILE_NAMES = [
    ("ascii", "crm_Profile-1/a@b#c+d=e.f", True),
    ("accented-letter", "café", False),
    ("cjk-letters", "café-名前", False),
    ("fullwidth-digits", "crm１２", False),
    ("arabic-indic-digits", "crm١٢٣", False),
]


def full_create_request(connector_type: str, name: str = "sample-profile") -> dict[str, Any]:
    """A CreateConnectorProfile request for ``connector_type`` with every member of its blocks set."""
    key = connector_key(connector_type)
    assert key is not None
    properties = shape("ConnectorProfileProperties").members  # type: ignore[attr-defined]
    credentials = shape("ConnectorProfileCredentials").members  # type: ignore[attr-defined]
    config: dict[str, Any] = {PROPERTIES: {key: sample_value(properties[key])} if key in properties else {}}
    if key in credentials:
        config[CREDENTIALS] = {key: sample_value(credentials[key])}
    request: dict[str, Any] = {
        "connectorProfileName": name,
        "connectorType": connector_type,
        "connectionMode": "Public",
        CONFIG: config,
    }
    if connector_type == "CustomConnector":
        request["connectorLabel"] = "my-connector"
    return request


def signed_call(
    endpoint: str, path: str, body: bytes | str, region: str = "us-east-1"
) -> tuple[int, dict[str, str], Any]:
    """POST ``body`` as-is, SigV4-signed like boto3 signs it: for input boto3 itself cannot serialize."""
    import json
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    data = body.encode() if isinstance(body, str) else body
    request = AWSRequest(method="POST", url=endpoint + path, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(DUMMY_CREDENTIALS["aws_access_key_id"], DUMMY_CREDENTIALS["aws_secret_access_key"]),
              "appflow", region).add_auth(request)
    prepared = urllib.request.Request(endpoint + path, data=data, headers=dict(request.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(prepared, timeout=10) as response:
            return response.status, dict(response.headers.items()), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), json.loads(error.read() or b"{}")


class MotoServer:
    """moto in server mode on 127.0.0.1, as its own process (S3, Secrets Manager, SSM, IAM...)."""

    def __init__(self, *, unauthenticated_actions: int | None = None) -> None:
        import os
        import socket
        import subprocess
        import sys

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = dict(os.environ)
        if unauthenticated_actions is not None:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(unauthenticated_actions)  # then IAM is enforced
        self._process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                          str(self.port)], env=env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        import socket
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)  # waiting for a child process to listen, not a test's clock
        raise RuntimeError("moto server did not start")

    def client(self, service: str, **credentials: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            **(credentials or DUMMY_CREDENTIALS))

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)


def names_outside_schema(props: Any) -> list[str]:
    """The property names in ``props`` (a resource's properties in CloudFormation spelling) that the schema of
    AWS::AppFlow::ConnectorProfile does not define where they stand, as dotted paths. The keys of maps are user
    data, not names; intrinsic functions ({"Ref": ...}) stand where the schema has a value."""
    from deployer.schema import connector_profile_schema

    schema = connector_profile_schema()
    definitions = schema["definitions"]
    found: list[str] = []

    def walk(value: Any, node: dict[str, Any], path: str) -> None:
        while "$ref" in node:
            node = definitions[node["$ref"].rsplit("/", 1)[-1]]
        if isinstance(value, list) and "items" in node:
            for item in value:
                walk(item, node["items"], f"{path}[]")
        if not isinstance(value, dict) or "properties" not in node:
            return
        for key, item in value.items():
            if key not in node["properties"]:
                found.append(f"{path}.{key}" if path else key)
            else:
                walk(item, node["properties"][key], f"{path}.{key}" if path else key)

    walk(props, schema, "")
    return found
