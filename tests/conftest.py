from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from deployer.emulator import Emulator, Knobs
from tests.support import FakeClock, appflow_client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[Emulator]:
    """A fresh in-memory emulator on a free loopback port, on a fake clock."""
    with Emulator(Knobs(), clock=clock, sleep=clock.sleep) as running:
        yield running


@pytest.fixture
def appflow(emulator: Emulator) -> Any:
    """A boto3 AppFlow client for the emulator, in us-east-1, without retries."""
    return appflow_client(emulator.endpoint)
