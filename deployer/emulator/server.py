"""The emulator's HTTP edge: AppFlow's rest-json wire protocol over loopback.

Decodes a request into a ``Call`` (operation from the path, region from the SigV4
credential scope, JSON body), hands it to ``AppFlowService`` and writes the answer
the way AWS does, so that boto3 raises its modeled exceptions: the error code in
``x-amzn-ErrorType`` and ``{"message": ...}`` in the body.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from deployer.emulator.service import OPERATIONS, ApiError, AppFlowService, Call, LostResponse

MAX_BODY_BYTES = 1024 * 1024
DRAIN_LIMIT_BYTES = 16 * 1024 * 1024  # larger bodies are not even read: the connection is closed
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/appflow/aws4_request")


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], service: AppFlowService) -> None:
        super().__init__(address, _Handler)
        self.service = service

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="appflow-emulator", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes; Nagle would stall each call 40 ms
    server: EmulatorServer
    timeout = 30  # a client that promises a body and never sends it is dropped

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return None  # quiet: the emulator is a test and demo peer, its callers report errors

    def do_POST(self) -> None:
        try:
            call = self._decode()
            answer = self.server.service.handle(call)
        except LostResponse:
            self.close_connection = True  # no answer at all, as when a network path fails mid-call
            return
        except ApiError as error:
            self._send(error.status, {"message": error.message}, error_code=error.code)
            return
        self._send(200, answer)

    def do_GET(self) -> None:
        self._send(404, {"message": "Unknown operation"}, error_code="UnknownOperationException")

    do_PUT = do_DELETE = do_PATCH = do_GET

    def _decode(self) -> Call:
        operation = OPERATIONS.get(self.path.split("?", 1)[0])
        body = self._read_body()
        if operation is None:
            raise ApiError("UnknownOperationException", f"Unknown operation {self.path}")
        region = self._region()
        try:
            parsed = json.loads(body or b"{}")
        except ValueError:
            raise ApiError("SerializationException", "The request body is not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise ApiError("SerializationException", "The request body must be a JSON object.")
        return Call(operation, region, parsed)

    def _read_body(self) -> bytes:
        length_text = self.headers.get("Content-Length", "0")
        try:
            length = int(length_text)
        except ValueError:
            self.close_connection = True
            raise ApiError("SerializationException", "Invalid Content-Length.") from None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            if length <= DRAIN_LIMIT_BYTES:  # read it away, so the client is not cut off mid-send
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 65536))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            raise ApiError("RequestEntityTooLargeException", f"Request body exceeds {MAX_BODY_BYTES} bytes.")
        return self.rfile.read(length) if length > 0 else b""

    def _region(self) -> str:
        authorization = self.headers.get("Authorization")
        if not authorization:
            raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token")
        scope = _CREDENTIAL_SCOPE.search(authorization)
        if not authorization.startswith("AWS4-HMAC-SHA256 ") or scope is None:
            raise ApiError(
                "IncompleteSignatureException",
                "Authorization header requires a SigV4 Credential scope of the form "
                "KEY/DATE/REGION/appflow/aws4_request.",
            )
        return scope.group(1)

    def _send(self, status: int, payload: dict[str, Any], error_code: str | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error_code:
            self.send_header("x-amzn-ErrorType", error_code)
        self.end_headers()
        self.wfile.write(data)
