"""The emulator's HTTP edge: connections on loopback, framed into requests, answered by a bounded pool.

One event-loop thread owns every connection: it accepts, reads, and frames requests
(head, then exactly ``Content-Length`` bytes of body) without ever blocking on a
client. Only a complete request goes to a worker thread, which asks ``wire.answer``
and writes the response, then hands the connection back. So a connection that sends
nothing, or a byte a second, costs a descriptor and no thread; workers are capped at
``Limits.max_handlers`` and open connections at ``Limits.max_connections`` (past it
the least recently active one not with a worker is closed); every wait on a client has
a deadline (``Limits``). Refusals before the service (framing, size, time) are answered here
with AWS's error format, then the connection is closed after a short linger.
"""

from __future__ import annotations

import enum
import errno
import queue
import re
import selectors
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import replace

from deployer.emulator.cloudcontrol import CloudControlService
from deployer.emulator.service import AppFlowService
from deployer.emulator.wire import (
    Head,
    Limits,
    Request,
    Response,
    WireError,
    answer,
    error_response,
    parse_head,
    render,
)

__all__ = ["MAX_BODY_BYTES", "EmulatorServer", "Limits"]

MAX_BODY_BYTES = Limits().max_body_bytes
_READ_SIZE = 65536
_SWEEP_INTERVAL_S = 0.05
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class _Phase(enum.Enum):
    IDLE = "idle"  # no byte of a request yet
    HEAD = "head"  # reading the request line and headers
    BODY = "body"  # reading Content-Length bytes
    DRAIN = "drain"  # reading away a body too large to take, before the 413
    BUSY = "busy"  # with a worker
    LINGER = "linger"  # answered early and closing: reading away whatever still arrives


class _Connection:
    """A client connection as the event loop sees it; only the loop thread changes it."""

    def __init__(self, sock: socket.socket, now: float, limits: Limits) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.phase = _Phase.IDLE
        self.deadline = now + limits.idle_timeout_s
        self.head: Head | None = None
        self.to_drain = 0
        self.scanned = 0  # how much of ``buffer`` is known to hold no end of head


