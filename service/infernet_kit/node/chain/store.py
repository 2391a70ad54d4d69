"""What the chain side of a node must remember across restarts: its sync cursor, the subscriptions it
tracks and every delivery it started, so a restart neither skips nor repeats an interval.

SQLite used the node's one way (`node.sqlite`: on the event loop, WAL, synchronous=NORMAL): each write is one
transaction, committed when the call returns, so a record that says a transaction was signed is on disk before
the transaction is broadcast. The methods are coroutines so that the callers need not know this.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from infernet_kit.chain.encoding import Signature, Subscription
from infernet_kit.node import sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chain_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chain_subscriptions (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chain_deliveries (
    subscription_id INTEGER NOT NULL,
    interval INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    tx_hash TEXT,
    nonce INTEGER,
    error TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (subscription_id, interval)
);
CREATE TABLE IF NOT EXISTS chain_delegated (
    owner TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    tx_hash TEXT,
    error TEXT,
    updated_at REAL NOT NULL,
    subscription_id INTEGER,
    PRIMARY KEY (owner, nonce)
);
"""
# Added after the first release: a store written before it gains the column when opened.
_DELEGATED_ID_COLUMN = "ALTER TABLE chain_delegated ADD COLUMN subscription_id INTEGER"
_SET_STATE = "INSERT INTO chain_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
_DELIVERY_COLUMNS = "subscription_id, interval, status, attempts, tx_hash, nonce, error"
_SAVE_DELIVERY = (
    f"INSERT OR REPLACE INTO chain_deliveries ({_DELIVERY_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_DELEGATED_COLUMNS = "body, status, tx_hash, error, subscription_id"


class DeliveryStatus(StrEnum):
    """`running`: work started, nothing sent. `sent`: a signed transaction exists (its hash is recorded
    before it is broadcast). The other three are final."""

    RUNNING = "running"
    SENT = "sent"
    DELIVERED = "delivered"
    SKIPPED = "skipped"
    FAILED = "failed"


FINAL_STATUSES = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.SKIPPED, DeliveryStatus.FAILED})


class DeliveryRecord(BaseModel):
    subscription_id: int
    interval: int
    status: DeliveryStatus
    attempts: int = 0
    tx_hash: str | None = None
    nonce: int | None = None
    error: str | None = None


class DelegatedRequest(BaseModel):
    """A delegated subscription accepted over REST and not yet delivered on chain."""

    subscription: Subscription
    signature: Signature
    data: Any = None


class DelegatedRecord(BaseModel):
    """`subscription_id` once the node knows the on-chain id: later intervals (and other nodes' subscriptions
    created from the same signed request) are computed from `request.data`, which the chain does not hold."""

    request: DelegatedRequest
    status: DeliveryStatus
    tx_hash: str | None = None
    error: str | None = None
    subscription_id: int | None = None


