"""The providers of one run, by resource type: the native one where ``deployer.kinds`` says so, else Cloud Control."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from deployer.aws import Clients
from deployer.kinds import FLOW, is_native
from deployer.providers import Live
from deployer.providers.appflow import AppFlowProvider
from deployer.providers.cloudcontrol.provider import CloudControlProvider
from deployer.providers.flows import FlowProvider
from deployer.retry import RetryPolicy


class Providers:
    """The providers of one run, by type; reads go to the one that serves each type."""

    def __init__(self, clients: Clients, retry: RetryPolicy) -> None:
        self.native = AppFlowProvider(clients, retry)
        self.flows = FlowProvider(clients, retry)
        self.cloud = CloudControlProvider(clients, retry)

    def read_all(self, wanted: Mapping[tuple[str, str], Iterable[str]]) -> dict[tuple[str, str, str], Live]:
        """Every resource of ``wanted`` ((type, region) -> identifiers) that exists, by (type, region, id):
        native types in their batches, all Cloud Control reads in one pool."""
        found: dict[tuple[str, str, str], Live] = {}
        cloud: list[tuple[str, str, str]] = []
        for (type_name, region), identifiers in sorted(wanted.items()):
            if is_native(type_name):
                reader = self.flows if type_name == FLOW else self.native
                for name, live in reader.read(region, sorted(identifiers)).items():
                    found[(type_name, region, name)] = live
            else:
                cloud += [(type_name, region, identifier) for identifier in identifiers]
        found.update(self.cloud.read_many(cloud))
        return found

    def read(self, type_name: str, region: str, identifiers: list[str]) -> dict[str, Live]:
        if type_name == FLOW:
            return self.flows.read(region, identifiers)
        if is_native(type_name):
            return self.native.read(region, identifiers)
        return self.cloud.read(type_name, region, identifiers)

    def delete(self, type_name: str, region: str, identifier: str) -> None:
        if type_name == FLOW:
            self.flows.delete(region, identifier)
        elif is_native(type_name):
            self.native.delete(region, identifier)
        else:
            self.cloud.delete(type_name, region, identifier)
