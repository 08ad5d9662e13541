"""The providers of one run, by resource type: the native one where ``deployer.kinds`` says so, else Cloud Control."""

from __future__ import annotations

from deployer.aws import Clients
from deployer.kinds import is_native
from deployer.providers import Live
from deployer.providers.appflow import AppFlowProvider
from deployer.providers.cloudcontrol.provider import CloudControlProvider
from deployer.retry import RetryPolicy


class Providers:
    """The providers of one run, by type; reads go to the one that serves each type."""

    def __init__(self, clients: Clients, retry: RetryPolicy) -> None:
        self.native = AppFlowProvider(clients, retry)
        self.cloud = CloudControlProvider(clients, retry)

    def read(self, type_name: str, region: str, identifiers: list[str]) -> dict[str, Live]:
        if is_native(type_name):
            return self.native.read(region, identifiers)
        return self.cloud.read(type_name, region, identifiers)

    def delete(self, type_name: str, region: str, identifier: str) -> None:
        if is_native(type_name):
            self.native.delete(region, identifier)
        else:
            self.cloud.delete(type_name, region, identifier)