class ChainStore:
    """SQLite (WAL) file in the node's data directory, separate from the job store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._unsaved: list[tuple[tuple[object, ...], asyncio.Future[None]]] = []
        # Owners with a delegated request: every delivery asks `delegated_for`, and nearly all owners have none.
        self._delegating: set[str] = set()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite.connect(self.path)
        try:
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(chain_delegated)")}
            if "subscription_id" not in columns:
                db.execute(_DELEGATED_ID_COLUMN)
            self._delegating = {str(row[0]) for row in db.execute("SELECT DISTINCT owner FROM chain_delegated")}
        except sqlite3.Error:
            db.close()
            raise
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("chain store is not open")
        return self._db

    # -- state ------------------------------------------------------------------------------------------

    async def get_state(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM chain_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    async def set_state(self, values: dict[str, str]) -> None:
        with sqlite.transaction(self.db) as db:
            db.executemany(_SET_STATE, list(values.items()))

    async def reset(self) -> None:
        """Forget everything: the data directory was used with another chain or registry."""
        self._write_unsaved()  # what was saved before is forgotten too, not written after
        with sqlite.transaction(self.db) as db:
            for table in ("chain_state", "chain_subscriptions", "chain_deliveries", "chain_delegated"):
                db.execute(f"DELETE FROM {table}")  # fixed table names, no user input
        self._delegating.clear()

    # -- tracked subscriptions ---------------------------------------------------------------------------

    async def track(self, subscriptions: dict[int, Subscription], *, cursor: int) -> None:
        """Add newly learned subscriptions and move the sync cursor in one transaction."""
        with sqlite.transaction(self.db) as db:
            db.executemany(
                "INSERT OR REPLACE INTO chain_subscriptions (id, body) VALUES (?, ?)",
                [(sub_id, sub.model_dump_json()) for sub_id, sub in subscriptions.items()],
            )
            db.execute(_SET_STATE, ("cursor", str(cursor)))

    async def untrack(self, subscription_ids: Iterable[int]) -> None:
        with sqlite.transaction(self.db) as db:
            db.executemany("DELETE FROM chain_subscriptions WHERE id = ?", [(i,) for i in subscription_ids])

    async def tracked(self) -> dict[int, Subscription]:
        rows = self.db.execute("SELECT id, body FROM chain_subscriptions").fetchall()
        return {int(row[0]): Subscription.model_validate_json(row[1]) for row in rows}

    # -- deliveries --------------------------------------------------------------------------------------

    async def save_delivery(self, record: DeliveryRecord) -> None:
        """Written and committed when this returns. Records saved in the same event-loop turn (the deliveries
        signed in one batch, those settled by one block) share one transaction: one commit, not one each."""
        await self.saving(record)

    def saving(self, record: DeliveryRecord) -> asyncio.Future[None]:
        """`save_delivery`, as the future of its commit: many are awaited together without a task each."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._unsaved.append((_delivery_row(record), waiter))
        if len(self._unsaved) == 1:
            loop.call_soon(self._write_unsaved)
        return waiter

    def _write_unsaved(self) -> None:
        unsaved, self._unsaved = self._unsaved, []
        if not unsaved:
            return
        try:
            with sqlite.transaction(self.db) as db:
                db.executemany(_SAVE_DELIVERY, [row for row, _ in unsaved])
        except Exception as exc:
            for _, waiter in unsaved:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        for _, waiter in unsaved:
            if not waiter.done():
                waiter.set_result(None)

    async def delivery(self, subscription_id: int, interval: int) -> DeliveryRecord | None:
        row = self.db.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM chain_deliveries WHERE subscription_id = ? AND interval = ?",
            (subscription_id, interval),
        ).fetchone()
        return None if row is None else _delivery(row)

    async def deliveries(self, statuses: Iterable[DeliveryStatus] | None = None) -> list[DeliveryRecord]:
        query = f"SELECT {_DELIVERY_COLUMNS} FROM chain_deliveries"
        params: list[str] = []
        if statuses is not None:
            params = [s.value for s in statuses]
            query += f" WHERE status IN ({','.join('?' * len(params))})"
        return [_delivery(row) for row in self.db.execute(query, params).fetchall()]

    # -- delegated subscriptions -------------------------------------------------------------------------

    async def save_delegated(self, record: DelegatedRecord) -> None:
        request = record.request
        with sqlite.transaction(self.db) as db:
            db.execute(
                "INSERT OR REPLACE INTO chain_delegated "
                "(owner, nonce, body, status, tx_hash, error, updated_at, subscription_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request.subscription.owner,
                    request.signature.nonce,
                    request.model_dump_json(),
                    record.status.value,
                    record.tx_hash,
                    record.error,
                    time.time(),
                    record.subscription_id,
                ),
            )
        self._delegating.add(request.subscription.owner)

    async def delegated(self, owner: str, nonce: int) -> DelegatedRecord | None:
        row = self.db.execute(
            f"SELECT {_DELEGATED_COLUMNS} FROM chain_delegated WHERE owner = ? AND nonce = ?", (owner, nonce)
        ).fetchone()
        return None if row is None else _delegated(row)

    async def delegated_for(self, owner: str) -> list[DelegatedRecord]:
        """Every delegated request of `owner` this node accepted (any status)."""
        if owner not in self._delegating:
            return []
        rows = self.db.execute(f"SELECT {_DELEGATED_COLUMNS} FROM chain_delegated WHERE owner = ?", (owner,)).fetchall()
        return [_delegated(row) for row in rows]

    async def unfinished_delegated(self) -> list[DelegatedRecord]:
        rows = self.db.execute(
            f"SELECT {_DELEGATED_COLUMNS} FROM chain_delegated WHERE status IN (?, ?)",
            (DeliveryStatus.RUNNING.value, DeliveryStatus.SENT.value),
        ).fetchall()
        return [_delegated(row) for row in rows]


def _delivery_row(record: DeliveryRecord) -> tuple[object, ...]:
    return (
        record.subscription_id,
        record.interval,
        record.status.value,
        record.attempts,
        record.tx_hash,
        record.nonce,
        record.error,
        time.time(),
    )


def _delivery(row: Any) -> DeliveryRecord:
    return DeliveryRecord(
        subscription_id=row[0],
        interval=row[1],
        status=DeliveryStatus(row[2]),
        attempts=row[3],
        tx_hash=row[4],
        nonce=row[5],
        error=row[6],
    )


def _delegated(row: Any) -> DelegatedRecord:
    return DelegatedRecord(
        request=DelegatedRequest.model_validate(json.loads(row[0])),
        status=DeliveryStatus(row[1]),
        tx_hash=row[2],
        error=row[3],
        subscription_id=row[4],
    )
