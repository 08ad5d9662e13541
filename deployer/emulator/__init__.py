"""A local AppFlow service, and Cloud Control API on the same port, that real boto3 clients talk to over HTTP.

``Emulator`` starts it in-process on a free loopback port and stops it on exit::

    with Emulator() as emulator:
        client = boto3.client("appflow", endpoint_url=emulator.endpoint, region_name="us-east-1")

``stack emulator`` runs the same server until interrupted. The modules behind it:
``server`` (connections, framing, the worker pool), ``wire`` (HTTP messages, the
rest-json format, ``Limits`` on what a client may ask), ``service`` (the operations),
``flows`` and ``flowstore`` (flows, their runs and AppFlow's rules across resources), ``apierror``
(the error they raise), ``store`` (SQLite), ``knobs`` (latency, throttling, faults); for Cloud Control, ``cloudcontrol``
(the operations), ``resources`` (its tables), ``typeschemas`` (type schemas), ``derived`` (the
attributes AWS makes up), ``patch`` (JSON Patch) and ``appflow_door`` (AWS::AppFlow::ConnectorProfile,
served from the AppFlow API's own store).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from deployer.emulator.cloudcontrol import CloudControlService
from deployer.emulator.knobs import CallStats, Clock, Knobs
from deployer.emulator.server import EmulatorServer
from deployer.emulator.service import AppFlowService
from deployer.emulator.store import Store
from deployer.emulator.wire import Limits

__all__ = ["Emulator", "Knobs", "Limits"]


class Emulator:
    """The emulator, running in a background thread of this process while entered."""

    def __init__(
        self,
        knobs: Knobs | None = None,
        *,
        data_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = time.time,
        sleep: Callable[[float], None] = time.sleep,
        limits: Limits | None = None,
    ) -> None:
        self.knobs = knobs or Knobs()
        self._store = Store(data_dir)
        self.service = AppFlowService(self._store, self.knobs, clock, sleep)
        self.cloudcontrol = CloudControlService(self._store, self.knobs, clock, sleep, stats=self.service.stats)
        self._server = EmulatorServer((host, port), self.service, limits, self.cloudcontrol)
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return self._server.endpoint

    @property
    def stats(self) -> CallStats:
        return self.service.stats

    def start(self) -> Emulator:
        if self._thread is None:
            self._thread = self._server.serve_in_thread()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self._store.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
