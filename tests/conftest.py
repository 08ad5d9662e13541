from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from deployer.emulator import Emulator, Knobs
from deployer.secrets import SECRETS
from tests.support import FakeClock, appflow_client


@pytest.fixture(autouse=True)
def fresh_secrets() -> Iterator[None]:
    """Each test starts with no registered secret: one test's values must not scrub (and so hide a leak in)
    another's output."""
    SECRETS.clear()
    yield
    SECRETS.clear()


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


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A process environment with dummy credentials and no user AWS configuration."""
    home = tmp_path_factory.mktemp("aws-home")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_APPFLOW", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_CLOUDCONTROL", raising=False)
    for name in list(os.environ):
        if name.startswith("STACK_VAR_"):
            monkeypatch.delenv(name)


@pytest.fixture
def against_emulator(aws_env: None, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Point a normal (non --local) run at the emulator, the way a user would: AWS_ENDPOINT_URL_APPFLOW and
    AWS_ENDPOINT_URL_CLOUDCONTROL (one port serves both)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_APPFLOW", emulator.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDCONTROL", emulator.endpoint)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # the SDK's retries sleep for real; the deployer's are injected
    emulator.knobs.private_delay_s = 0  # CLI runs wait with real sleeps; waiting is tested with a fake clock
    return emulator


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Any]:
    """moto in server mode, started once for the session; tests use names of their own."""
    from tests.support import MotoServer

    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def with_moto(moto_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Point Secrets Manager and SSM at moto the standard way: AWS_ENDPOINT_URL_<SERVICE>."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_server.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", moto_server.endpoint)
    return moto_server


@pytest.fixture
def against_live_emulator(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """The emulator on the real clock, AppFlow and Cloud Control pointed at it: the CLI waits for Cloud Control
    requests with real sleeps (a fake clock would never let a request's time pass), at zero latency, so none is
    ever waited for long."""
    with Emulator(Knobs()) as running:
        for service in ("APPFLOW", "CLOUDCONTROL"):
            monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", running.endpoint)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        yield running