class EmulatorServer:
    """The emulator's listening socket, event loop and worker pool."""

    def __init__(self, address: tuple[str, int], service: AppFlowService, limits: Limits | None = None,
                 cloudcontrol: CloudControlService | None = None) -> None:
        self.service = service
        self.cloudcontrol = cloudcontrol  # X-Amz-Target: CloudApiService.* on the same port
        self.limits = limits or Limits()
        self._listener = socket.create_server(address, backlog=1024)
        self._listener.setblocking(False)
        self.server_address = self._listener.getsockname()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, self._wake_reader)
        self._open: OrderedDict[int, _Connection] = OrderedDict()  # not with a worker, least recently active first
        self._busy: dict[int, _Connection] = {}
        self._returned: queue.SimpleQueue[tuple[_Connection, bool]] = queue.SimpleQueue()
        self._jobs: queue.SimpleQueue[tuple[_Connection, Request] | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._idle_workers = 0
        self._workers_lock = threading.Lock()
        self._accepting = True
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._closed = False

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="appflow-emulator", daemon=True)
        thread.start()
        return thread

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stop.clear()
        self._stopped.clear()
        next_sweep = 0.0
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(min(poll_interval, _SWEEP_INTERVAL_S)):
                    if key.data is None:
                        self._accept()
                    elif key.data is self._wake_reader:
                        self._take_returned()
                    else:
                        self._read(key.data)
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + _SWEEP_INTERVAL_S
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        self._stop.set()
        self._wake()
        self._stopped.wait()

    def server_close(self) -> None:
        """Closes the listener and every connection not with a worker; a worker closes its own when done."""
        self._closed = True
        for connection in list(self._open.values()):
            self._close(connection)
        while not self._returned.empty():  # handed back after the loop stopped
            self._returned.get_nowait()[0].sock.close()
        for _ in self._workers:
            self._jobs.put(None)
        self._selector.close()
        self._listener.close()
        self._wake_reader.close()
        self._wake_writer.close()

    # The event loop's side: accepting, framing, deadlines.

    def _accept(self) -> None:
        for _ in range(64):  # then let the reads of open connections have a turn
            try:
                sock, _address = self._listener.accept()
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno in _OUT_OF_DESCRIPTORS and not self._evict():
                    self._pause_accepting()  # nothing to close: wait for a worker rather than spin
                return
            if len(self._open) + len(self._busy) >= self.limits.max_connections:
                self._evict()
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one write per answer; never wait on Nagle
            connection = _Connection(sock, time.monotonic(), self.limits)
            self._open[sock.fileno()] = connection
            self._selector.register(sock, selectors.EVENT_READ, connection)

    def _read(self, connection: _Connection) -> None:
        try:
            data = connection.sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset by the client
            self._close(connection)
            return
        if not data:
            self._end_of_input(connection)
            return
        self._open.move_to_end(connection.sock.fileno())
        if connection.phase is _Phase.LINGER:
            return
        if connection.phase is _Phase.DRAIN:
            connection.to_drain -= len(data)
            if connection.to_drain <= 0:
                self._refuse(connection, self._too_large())
            return
        connection.buffer += data
        self._frame(connection)

    def _frame(self, connection: _Connection) -> None:
        """Advances ``connection`` through the phases of one request; hands it to a worker once complete."""
        limits = self.limits
        if connection.head is None:
            if connection.phase is _Phase.IDLE:
                # Blank lines before a request are allowed (RFC 9112 2.2); the idle deadline bounds them.
                connection.buffer = bytearray(connection.buffer.lstrip(b"\r\n"))
                if not connection.buffer:
                    return
                connection.phase = _Phase.HEAD
                connection.deadline = time.monotonic() + limits.request_timeout_s
                connection.scanned = 0
            end = _HEAD_END.search(connection.buffer, max(0, connection.scanned - 3))  # the end is <= 4 bytes
            if end is None and len(connection.buffer) <= limits.max_head_bytes:
                connection.scanned = len(connection.buffer)
                return
            if end is None or end.start() > limits.max_head_bytes:
                self._refuse(connection, error_response(
                    431, "RequestHeaderFieldsTooLargeException",
                    f"The request line and headers exceed {limits.max_head_bytes} bytes.", close=True))
                return
            try:
                head = parse_head(bytes(connection.buffer[:end.start()]), limits)
            except WireError as error:
                self._refuse(connection, error.response)
                return
            del connection.buffer[:end.end()]
            if head.content_length > limits.max_body_bytes:
                if head.content_length > limits.drain_limit_bytes or head.expects_continue:  # (not sent yet)
                    self._refuse(connection, self._too_large())
                else:  # read it away first, so that the client is not cut off mid-send and misses the 413
                    connection.phase = _Phase.DRAIN
                    connection.to_drain = head.content_length - len(connection.buffer)
                    connection.buffer.clear()
                    if connection.to_drain <= 0:
                        self._refuse(connection, self._too_large())
                return
            connection.head = head
            connection.phase = _Phase.BODY
            if head.expects_continue and len(connection.buffer) < head.content_length:
                self._send_quietly(connection, _CONTINUE)
        if len(connection.buffer) < connection.head.content_length:
            return
        length = connection.head.content_length
        request = Request(connection.head, bytes(connection.buffer[:length]))
        del connection.buffer[:length]
        self._dispatch(connection, request)

    def _end_of_input(self, connection: _Connection) -> None:
        if connection.phase in (_Phase.BODY, _Phase.DRAIN):  # the client may have only half-closed: tell it
            self._send_quietly(connection, render(error_response(
                400, "SerializationException", "The request body is shorter than its Content-Length.", close=True)))
        self._close(connection)

    def _sweep(self, now: float) -> None:
        """Closes what waited past its deadline; a started request is answered 408 first."""
        for connection in [c for c in self._open.values() if c.deadline <= now]:
            if connection.phase in (_Phase.HEAD, _Phase.BODY, _Phase.DRAIN):
                self._refuse(connection, error_response(
                    408, "RequestTimeoutException",
                    f"The request was not complete within {self.limits.request_timeout_s:g} seconds.", close=True))
            else:
                self._close(connection)
        if not self._accepting:
            self._accepting = True
            self._selector.register(self._listener, selectors.EVENT_READ, None)

    def _refuse(self, connection: _Connection, response: Response) -> None:
        """Answers before the service and closes, lingering so that the answer is not lost to a reset."""
        self._send_quietly(connection, render(response))
        try:
            connection.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(connection)
            return
        connection.phase = _Phase.LINGER
        connection.buffer.clear()
        connection.deadline = time.monotonic() + self.limits.linger_s

    def _too_large(self) -> Response:
        return error_response(413, "RequestEntityTooLargeException",
                              f"Request body exceeds {self.limits.max_body_bytes} bytes.", close=True)

    def _evict(self) -> bool:
        """Closes the least recently active connection that is not with a worker."""
        if not self._open:
            return False
        self._close(next(iter(self._open.values())))
        return True

    def _pause_accepting(self) -> None:
        if self._accepting:
            self._accepting = False
            self._selector.unregister(self._listener)  # the next sweep listens again

    def _close(self, connection: _Connection) -> None:
        fileno = connection.sock.fileno()
        if self._open.pop(fileno, None) is not None:
            self._selector.unregister(connection.sock)
        connection.sock.close()

    @staticmethod
    def _send_quietly(connection: _Connection, data: bytes) -> None:
        try:
            connection.sock.send(data)  # small, into an empty send buffer: whole, or the client is gone
        except OSError:
            pass  # the client left; closing is all there is to do

    # Between the loop and the workers.

    def _dispatch(self, connection: _Connection, request: Request) -> None:
        fileno = connection.sock.fileno()
        del self._open[fileno]
        self._selector.unregister(connection.sock)
        connection.phase = _Phase.BUSY
        self._busy[fileno] = connection
        with self._workers_lock:  # _idle_workers: workers waiting for a job, less the jobs waiting for a worker
            if self._idle_workers <= 0 and len(self._workers) < self.limits.max_handlers:
                name = f"appflow-emulator:{self.server_address[1]}/{len(self._workers)}"
                worker = threading.Thread(target=self._work, name=name,
                                          daemon=True)  # a held call must not keep the interpreter from exiting
                self._workers.append(worker)
                self._idle_workers += 1
                worker.start()
            self._idle_workers -= 1
        self._jobs.put((connection, request))

    def _take_returned(self) -> None:
        try:
            while self._wake_reader.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while True:
            try:
                connection, keep_alive = self._returned.get_nowait()
            except queue.Empty:
                return
            fileno = connection.sock.fileno()
            self._busy.pop(fileno, None)
            if not keep_alive:
                connection.sock.close()
                continue
            connection.sock.setblocking(False)
            connection.phase = _Phase.IDLE
            connection.head = None
            connection.deadline = time.monotonic() + self.limits.keep_alive_s
            self._open[fileno] = connection
            self._selector.register(connection.sock, selectors.EVENT_READ, connection)
            if connection.buffer:  # the client sent its next request before this answer
                self._frame(connection)

    def _wake(self) -> None:
        try:
            self._wake_writer.send(b"\0")
        except OSError:
            pass  # full (the loop is already due to wake) or closed (the server is gone)

    # The workers' side.

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            connection, request = job
            keep_alive = self._respond(connection, request)
            with self._workers_lock:
                self._idle_workers += 1
            if self._closed:
                connection.sock.close()
            else:
                self._returned.put((connection, keep_alive))
                self._wake()

    def _respond(self, connection: _Connection, request: Request) -> bool:
        """Answers ``request``; whether the connection can carry another."""
        response = answer(request, self.service, self.limits, self.cloudcontrol)
        if response is None:
            return False  # the service asked for no answer at all, as when a network path fails mid-call
        if not request.head.keep_alive:
            response = replace(response, close=True)
        try:
            connection.sock.settimeout(self.limits.write_timeout_s)
            connection.sock.sendall(render(response, head_only=request.head.method == "HEAD"))
        except OSError:
            return False
        return not response.close
