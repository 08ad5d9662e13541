"""The emulator's wire format: HTTP/1.1 messages, AppFlow's rest-json and Cloud Control's JSON 1.0, as values.

``parse_head`` turns a request's head (request line and headers) into a ``Head`` or
raises ``WireError``; ``answer`` turns a complete ``Request`` into a ``Response`` by
way of ``AppFlowService``; ``render`` turns a ``Response`` into bytes. Nothing here
touches a socket: ``server.py`` frames requests off connections and writes the bytes.
Errors are answered the way AWS answers them, so that boto3 raises its modeled
exceptions: the code in ``x-amzn-ErrorType`` and ``{"message": ...}`` in the body.
An operation whose output shape has no members (``DeleteConnectorProfile``) is
answered with an empty body, as the AppFlow API reference says ("an HTTP 200
response with an empty HTTP body"). The tagging operations are the only ones not POSTed to a
fixed path: ``/tags/{resourceArn}`` by method, with ``tagKeys`` in the query string for
UntagResource. A request with an ``X-Amz-Target`` header is JSON 1.0:
``CloudApiService.<Operation>`` goes to ``CloudControlService``, and its errors also carry the
code as ``__type`` in the body, as AWS's JSON protocols do.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from itertools import accumulate
from typing import Any
from urllib.parse import parse_qs, unquote

from deployer.apimodel import output_members
from deployer.emulator.cloudcontrol import SIGNING_NAME, CloudControlService, operation_for
from deployer.emulator.flows import TAG_OPERATIONS
from deployer.emulator.service import OPERATIONS, ApiError, AppFlowService, Call, LostResponse


@dataclass(frozen=True)
class Limits:
    """How much one client may ask of the emulator; a client past a limit gets a 4xx, never a thread for long."""

    max_body_bytes: int = 1024 * 1024
    drain_limit_bytes: int = 16 * 1024 * 1024  # an announced body up to this is read away before the 413
    max_head_bytes: int = 16 * 1024  # request line and headers together
    max_headers: int = 100
    max_json_depth: int = 64  # AppFlow's deepest request nests 6 levels
    max_message_chars: int = 32 * 1024  # an error message that quotes a huge request is cut here
    max_handlers: int = 64  # requests answered at once, one worker thread each
    max_connections: int = 1024  # open connections; past it the least recently active one not answering is closed
    idle_timeout_s: float = 5.0  # a new connection that sends nothing for this long is closed
    keep_alive_s: float = 30.0  # an idle connection between requests
    request_timeout_s: float = 5.0  # from a request's first byte to its last; then a 408
    write_timeout_s: float = 10.0  # a client that does not read its answer
    linger_s: float = 2.0  # after an early error answer, unread input is read away this long so it arrives


class WireError(Exception):
    """A request the emulator refuses before it reaches the service; ``response`` is the answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = error_response(status, code, message, close=True)


@dataclass(frozen=True)
class Head:
    method: str
    target: str
    headers: dict[str, str]  # names in lower case
    content_length: int
    keep_alive: bool
    expects_continue: bool


@dataclass(frozen=True)
class Request:
    head: Head
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    payload: dict[str, Any] | None  # None: no body at all
    error_code: str | None = None
    close: bool = False
    content_type: str = "application/json"


def error_response(status: int, code: str, message: str, *, close: bool = False) -> Response:
    return Response(status, {"message": message}, error_code=code, close=close)


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_REQUEST_LINE = re.compile(r"([A-Z]+) (\S+) HTTP/(\d)\.(\d)")
_DIGITS = re.compile(r"[0-9]{1,19}")
_CREDENTIAL_SCOPES = {
    name: re.compile(rf"Credential=[^/,\s]+/\d{{8}}/([a-z0-9-]+)/{name}/aws4_request")
    for name in ("appflow", SIGNING_NAME)
}
JSON_10 = "application/x-amz-json-1.0"


def parse_head(raw: bytes, limits: Limits) -> Head:
    """The request line and header fields of one request, strictly: whatever could frame a request
    two ways (obs-fold, space before a colon, conflicting lengths, transfer codings) is refused."""
    lines = raw.decode("latin-1").split("\n")
    request_line = lines[0].rstrip("\r")
    matched = _REQUEST_LINE.fullmatch(request_line)
    if matched is None:
        raise WireError(400, "BadRequestException", "Malformed request line.")
    method, target, major, minor = matched.groups()
    if (major, minor) not in (("1", "1"), ("1", "0")):
        raise WireError(505, "HttpVersionNotSupportedException", f"HTTP/{major}.{minor} is not supported.")
    if not target.startswith("/"):
        raise WireError(400, "BadRequestException", "The request target must be a path.")
    if len(lines) - 1 > limits.max_headers:
        raise WireError(431, "RequestHeaderFieldsTooLargeException", f"More than {limits.max_headers} headers.")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.rstrip("\r").partition(":")
        if not colon or _TOKEN.fullmatch(name) is None:
            raise WireError(400, "BadRequestException", "Malformed header field.")
        name, value = name.lower(), value.strip(" \t")
        if name in ("content-length", "host") and name in headers and headers[name] != value:
            raise WireError(400, "BadRequestException", f"Conflicting {name} headers.")
        headers[name] = f"{headers[name]}, {value}" if name in headers and headers[name] != value else value
    if "transfer-encoding" in headers:
        raise WireError(411, "LengthRequiredException",
                        "Transfer-Encoding is not supported; send the body with a Content-Length.")
    length_text = headers.get("content-length", "0")
    if _DIGITS.fullmatch(length_text) is None:
        raise WireError(400, "SerializationException", "Invalid Content-Length.")
    connection = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    keep_alive = minor == "1" and "close" not in connection  # HTTP/1.0 keep-alive is not offered
    expects_continue = headers.get("expect", "").lower() == "100-continue" and minor == "1"
    return Head(method, target, headers, int(length_text), keep_alive, expects_continue)


