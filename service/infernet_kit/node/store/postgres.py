"""The job table in PostgreSQL (`job_store.dsn` in config.json): one job space for several REST replicas.

SQL and schema only, as `node.store.sqlite` is; grouping writes and caching are `node.store.buffered`'s. Calls
are asynchronous (psycopg's `AsyncConnection`): the event loop serves other requests during each round trip.
Writes have a connection of their own (the store runs one write at a time), so a read never runs inside a write's
transaction; reads share the other. A call the database has not answered within `job_store.timeout` seconds
(a hung server or network) fails with `StoreUnavailable` and its connection is dropped, to be opened again.
Such a write may still have been committed: a new job refused that way can remain `running` in the table until
this replica starts again (its final records are idempotent and written again anyway).
Every row names the replica that wrote it, so a replica that starts marks `failed` only the jobs it left running,
never those another live replica is running.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg

from infernet_kit.node.store.base import JobRecord, JobStatus, StoreUnavailable
from infernet_kit.node.store.rows import COLUMNS, record_row, row_record

log = logging.getLogger(__name__)
T = TypeVar("T")

TABLE = "infernet_jobs"
_SCHEMA_LOCK = 0x1E7E_0B5  # advisory lock id: replicas starting together create the schema one at a time
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    seq BIGSERIAL,
    client TEXT NOT NULL,
    id TEXT NOT NULL,
    replica TEXT NOT NULL,
    origin TEXT NOT NULL,
    containers TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    intermediate TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (client, id)
);
CREATE INDEX IF NOT EXISTS {TABLE}_by_client ON {TABLE} (client, created, seq);
CREATE INDEX IF NOT EXISTS {TABLE}_running ON {TABLE} (replica) WHERE status = 'running' AND origin = 'node'
"""
_UPSERT = (
    f"INSERT INTO {TABLE} (replica, {COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (client, id) DO UPDATE SET replica = excluded.replica, origin = excluded.origin, "
    "containers = excluded.containers, status = excluded.status, result = excluded.result, "
    "intermediate = excluded.intermediate, updated = excluded.updated"
)


