"""Latency, throttling, random and scripted faults, seen through boto3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from deployer.emulator import Emulator, Knobs
from tests.support import FakeClock, appflow_client, full_create_request


def test_latency_is_added_to_every_call(emulator: Emulator, clock: FakeClock, appflow: Any) -> None:
    emulator.knobs.latency_ms = 50
    appflow.describe_connector_profiles()
    appflow.describe_connector_profiles()
    assert clock.slept == [0.05, 0.05]


def test_tps_throttles_per_account_and_refills(emulator: Emulator, clock: FakeClock, appflow: Any) -> None:
    emulator.knobs.tps = 5
    for _ in range(5):
        appflow.describe_connector_profiles()
    with pytest.raises(appflow.exceptions.ThrottlingException, match="Rate exceeded"):
        appflow.describe_connector_profiles()
    clock.advance(0.2)  # one call's worth of tokens
    appflow.describe_connector_profiles()
    with pytest.raises(appflow.exceptions.ThrottlingException):
        appflow.describe_connector_profiles()
    assert emulator.stats.errors["ThrottlingException"] == 2


def test_throttled_and_faulted_calls_change_nothing(emulator: Emulator, appflow: Any) -> None:
    emulator.knobs.fault_rate = 1.0
    with pytest.raises(appflow.exceptions.InternalServerException):
        appflow.create_connector_profile(**full_create_request("Zendesk", "zd"))
    emulator.knobs.fault_rate = 0.0
    assert appflow.describe_connector_profiles()["connectorProfileDetails"] == []


def _outcomes(seed: int, clock: FakeClock) -> list[str]:
    with Emulator(Knobs(fault_rate=0.3, seed=seed), clock=clock) as emulator:
        client = appflow_client(emulator.endpoint)
        outcomes = []
        for _ in range(40):
            try:
                client.describe_connector_profiles()
                outcomes.append("ok")
            except ClientError as error:
                outcomes.append(error.response["Error"]["Code"])
        return outcomes


def test_fault_rate_is_reproducible_with_a_seed(clock: FakeClock) -> None:
    first, again, other = _outcomes(7, clock), _outcomes(7, clock), _outcomes(8, clock)
    assert first == again
    assert first != other
    assert set(first) == {"ok", "InternalServerException"}
    assert 5 <= first.count("InternalServerException") <= 20


def test_scripted_faults_target_an_operation(emulator: Emulator, appflow: Any) -> None:
    emulator.knobs.fail_next("ConnectorAuthenticationException", operation="CreateConnectorProfile")
    appflow.describe_connector_profiles()
    with pytest.raises(appflow.exceptions.ConnectorAuthenticationException) as raised:
        appflow.create_connector_profile(**full_create_request("Zendesk", "zd"))
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    appflow.create_connector_profile(**full_create_request("Zendesk", "zd"))


def test_stats_count_calls_per_operation(emulator: Emulator, appflow: Any) -> None:
    appflow.create_connector_profile(**full_create_request("Zendesk", "zd"))
    appflow.describe_connector_profiles()
    appflow.describe_connector_profiles()
    assert dict(emulator.stats.calls) == {"CreateConnectorProfile": 1, "DescribeConnectorProfiles": 2}
    assert emulator.stats.total == 3
