"""Cloud Control resources and resource requests, kept in the emulator's SQLite file beside AppFlow's tables.

A resource is its type, identifier and full model (write-only properties included: a handler keeps
what it was given; ``cloudcontrol.py`` leaves them out of every answer). A request is what
``GetResourceRequestStatus`` reports: its outcome is decided when the request is made and
becomes visible at ``done_at``. The client token and a digest of the input are kept with the
request, for replays. Every method but ``ResourceStore(...)`` runs inside ``Store.transaction()``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from deployer.emulator.store import Store

_TABLES = (
    """CREATE TABLE IF NOT EXISTS cc_resources (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        type_name TEXT NOT NULL,
        identifier TEXT NOT NULL,
        model TEXT NOT NULL,
        PRIMARY KEY (account, region, type_name, identifier)
    )""",
    """CREATE TABLE IF NOT EXISTS cc_requests (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        token TEXT NOT NULL UNIQUE,
        type_name TEXT NOT NULL,
        identifier TEXT,
        operation TEXT NOT NULL,
        status TEXT NOT NULL,
        error_code TEXT,
        message TEXT,
        created_at REAL NOT NULL,
        done_at REAL NOT NULL,
        client_token TEXT,
        digest TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS cc_requests_by_client_token ON cc_requests (account, region, client_token)",
)


Failure = tuple[str, str]  # (HandlerErrorCode, StatusMessage)


class ResourceDoor(Protocol):
    """Where Cloud Control keeps one type's resources: this module's table for most types, another emulated
    service's store for a type that service also serves (``cloudcontrol.DOORS``). A model is in CloudFormation
    names, write-only properties included, and reaches ``create`` and ``update`` already checked against the
    type's schema. Every method runs inside ``Store.transaction()``."""

    def get(self, account: str, region: str, identifier: str) -> dict[str, Any] | None: ...

    def list(self, account: str, region: str, after: str | None, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """Up to ``limit`` resources in identifier order, those after ``after`` only."""
        ...

    def create(self, account: str, region: str, desired: dict[str, Any]) -> tuple[str | None, Failure | None]:
        """The new resource's identifier (None if it never had one) and why it was not made, if it was not."""
        ...

    def update(self, account: str, region: str, identifier: str, model: dict[str, Any]) -> Failure | None: ...

    def delete(self, account: str, region: str, identifier: str) -> Failure | None: ...


@dataclass(frozen=True)
class ResourceRequest:
    account: str
    region: str
    token: str
    type_name: str
    identifier: str | None
    operation: str  # CREATE, UPDATE, DELETE
    status: str  # the final one: SUCCESS or FAILED
    error_code: str | None
    message: str | None
    created_at: float
    done_at: float
    client_token: str | None
    digest: str
    seq: int = 0  # the order requests were made in; 0 until stored


class ResourceStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        with store.transaction():
            for statement in _TABLES:
                store.execute(statement)

    def get(self, account: str, region: str, type_name: str, identifier: str) -> dict[str, Any] | None:
        row = self.store.execute(
            "SELECT model FROM cc_resources WHERE account=? AND region=? AND type_name=? AND identifier=?",
            (account, region, type_name, identifier),
        ).fetchone()
        return json.loads(row["model"]) if row else None

    def put(self, account: str, region: str, type_name: str, identifier: str, model: dict[str, Any]) -> None:
        self.store.execute(
            "INSERT OR REPLACE INTO cc_resources VALUES (?,?,?,?,?)",
            (account, region, type_name, identifier, json.dumps(model, sort_keys=True)),
        )

    def delete(self, account: str, region: str, type_name: str, identifier: str) -> None:
        self.store.execute(
            "DELETE FROM cc_resources WHERE account=? AND region=? AND type_name=? AND identifier=?",
            (account, region, type_name, identifier),
        )

    def list(self, account: str, region: str, type_name: str, after: str | None,
             limit: int) -> list[tuple[str, dict[str, Any]]]:
        """Up to ``limit`` resources of the type in identifier order, those after ``after`` only."""
        rows = self.store.execute(
            "SELECT identifier, model FROM cc_resources WHERE account=? AND region=? AND type_name=? "
            "AND identifier > ? ORDER BY identifier LIMIT ?",
            (account, region, type_name, after or "", limit),
        ).fetchall()
        return [(row["identifier"], json.loads(row["model"])) for row in rows]

    def add_request(self, request: ResourceRequest) -> None:
        self.store.execute(
            "INSERT INTO cc_requests (account, region, token, type_name, identifier, operation, status, error_code, "
            "message, created_at, done_at, client_token, digest) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (request.account, request.region, request.token, request.type_name, request.identifier,
             request.operation, request.status, request.error_code, request.message, request.created_at,
             request.done_at, request.client_token, request.digest),
        )

    def request(self, token: str) -> ResourceRequest | None:
        row = self.store.execute("SELECT * FROM cc_requests WHERE token=?", (token,)).fetchone()
        return _request(row) if row else None

    def by_client_token(self, account: str, region: str, client_token: str) -> ResourceRequest | None:
        row = self.store.execute(
            "SELECT * FROM cc_requests WHERE account=? AND region=? AND client_token=? ORDER BY seq DESC LIMIT 1",
            (account, region, client_token),
        ).fetchone()
        return _request(row) if row else None

    def requests(self, account: str, region: str, since: float, before_seq: int | None) -> Iterator[ResourceRequest]:
        """The account's requests made at ``since`` or later, newest first, those before ``before_seq`` only."""
        rows = self.store.execute(
            "SELECT * FROM cc_requests WHERE account=? AND region=? AND created_at >= ? AND seq < ? ORDER BY seq DESC",
            (account, region, since, before_seq if before_seq is not None else 2**62),
        )
        return (_request(row) for row in rows.fetchall())


def _request(row: Any) -> ResourceRequest:
    return ResourceRequest(
        account=row["account"], region=row["region"], token=row["token"], type_name=row["type_name"],
        identifier=row["identifier"], operation=row["operation"], status=row["status"],
        error_code=row["error_code"], message=row["message"], created_at=row["created_at"],
        done_at=row["done_at"], client_token=row["client_token"], digest=row["digest"], seq=row["seq"],
    )


# A NextToken is a cursor (the last identifier, or request sequence number, of the page) and the scope
# it was issued for, in standard base64: the model's pattern for NextToken is [-A-Za-z0-9+/=]+.


def _scope_digest(scope: list[Any]) -> str:
    return hashlib.sha256(json.dumps(scope).encode()).hexdigest()[:16]


def encode_next_token(after: str, scope: list[Any]) -> str:
    return base64.b64encode(json.dumps({"after": after, "scope": _scope_digest(scope)}).encode()).decode()


def decode_next_token(token: str | None, scope: list[Any]) -> str | None:
    """The cursor in ``token``; ValueError for a token not issued for ``scope``."""
    if token is None:
        return None
    try:
        decoded = json.loads(base64.b64decode(token, validate=True))
        if decoded["scope"] == _scope_digest(scope) and isinstance(decoded["after"], str):
            return str(decoded["after"])
    except (ValueError, KeyError, TypeError):
        pass
    raise ValueError("Invalid NextToken.")
