"""The AppFlow flow provider: the one place that calls AppFlow's flow operations.

Reads call DescribeFlow once per flow, in a bounded pool (ListFlows returns summaries without
the tasks and configurations a plan compares, so it cannot stand in for them). Creates and
updates take the CreateFlow request ``deployer.flowconvert`` makes; UpdateFlow takes no tags,
so tag changes go through TagResource and UntagResource. ``start`` and ``stop`` are
StartFlow and StopFlow, which the apply calls only for scheduled and event flows: starting an
on-demand flow runs it, and a deploy never moves data. Errors are translated as for profiles
(``deployer.providers.appflow``), by code.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from deployer.apimodel import input_shape
from deployer.aws import Clients
from deployer.errors import ResourceNotFound
from deployer.flowconvert import flow_update_request
from deployer.providers import Live
from deployer.providers.appflow import _call
from deployer.retry import RetryPolicy

READ_WORKERS = 8
# What a flow's state is compared on: the members DescribeFlow returns of a CreateFlow request.
REQUEST_MEMBERS = tuple(m for m in input_shape("CreateFlow").members if m != "clientToken")


class FlowProvider:
    def __init__(self, clients: Clients, retry: RetryPolicy | None = None) -> None:
        self._clients = clients
        self._retry = retry or RetryPolicy()

    def _call(self, operation: str, resource: str, method: Callable[..., Any], **arguments: Any) -> Any:
        return self._retry.call(operation, resource, lambda: _call(operation, resource, method, **arguments))

    def _client(self, region: str) -> Any:
        return self._clients.client("appflow", region)

    def read(self, region: str, identifiers: list[str]) -> dict[str, Live]:
        names = sorted(set(identifiers))
        if not names:
            return {}
        with ThreadPoolExecutor(max_workers=min(READ_WORKERS, len(names))) as pool:
            found = list(pool.map(lambda name: self._describe(region, name), names))
        return {live.identifier: live for live in found if live is not None}

    def _describe(self, region: str, name: str) -> Live | None:
        try:
            answer = self._call("DescribeFlow", name, self._client(region).describe_flow, flowName=name)
        except ResourceNotFound:
            return None
        return _live(answer)

    def create(self, region: str, request: dict[str, Any], client_token: str) -> None:
        self._call("CreateFlow", request["flowName"], self._client(region).create_flow, clientToken=client_token,
                   **request)

    def update(self, region: str, request: dict[str, Any], client_token: str, live: Live | None) -> None:
        name = request["flowName"]
        self._call("UpdateFlow", name, self._client(region).update_flow, clientToken=client_token,
                   **flow_update_request(request))
        if live is None:
            return
        wanted, current = request.get("tags") or {}, live.properties.get("tags") or {}
        stale = sorted(set(current) - set(wanted))
        if stale:
            self._call("UntagResource", name, self._client(region).untag_resource, resourceArn=live.arn,
                       tagKeys=stale)
        changed = {k: v for k, v in wanted.items() if current.get(k) != v}
        if changed:
            self._call("TagResource", name, self._client(region).tag_resource, resourceArn=live.arn, tags=changed)

    def start(self, region: str, name: str) -> None:
        self._call("StartFlow", name, self._client(region).start_flow, flowName=name)

    def stop(self, region: str, name: str) -> None:
        self._call("StopFlow", name, self._client(region).stop_flow, flowName=name)

    def delete(self, region: str, name: str) -> None:
        # forceDelete: a flow of the stack goes even with a run in progress, as the stack says it should
        self._call("DeleteFlow", name, self._client(region).delete_flow, flowName=name, forceDelete=True)


def _live(answer: Mapping[str, Any]) -> Live:
    properties = {k: _epochs(answer[k]) for k in REQUEST_MEMBERS if answer.get(k) is not None}
    arn = str(answer.get("flowArn") or "")
    return Live(str(answer["flowName"]), arn, properties, {"FlowArn": arn, "FlowName": answer["flowName"]},
                status=str(answer.get("flowStatus") or "") or None)


def _epochs(value: Any) -> Any:
    """Timestamps (the SDK parses them to datetimes) as the epoch seconds a request carries, so they compare."""
    if isinstance(value, datetime.datetime):
        seconds = value.timestamp()
        return int(seconds) if seconds == int(seconds) else seconds
    if isinstance(value, dict):
        return {k: _epochs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epochs(v) for v in value]
    return value
