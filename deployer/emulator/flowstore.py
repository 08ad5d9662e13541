"""AppFlow flows and their runs, as the emulator keeps them: rows of the ``flows`` and ``flow_runs`` tables.

A flow is kept as the request that made it (less its name, kmsArn, tags and clientToken, which have
columns or are not kept) so that ``DescribeFlow`` answers with what was asked, in API spelling. A run is
decided when it starts: it is ``InProgress`` until ``done_at`` on the emulator's clock, then
``Successful``. The tables are created with the store (``store.py``); every method runs inside
``Store.transaction()``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from deployer.emulator.store import Store


@dataclass(frozen=True)
class StoredFlow:
    account: str
    region: str
    name: str
    status: str  # a FlowStatus of the API model
    definition: dict[str, Any]  # triggerConfig, sourceFlowConfig, destinationFlowConfigList, tasks, description...
    kms_arn: str | None
    tags: dict[str, str]
    created_at: float
    updated_at: float

    @property
    def trigger_type(self) -> str:
        return str(self.definition["triggerConfig"]["triggerType"])

    def flow_configs(self) -> Iterator[dict[str, Any]]:
        """The source's flow config, then each destination's."""
        yield self.definition["sourceFlowConfig"]
        yield from self.definition["destinationFlowConfigList"]


@dataclass(frozen=True)
class StoredRun:
    flow_name: str
    execution_id: str
    started_at: float
    done_at: float
    seq: int = 0  # the order runs were started in; 0 until stored


class FlowStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, account: str, region: str, name: str) -> StoredFlow | None:
        row = self.store.execute(
            "SELECT * FROM flows WHERE account=? AND region=? AND name=?", (account, region, name)
        ).fetchone()
        return _flow(row) if row else None

    def ordered(self, account: str, region: str, after: str | None = None) -> list[StoredFlow]:
        """The account's flows in name order, those after ``after`` only."""
        rows = self.store.execute(
            "SELECT * FROM flows WHERE account=? AND region=? AND name > ? ORDER BY name",
            (account, region, after or ""),
        )
        return [_flow(row) for row in rows.fetchall()]

    def put(self, flow: StoredFlow) -> None:
        self.store.execute(
            "INSERT OR REPLACE INTO flows VALUES (?,?,?,?,?,?,?,?,?)",
            (flow.account, flow.region, flow.name, flow.status, json.dumps(flow.definition, sort_keys=True),
             flow.kms_arn, json.dumps(flow.tags, sort_keys=True), flow.created_at, flow.updated_at),
        )

    def delete(self, account: str, region: str, name: str) -> None:
        """The flow and its runs: a flow made again under the same name starts with no history."""
        self.store.execute("DELETE FROM flows WHERE account=? AND region=? AND name=?", (account, region, name))
        self.store.execute(
            "DELETE FROM flow_runs WHERE account=? AND region=? AND flow_name=?", (account, region, name)
        )

    def add_run(self, account: str, region: str, run: StoredRun) -> None:
        self.store.execute(
            "INSERT INTO flow_runs (account, region, flow_name, execution_id, started_at, done_at) "
            "VALUES (?,?,?,?,?,?)",
            (account, region, run.flow_name, run.execution_id, run.started_at, run.done_at),
        )

    def runs(self, account: str, region: str, flow_name: str, before_seq: int | None = None) -> list[StoredRun]:
        """The flow's runs, newest first, those before ``before_seq`` only."""
        rows = self.store.execute(
            "SELECT * FROM flow_runs WHERE account=? AND region=? AND flow_name=? AND seq < ? ORDER BY seq DESC",
            (account, region, flow_name, before_seq if before_seq is not None else 2**62),
        )
        return [_run(row) for row in rows.fetchall()]

    def users_of_profile(self, account: str, region: str, profile_name: str) -> list[str]:
        """The names of the flows whose source or a destination names the connector profile."""
        return [
            flow.name
            for flow in self.ordered(account, region)
            if any(config.get("connectorProfileName") == profile_name for config in flow.flow_configs())
        ]


def _flow(row: sqlite3.Row) -> StoredFlow:
    return StoredFlow(
        account=row["account"], region=row["region"], name=row["name"], status=row["status"],
        definition=json.loads(row["definition"]), kms_arn=row["kms_arn"], tags=json.loads(row["tags"]),
        created_at=row["created_at"], updated_at=row["updated_at"],
    )


def _run(row: sqlite3.Row) -> StoredRun:
    return StoredRun(flow_name=row["flow_name"], execution_id=row["execution_id"], started_at=row["started_at"],
                     done_at=row["done_at"], seq=row["seq"])