class PostgresJobTable:
    """`JobTable` over two connections to `dsn` (writes, reads), writing as `replica`; a lost connection is
    opened again at its next use."""

    def __init__(self, dsn: str, replica: str, answer_within: float) -> None:
        self._dsn = dsn
        self.replica = replica
        self._timeout = answer_within
        self._writes: psycopg.AsyncConnection[Any] | None = None
        self._reads: psycopg.AsyncConnection[Any] | None = None
        self._reconnecting = asyncio.Lock()  # concurrent reads open one new connection, not one each
        self._abandoned: set[asyncio.Future[Any]] = set()  # overrun calls, still holding their connections
        self._closing: set[asyncio.Future[None]] = set()  # their connections, closing once they ended

    @classmethod
    async def open(cls, dsn: str, replica: str, answer_within: float) -> PostgresJobTable:
        """Connect and create the table if it is missing; each call may take `answer_within` seconds."""
        table = cls(dsn, replica, answer_within)

        async def create(db: psycopg.AsyncConnection[Any]) -> None:
            async with db.transaction():
                await db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in _SCHEMA.split(";"):
                    await db.execute(statement)

        try:
            await table._call(create, writes=True)
        except StoreUnavailable as exc:
            await table.close()
            raise StoreUnavailable(f"PostgreSQL: {exc.reason}") from exc
        return table

    async def _call(self, work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]], *, writes: bool) -> T:
        """`work` on the writes' or the reads' connection, within the timeout; `StoreUnavailable` if not.

        A call that overruns is cancelled and left behind with its connection: the caller hears at once, while
        psycopg sends the silent server a cancel request and rolls the transaction back (so a write refused here
        never lands later), and the connection is closed once that ends. Closing it under the running call would
        free libpq's handle while psycopg still uses it (SIGSEGV)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        try:
            async with asyncio.timeout_at(deadline):  # connecting is safe to cancel
                if writes:
                    self._writes = db = await self._connect(self._writes)
                else:
                    async with self._reconnecting:
                        self._reads = db = await self._connect(self._reads)
            call = asyncio.ensure_future(work(db))
            await asyncio.wait((call,), timeout=max(deadline - loop.time(), 0))
            if call.done():
                return call.result()
        except TimeoutError:
            pass
        except psycopg.Error as exc:
            raise StoreUnavailable(_reason(exc)) from exc
        else:  # the call overran: later calls take a new connection, and this one closes when its call ends
            self._writes = None if db is self._writes else self._writes
            self._reads = None if db is self._reads else self._reads
            self._abandoned.add(call)
            call.add_done_callback(lambda done: self._close_abandoned(done, db))
            call.cancel()
        raise StoreUnavailable(f"no answer from PostgreSQL within {self._timeout:g}s")

    async def _connect(self, db: psycopg.AsyncConnection[Any] | None) -> psycopg.AsyncConnection[Any]:
        """`db`, or a new connection when there is none or it broke."""
        if db is not None and not db.closed and not db.broken:
            return db
        if db is not None:
            log.warning("store: a PostgreSQL connection was lost; connecting again")
            await db.close()
        return await psycopg.AsyncConnection.connect(
            self._dsn,
            autocommit=True,
            connect_timeout=max(2, math.ceil(self._timeout)),  # libpq's least
            options=f"-c statement_timeout={round(self._timeout * 1000)}",
            application_name=f"infernet-node {self.replica}"[:63],
        )

    def _close_abandoned(self, call: asyncio.Future[Any], db: psycopg.AsyncConnection[Any]) -> None:
        """An overrun call ended (rolled back): the caller already heard "unavailable"; now its connection can go."""
        self._abandoned.discard(call)
        if not call.cancelled():
            call.exception()  # retrieved: it is not news
        closing = asyncio.ensure_future(db.close())
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        if pending := {*self._abandoned, *self._closing}:
            await asyncio.wait(pending, timeout=self._timeout)  # a silent server gets no longer than any call
        for db in (self._writes, self._reads):
            if db is not None:
                await db.close()

    async def write(self, records: Sequence[JobRecord]) -> None:
        rows = [(self.replica, *record_row(record)) for record in records]

        async def upsert(db: psycopg.AsyncConnection[Any]) -> None:
            async with db.transaction(), db.cursor() as cursor:
                await cursor.executemany(_UPSERT, rows)

        await self._call(upsert, writes=True)

    async def read(self, client: str, job_ids: Sequence[str]) -> list[JobRecord]:
        sql = f"SELECT {COLUMNS} FROM {TABLE} WHERE client = %s AND id = ANY(%s)"
        return [row_record(row) for row in await self._select(sql, (client, list(job_ids)))]

    async def ids(self, client: str, pending: bool | None) -> list[str]:
        sql = f"SELECT id FROM {TABLE} WHERE client = %s"
        if pending is True:
            sql += " AND status = 'running'"
        elif pending is False:
            sql += " AND status != 'running'"
        return [row[0] for row in await self._select(sql + " ORDER BY created, seq", (client,))]

    async def statuses(self, client: str) -> list[tuple[str, JobStatus]]:
        sql = f"SELECT id, status FROM {TABLE} WHERE client = %s ORDER BY created, seq"
        return [(job_id, status) for job_id, status in await self._select(sql, (client,))]

    async def interrupted(self) -> list[JobRecord]:
        sql = f"SELECT {COLUMNS} FROM {TABLE} WHERE status = 'running' AND origin = 'node' AND replica = %s"
        return [row_record(row) for row in await self._select(sql, (self.replica,))]

    async def _select(self, sql: str, params: Sequence[Any]) -> list[Any]:
        async def select(db: psycopg.AsyncConnection[Any]) -> list[Any]:
            cursor = await db.execute(sql, params)
            return await cursor.fetchall()

        return await self._call(select, writes=False)


def _reason(exc: psycopg.Error) -> str:
    """The server's or libpq's message on one line (a DSN's password is never part of it)."""
    return " ".join(str(exc).split())
