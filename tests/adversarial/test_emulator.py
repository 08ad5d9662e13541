"""The emulator under abuse: hostile bodies, broken framing, floods of connections, slow clients.

Every test talks to a real emulator over loopback sockets, with bounded loops and socket
timeouts, and ends by checking that nothing reached stderr as a traceback. Waits on a
server deadline are real but short: those tests shrink the deadline with ``Limits``.
"""

from __future__ import annotations

import base64
import json
import resource
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from deployer.emulator import Emulator, Knobs, Limits
from deployer.emulator.server import EmulatorServer
from deployer.emulator.service import Call
from deployer.emulator.wire import json_depth
from tests.support import FakeClock, appflow_client, full_create_request, signed_call

# The emulator checks the SigV4 credential scope, not the signature: this header passes.
AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/us-east-1/appflow/aws4_request, "
                 "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
CREATE = json.dumps(full_create_request("Zendesk", "zd")).encode()
SHORT = Limits(idle_timeout_s=0.3, request_timeout_s=0.3, keep_alive_s=0.3, linger_s=0.3)


@pytest.fixture(autouse=True)
def no_tracebacks(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    yield
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err


@pytest.fixture
def quick(clock: FakeClock) -> Iterator[Emulator]:
    """An emulator whose deadlines on slow clients are a fraction of a second."""
    with Emulator(Knobs(), clock=clock, sleep=clock.sleep, limits=SHORT) as running:
        yield running


# Raw HTTP over a socket, for what no HTTP client library would send.

Answer = tuple[int, dict[str, str], Any]


def _address(emulator: Emulator) -> tuple[str, int]:
    url = urlparse(emulator.endpoint)
    assert url.hostname == "127.0.0.1" and url.port
    return url.hostname, url.port


def _request(path: str = "/create-connector-profile", body: bytes = CREATE, **headers: str) -> bytes:
    fields = {"Host": "appflow.us-east-1.amazonaws.com", "Authorization": AUTHORIZATION,
              "Content-Type": "application/json", "Content-Length": str(len(body))}
    fields.update({name.replace("_", "-"): value for name, value in headers.items()})
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields.items() if v != "")
    return head.encode() + b"\r\n" + body


def _read_until_closed(sock: socket.socket, seconds: float) -> bytes:
    """What the emulator sends until it closes the connection, or ``seconds`` pass."""
    received = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received


def _exchange(emulator: Emulator, data: bytes, *, half_close: bool = False, seconds: float = 5.0) -> bytes:
    with socket.create_connection(_address(emulator), timeout=seconds) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return _read_until_closed(sock, seconds)


def _parse(raw: bytes) -> list[Answer]:
    """The HTTP responses in ``raw``, in order: status, headers, JSON body."""
    answers = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines)
        length = int(headers.get("Content-Length", "0"))
        answers.append((int(status_line.split()[1]), headers, json.loads(rest[:length] or b"{}")))
        raw = rest[length:]
    return answers


def _only(raw: bytes) -> Answer:
    answers = _parse(raw)
    assert len(answers) == 1, raw
    return answers[0]


def _nothing_happened(emulator: Emulator) -> None:
    assert emulator.stats.total == 0
    status, _, body = signed_call(emulator.endpoint, "/describe-connector-profiles", b"{}")
    assert (status, body["connectorProfileDetails"]) == (200, [])


# 1. Bodies.


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b"{" * 100_000, b'{"a":' * 65 + b"1" + b"}" * 65, b"[" * 1_000_000],
    ids=["100k-brackets", "100k-braces", "65-levels-valid-json", "1M-brackets-at-the-size-limit"],
)
def test_deep_nesting_is_a_400_with_a_json_error(emulator: Emulator, body: bytes) -> None:
    status, headers, answer = signed_call(emulator.endpoint, "/create-connector-profile", body[: 1024 * 1024])
    assert (status, headers["x-amzn-ErrorType"]) == (400, "SerializationException")
    assert answer == {"message": "The request body nests deeper than 64 levels."}
    _nothing_happened(emulator)