def answer(request: Request, service: AppFlowService, limits: Limits,
           cloudcontrol: CloudControlService | None = None) -> Response | None:
    """The response to one complete request; None when the service says to drop the connection unanswered."""
    path = request.head.target.split("?", 1)[0]
    tagging = path.startswith("/tags/") and request.head.method in TAG_OPERATIONS
    if request.head.method != "POST" and not tagging:
        return error_response(404, "UnknownOperationException", "Unknown operation")
    target = request.head.headers.get("x-amz-target")
    json_10 = target is not None
    try:
        if target is not None:  # JSON 1.0: the operation is in the header, the path is "/"
            operation = operation_for(target) if cloudcontrol is not None else None
            if operation is None or cloudcontrol is None:
                raise ApiError("UnknownOperationException", f"Unknown operation {target}")
            result = cloudcontrol.handle(_decode(request, limits, operation, SIGNING_NAME))
            return Response(200, result, content_type=JSON_10)
        operation = TAG_OPERATIONS[request.head.method] if tagging else OPERATIONS.get(path)
        call = _decode(request, limits, operation, "appflow")
        if tagging:
            call = _with_uri_members(call, request.head.target)
        result = service.handle(call)
        return Response(200, result if output_members(call.operation) else None)
    except LostResponse:
        return None
    except ApiError as error:
        message = error.message
        if len(message) > limits.max_message_chars:  # 80,000 unknown members must not make a 12 MB answer
            cut = len(message) - limits.max_message_chars
            message = f"{message[:limits.max_message_chars]}... ({cut} more characters)"
        return _error(error.status, error.code, message, json_10)
    except Exception as error:  # noqa: BLE001 - an emulator bug is answered as AWS answers its own, not a dropped line
        code = "ServiceInternalErrorException" if json_10 else "InternalServerException"
        return _error(500, code, f"The emulator failed: {type(error).__name__}: {error}", json_10)


def _error(status: int, code: str, message: str, json_10: bool) -> Response:
    if not json_10:
        return error_response(status, code, message)
    return Response(status, {"__type": code, "message": message}, error_code=code, content_type=JSON_10)


def render(response: Response, *, head_only: bool = False) -> bytes:
    body = b"" if response.payload is None else json.dumps(response.payload).encode()
    lines = [
        f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}",
        *([f"Content-Type: {response.content_type}"] if response.payload is not None else []),
        f"Content-Length: {len(body)}",
        f"x-amzn-RequestId: {uuid.uuid4()}",
        f"Date: {formatdate(usegmt=True)}",
    ]
    if response.error_code:
        lines.append(f"x-amzn-ErrorType: {response.error_code}")
    if response.close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body)


def _decode(request: Request, limits: Limits, operation: str | None, signing_name: str) -> Call:
    if operation is None:
        raise ApiError("UnknownOperationException", f"Unknown operation {request.head.target}")
    region = _region(request.head.headers.get("authorization"), signing_name)
    if json_depth(request.body) > limits.max_json_depth:
        raise ApiError("SerializationException", f"The request body nests deeper than {limits.max_json_depth} levels.")
    try:
        parsed = json.loads(request.body or b"{}", parse_constant=_refuse_constant)
    except ValueError:
        raise ApiError("SerializationException", "The request body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object.")
    return Call(operation, region, parsed)


def _with_uri_members(call: Call, target: str) -> Call:
    """A tagging call with the members the model puts in the URI: ``/tags/{resourceArn}?tagKeys=...``."""
    path, _, query = target.partition("?")
    body = {**call.body, "resourceArn": unquote(path[len("/tags/"):])}
    if call.operation == "UntagResource":
        body["tagKeys"] = parse_qs(query).get("tagKeys", [])
    return Call(call.operation, call.region, body)


def _region(authorization: str | None, signing_name: str) -> str:
    if not authorization:
        raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token")
    scope = _CREDENTIAL_SCOPES[signing_name].search(authorization)
    if not authorization.startswith("AWS4-HMAC-SHA256 ") or scope is None:
        raise ApiError(
            "IncompleteSignatureException",
            "Authorization header requires a SigV4 Credential scope of the form "
            f"KEY/DATE/REGION/{signing_name}/aws4_request.",
        )
    return scope.group(1)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json reads NaN and Infinity; AWS does not


_DEPTH_STEP = [0] * 256
_DEPTH_STEP[ord("[")] = _DEPTH_STEP[ord("{")] = 1
_DEPTH_STEP[ord("]")] = _DEPTH_STEP[ord("}")] = -1
_NOT_BRACKETS = bytes(byte for byte in range(256) if not _DEPTH_STEP[byte])


def json_depth(body: bytes) -> int:
    """How deep the arrays and objects of ``body`` nest, in linear time and without recursion, so that
    a body of a million ``[`` is refused before the parser recurses into it. Dropping escaped
    backslashes, then escaped quotes, leaves only the quotes that open and close strings."""
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(unescaped.split(b'"')[::2]).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)
