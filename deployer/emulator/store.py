"""Where the emulator keeps connector profiles, flows and idempotency tokens: SQLite.

In memory by default; in ``DIR/appflow.sqlite3`` with a data directory, so that a
restarted emulator (or the next ``stack --local`` process) sees the same cloud.
Credentials are never stored: AWS keeps them in Secrets Manager and never returns
them, and the emulator has no reason to keep them at all. The flow tables are
created here, with any store, because deleting a profile (through either door)
asks them whether a flow uses it; ``flowstore.py`` reads and writes them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    connector_type TEXT NOT NULL,
    connector_label TEXT,
    connection_mode TEXT NOT NULL,
    kms_arn TEXT,
    credentials_arn TEXT NOT NULL,
    properties TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    private_ready_at REAL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS tokens (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    operation TEXT NOT NULL,
    token TEXT NOT NULL,
    digest TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (account, region, operation, token)
);
CREATE TABLE IF NOT EXISTS flows (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    definition TEXT NOT NULL,
    kms_arn TEXT,
    tags TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS flow_runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    flow_name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    started_at REAL NOT NULL,
    done_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class StoredProfile:
    account: str
    region: str
    name: str
    connector_type: str
    connector_label: str | None
    connection_mode: str
    kms_arn: str | None
    credentials_arn: str
    properties: dict[str, Any]
    created_at: float
    updated_at: float
    private_ready_at: float | None


@dataclass(frozen=True)
class StoredToken:
    digest: str
    response: dict[str, Any]
    created_at: float


class Store:
    """A small transactional store; ``transaction()`` serialises callers in this process."""

    def __init__(self, data_dir: Path | None = None) -> None:
        if data_dir is None:
            target = ":memory:"
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            target = str(data_dir / "appflow.sqlite3")
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    # The methods below must be called inside ``transaction()``.

    def execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """For the tables of another emulated service in the same file (``resources.py``)."""
        return self._db.execute(sql, parameters)

    def get(self, account: str, region: str, name: str) -> StoredProfile | None:
        row = self._db.execute(
            "SELECT * FROM profiles WHERE account=? AND region=? AND name=?", (account, region, name)
        ).fetchone()
        return _profile(row) if row else None

    def count(self, account: str, region: str) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM profiles WHERE account=? AND region=?", (account, region))
        return int(row.fetchone()[0])

    def list(self, account: str, region: str) -> Iterator[StoredProfile]:
        rows = self._db.execute(
            "SELECT * FROM profiles WHERE account=? AND region=? ORDER BY name", (account, region)
        )
        return (_profile(row) for row in rows.fetchall())

    def put(self, profile: StoredProfile) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO profiles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                profile.account, profile.region, profile.name, profile.connector_type, profile.connector_label,
                profile.connection_mode, profile.kms_arn, profile.credentials_arn,
                json.dumps(profile.properties, sort_keys=True), profile.created_at, profile.updated_at,
                profile.private_ready_at,
            ),
        )

    def delete(self, account: str, region: str, name: str) -> None:
        self._db.execute("DELETE FROM profiles WHERE account=? AND region=? AND name=?", (account, region, name))

    def get_token(self, account: str, region: str, operation: str, token: str) -> StoredToken | None:
        row = self._db.execute(
            "SELECT digest, response, created_at FROM tokens WHERE account=? AND region=? AND operation=? AND token=?",
            (account, region, operation, token),
        ).fetchone()
        return StoredToken(row["digest"], json.loads(row["response"]), row["created_at"]) if row else None

    def put_token(self, account: str, region: str, operation: str, token: str, entry: StoredToken) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO tokens VALUES (?,?,?,?,?,?,?)",
            (account, region, operation, token, entry.digest, json.dumps(entry.response), entry.created_at),
        )


class _Transaction:
    def __init__(self, store: Store) -> None:
        self._store = store

    def __enter__(self) -> Store:
        self._store._lock.acquire()
        try:
            self._store._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._store._lock.release()
            raise
        return self._store

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._store._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._store._lock.release()


def _profile(row: sqlite3.Row) -> StoredProfile:
    return StoredProfile(
        account=row["account"],
        region=row["region"],
        name=row["name"],
        connector_type=row["connector_type"],
        connector_label=row["connector_label"],
        connection_mode=row["connection_mode"],
        kms_arn=row["kms_arn"],
        credentials_arn=row["credentials_arn"],
        properties=json.loads(row["properties"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        private_ready_at=row["private_ready_at"],
    )