def test_nesting_up_to_the_limit_reaches_the_validator(emulator: Emulator) -> None:
    body = b'{"connectorProfileName": ' + b"[" * 63 + b"]" * 63 + b"}"
    status, headers, _ = signed_call(emulator.endpoint, "/delete-connector-profile", body)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b'{"a": "[[[[[[[["}', 1),
        (b'{"a": "\\"[[[[", "b": [1]}', 2),
        (b'{"a": "\\\\", "b": [[1]]}', 3),
        (b'{"a": "\\\\\\"{{{"}', 1),
        (b"", 0),
    ],
    ids=["brackets-in-a-string", "escaped-quote", "escaped-backslash-ends-string", "backslashes-then-quote",
         "empty"],
)
def test_brackets_inside_strings_do_not_count_as_depth(body: bytes, depth: int) -> None:
    assert json_depth(body) == depth


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_constants_are_a_400(emulator: Emulator, constant: bytes) -> None:
    status, headers, _ = signed_call(emulator.endpoint, "/describe-connector-profiles",
                                     b'{"maxResults": ' + constant + b"}")
    assert (status, headers["x-amzn-ErrorType"]) == (400, "SerializationException")


def _token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    "token",
    ["not base64!", "名前", _token([1, 2]), _token({"after": 5, "filters": "x"}), _token({"after": "a"}),
     _token({"offset": 10}), _token({"after": "a", "filters": "forged"}), _token("x" * 2000)],
    ids=["not-base64", "not-ascii", "a-list", "number-cursor", "no-filters", "old-offset-token", "forged-filters",
         "past-the-model-length"],
)
def test_a_crafted_next_token_is_a_validation_error(emulator: Emulator, token: str) -> None:
    status, headers, answer = signed_call(emulator.endpoint, "/describe-connector-profiles",
                                          json.dumps({"nextToken": token}))
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert "nextToken" in answer["message"]


def test_a_body_announced_past_the_drain_limit_is_refused_at_once(emulator: Emulator) -> None:
    started = time.monotonic()
    raw = _exchange(emulator, _request(body=b"", Content_Length=str(100 * 1024 * 1024)))
    status, headers, answer = _only(raw)
    assert (status, headers["x-amzn-ErrorType"]) == (413, "RequestEntityTooLargeException")
    assert answer == {"message": "Request body exceeds 1048576 bytes."}
    assert time.monotonic() - started < 2
    _nothing_happened(emulator)


# 2. Framing.


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (_request(Content_Length="-1"), 400, "SerializationException"),
        (_request(Content_Length="abc"), 400, "SerializationException"),
        (_request(Content_Length="+12"), 400, "SerializationException"),
        (_request(Content_Length="1" * 40), 400, "SerializationException"),
        (_request(Content_Length=f"{len(CREATE)}, {len(CREATE)}"), 400, "SerializationException"),
        (_request().replace(b"\r\n\r\n", f"\r\nContent-Length: {len(CREATE) - 1}\r\n\r\n".encode(), 1),
         400, "BadRequestException"),
        (_request(Content_Length="", Transfer_Encoding="chunked"), 411, "LengthRequiredException"),
        (_request(Transfer_Encoding="chunked"), 411, "LengthRequiredException"),
        (_request().replace(b"Content-Length:", b"Content-Length :"), 400, "BadRequestException"),
        (_request().replace(b"Content-Type:", b" Content-Type:"), 400, "BadRequestException"),
        (_request().replace(b"HTTP/1.1", b"HTTP/2.0", 1), 505, "HttpVersionNotSupportedException"),
        (_request().replace(b"POST", b"post", 1), 400, "BadRequestException"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, "BadRequestException"),
    ],
    ids=["negative", "not-a-number", "signed", "40-digits", "list", "two-lengths", "chunked-no-length",
         "chunked-and-length", "space-before-colon", "obs-fold", "http-2", "lowercase-method", "binary"],
)
def test_broken_framing_is_refused_and_never_executed(
    emulator: Emulator, request_bytes: bytes, status: int, code: str
) -> None:
    answered = _only(_exchange(emulator, request_bytes))
    assert (answered[0], answered[1]["x-amzn-ErrorType"], answered[1]["Connection"]) == (status, code, "close")
    assert answered[2]["message"]
    _nothing_happened(emulator)


def test_a_body_cut_short_by_the_client_is_a_400(emulator: Emulator) -> None:
    request = _request()
    status, headers, answer = _only(_exchange(emulator, request[:-10], half_close=True))
    assert (status, headers["x-amzn-ErrorType"]) == (400, "SerializationException")
    assert answer == {"message": "The request body is shorter than its Content-Length."}
    _nothing_happened(emulator)


