"""Providers: the only code that calls AWS, one per resource type, behind the ``Provider`` protocol.

A provider reads many resources in few calls, creates, updates and deletes one,
and translates AWS errors into the deployer's own by error code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Live:
    """A resource as AWS describes it now."""

    identifier: str
    arn: str
    properties: dict[str, Any]  # what AWS returns of the request shape
    exports: dict[str, Any] = field(default_factory=dict)
    status: str | None = None  # a Private connection's provisioning status
    failure: str = ""  # and why it failed, when it did


class Provider(Protocol):
    type_name: str

    def read(self, region: str, identifiers: list[str]) -> dict[str, Live]: ...

    def create(self, region: str, request: dict[str, Any], client_token: str) -> dict[str, Any]: ...

    def update(self, region: str, request: dict[str, Any], client_token: str) -> dict[str, Any]: ...

    def delete(self, region: str, identifier: str) -> None: ...

    def wait_until_ready(self, region: str, identifier: str) -> Live: ...