def test_a_body_that_stops_arriving_is_a_408_after_the_request_timeout(quick: Emulator) -> None:
    started = time.monotonic()
    status, headers, answer = _only(_exchange(quick, _request()[:-10]))
    waited = time.monotonic() - started
    assert (status, headers["x-amzn-ErrorType"]) == (408, "RequestTimeoutException")
    assert answer == {"message": "The request was not complete within 0.3 seconds."}
    assert 0.25 < waited < 2
    _nothing_happened(quick)


def test_the_request_timeout_defaults_to_a_few_seconds() -> None:
    assert Limits().request_timeout_s == 5.0


def test_a_client_that_closes_mid_body_costs_nothing(emulator: Emulator) -> None:
    for _ in range(50):
        with socket.create_connection(_address(emulator), timeout=5) as sock:
            sock.sendall(_request()[:-10])
    _nothing_happened(emulator)


def test_pipelined_requests_are_answered_in_order(emulator: Emulator) -> None:
    describe = _request("/describe-connector-profiles", b"{}")
    closing = _request("/describe-connector-profiles", b"{}", Connection="close")
    answers = _parse(_exchange(emulator, _request() + describe + closing))
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert [p["connectorProfileName"] for p in answers[1][2]["connectorProfileDetails"]] == ["zd"]


def test_expect_100_continue_is_honoured(emulator: Emulator) -> None:
    head, _, body = _request("/describe-connector-profiles", b"{}", Expect="100-continue").partition(b"\r\n\r\n")
    with socket.create_connection(_address(emulator), timeout=5) as sock:
        sock.sendall(head + b"\r\n\r\n")
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        sock.shutdown(socket.SHUT_WR)
        assert _only(_read_until_closed(sock, 5))[0] == 200


def test_http_1_0_closes_after_the_answer(emulator: Emulator) -> None:
    request = _request("/describe-connector-profiles", b"{}").replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    with socket.create_connection(_address(emulator), timeout=5) as sock:
        sock.sendall(request)
        status, headers, _ = _only(_read_until_closed(sock, 5))  # ends because the emulator closed
    assert (status, headers["Connection"]) == (200, "close")


# 3. Floods of connections.


def test_thousands_of_idle_and_half_sent_connections_do_not_block_a_real_client(emulator: Emulator) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * 2000 + 256  # the test's ends and the emulator's, in one process
    raised = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
    if soft < raised:
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
    count = min(2000, (max(soft, raised) - 256) // 2)
    threads_before = threading.active_count()
    sockets: list[socket.socket] = []
    try:
        for index in range(count):
            sock = socket.create_connection(_address(emulator), timeout=5)
            sockets.append(sock)
            if index % 2:
                sock.sendall(b"POST /describe-connector-profiles HTTP/1.1\r\nHost: x")  # and never the rest
        client = appflow_client(emulator.endpoint, connect_timeout=3, read_timeout=3)
        started = time.monotonic()
        assert client.describe_connector_profiles()["connectorProfileDetails"] == []
        assert time.monotonic() - started < 3
        assert threading.active_count() <= threads_before + Limits().max_handlers
    finally:
        for index, sock in enumerate(sockets):
            if index % 3 == 0:  # a third end with a reset rather than a close
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        if soft < raised:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    started = time.monotonic()
    assert appflow_client(emulator.endpoint, connect_timeout=3, read_timeout=3).describe_connector_profiles()
    assert time.monotonic() - started < 3
    assert count >= 500


def test_past_max_connections_the_least_recently_active_is_closed(clock: FakeClock) -> None:
    with Emulator(Knobs(), clock=clock, sleep=clock.sleep, limits=Limits(max_connections=20)) as emulator:
        idle = [socket.create_connection(_address(emulator), timeout=5) for _ in range(40)]
        try:
            assert appflow_client(emulator.endpoint, connect_timeout=3, read_timeout=3).describe_connector_profiles()
            assert _read_until_closed(idle[0], 2) == b""  # the oldest were closed, without an answer
        finally:
            for sock in idle:
                sock.close()


def test_handler_threads_are_capped(clock: FakeClock) -> None:
    knobs = Knobs()
    with Emulator(knobs, clock=clock, sleep=clock.sleep, limits=Limits(max_handlers=2)) as emulator:
        holds = [knobs.hold_next("DescribeConnectorProfiles") for _ in range(2)]
        callers = [threading.Thread(target=_describe_quietly, args=(emulator.endpoint, 10)) for _ in holds]
        for caller in callers:
            caller.start()
        try:
            assert all(hold.reached.wait(5) for hold in holds)
            with pytest.raises(ReadTimeoutError):  # both handlers are taken: the third call waits its turn
                appflow_client(emulator.endpoint, read_timeout=0.5).describe_connector_profiles()
            assert _handler_threads(emulator) == 2
        finally:
            for hold in holds:
                hold.released.set()
            for caller in callers:
                caller.join(10)
        assert appflow_client(emulator.endpoint, read_timeout=3).describe_connector_profiles()
        assert _handler_threads(emulator) == 2


def _describe_quietly(endpoint: str, seconds: float) -> None:
    try:
        appflow_client(endpoint, read_timeout=seconds).describe_connector_profiles()
    except (ClientError, ConnectionClosedError):
        pass  # a held call ends unanswered


def _handler_threads(emulator: Emulator) -> int:
    prefix = f"appflow-emulator:{_address(emulator)[1]}/"
    return sum(thread.name.startswith(prefix) for thread in threading.enumerate())


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(quick: Emulator) -> None:
    with socket.create_connection(_address(quick), timeout=5) as sock:
        started = time.monotonic()
        assert _read_until_closed(sock, 3) == b""
        assert 0.25 < time.monotonic() - started < 2


# 4. Slow and oversized heads.


def test_a_slowloris_head_gets_a_408_however_steadily_it_trickles(quick: Emulator) -> None:
    request = _request("/describe-connector-profiles", b"{}")
    with socket.create_connection(_address(quick), timeout=5) as sock:
        started = time.monotonic()
        for byte in request[:40]:  # one byte every 20 ms, for up to 0.8 s: past the 0.3 s request timeout
            sock.send(bytes([byte]))
            if select.select([sock], [], [], 0.02)[0]:
                break  # answered
        status, headers, _ = _only(_read_until_closed(sock, 3))
    assert (status, headers["x-amzn-ErrorType"]) == (408, "RequestTimeoutException")
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (_request().replace(b"\r\n\r\n", b"".join(b"\r\nX-Flood-%d: x" % n for n in range(101)) + b"\r\n\r\n", 1),
         431, "RequestHeaderFieldsTooLargeException"),
        (_request(X_Big="x" * 20_000), 431, "RequestHeaderFieldsTooLargeException"),
        (_request("/" + "a" * 100_000), 431, "RequestHeaderFieldsTooLargeException"),
        (b"x" * 1_000_000, 431, "RequestHeaderFieldsTooLargeException"),
    ],
    ids=["101-headers", "20k-header", "100k-request-line", "1M-without-a-line-end"],
)
def test_oversized_heads_are_refused(emulator: Emulator, request_bytes: bytes, status: int, code: str) -> None:
    answered = _only(_exchange(emulator, request_bytes))
    assert (answered[0], answered[1]["x-amzn-ErrorType"]) == (status, code)
    _nothing_happened(emulator)


@pytest.mark.parametrize("blank", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_endless_blank_lines_are_idle_and_closed(quick: Emulator, blank: bytes) -> None:
    with socket.create_connection(_address(quick), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(blank * 100_000)
        assert _read_until_closed(sock, 3) == b""
        assert time.monotonic() - started < 2


def test_other_methods_get_a_json_404(emulator: Emulator) -> None:
    raw = _exchange(emulator, b"DELETE /describe-connector-profiles HTTP/1.1\r\nConnection: close\r\n\r\n")
    status, headers, answer = _only(raw)
    assert (status, headers["x-amzn-ErrorType"], answer) == (404, "UnknownOperationException",
                                                             {"message": "Unknown operation"})


class _FailingService:
    """A service with a bug: the server must answer for it, not drop the line and print a traceback."""

    def handle(self, call: Call) -> dict[str, Any]:
        raise KeyError(call.operation)


def test_a_failing_service_is_a_500_not_a_dropped_connection() -> None:
    server = EmulatorServer(("127.0.0.1", 0), _FailingService())  # type: ignore[arg-type]
    thread = server.serve_in_thread()
    try:
        status, headers, answer = signed_call(server.endpoint, "/describe-connector-profiles", b"{}")
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
    assert (status, headers["x-amzn-ErrorType"]) == (500, "InternalServerException")
    assert answer == {"message": "The emulator failed: KeyError: 'DescribeConnectorProfiles'"}
