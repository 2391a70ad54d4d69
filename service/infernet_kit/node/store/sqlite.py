"""The job table in SQLite (`jobs.sqlite3` in the node's data directory): SQL and schema only.

Grouping writes, caching and recovering from refused writes are the layer's (`node.store.buffered`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infernet_kit.node import sqlite
from infernet_kit.node.store.base import JobRecord, JobStatus, StoreUnavailable
from infernet_kit.node.store.rows import COLUMNS, record_row, row_record

log = logging.getLogger(__name__)

FILE_NAME = "jobs.sqlite3"
SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    client TEXT NOT NULL,
    id TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT 'node',
    containers TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    intermediate TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (client, id)
);
CREATE INDEX IF NOT EXISTS jobs_by_client ON jobs (client, status);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status);
"""
# Version 1 keyed jobs by id alone (any client could read or overwrite any job); its rows become node jobs.
_MIGRATE_FROM_1 = """
ALTER TABLE jobs RENAME TO jobs_v1;
DROP INDEX IF EXISTS jobs_by_client;
DROP INDEX IF EXISTS jobs_by_status;
{schema}
INSERT INTO jobs (client, id, origin, containers, status, result, intermediate, created, updated)
    SELECT client, id, 'node', containers, status, result, intermediate, created, updated FROM jobs_v1;
DROP TABLE jobs_v1;
"""

_UPSERT = (
    f"INSERT INTO jobs ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(client, id) DO UPDATE SET origin = excluded.origin, containers = excluded.containers, "
    "status = excluded.status, result = excluded.result, intermediate = excluded.intermediate, "
    "updated = excluded.updated"
)


class SqliteJobTable:
    """`JobTable` over one SQLite connection used on the event loop (see `node.sqlite` for why): its calls are
    `async` for the protocol's sake and never suspend."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self.path = path

    @classmethod
    def open(cls, data_dir: Path) -> SqliteJobTable:
        """Open (or create) the table in the existing `data_dir`, bringing an older schema up to date."""
        path = data_dir / FILE_NAME
        try:
            db = sqlite.connect(path)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{path}: {exc}") from exc
        try:
            _ensure_schema(db)
        except sqlite3.Error as exc:
            db.close()
            raise StoreUnavailable(f"{path}: {exc}") from exc
        return cls(db, path)

    async def close(self) -> None:
        self._db.close()

    async def write(self, records: Sequence[JobRecord]) -> None:
        try:
            with sqlite.transaction(self._db) as db:
                db.executemany(_UPSERT, [record_row(record) for record in records])
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def read(self, client: str, job_ids: Sequence[str]) -> list[JobRecord]:
        placeholders = ",".join("?" * len(job_ids))
        sql = f"SELECT {COLUMNS} FROM jobs WHERE client = ? AND id IN ({placeholders})"
        return [row_record(row) for row in self._select(sql, [client, *job_ids])]

    async def ids(self, client: str, pending: bool | None) -> list[str]:
        sql = "SELECT id FROM jobs WHERE client = ?"
        if pending is True:
            sql += " AND status = 'running'"
        elif pending is False:
            sql += " AND status != 'running'"
        return [row[0] for row in self._select(sql + " ORDER BY created, rowid", (client,))]

    async def statuses(self, client: str) -> list[tuple[str, JobStatus]]:
        rows = self._select("SELECT id, status FROM jobs WHERE client = ? ORDER BY created, rowid", (client,))
        return [(job_id, status) for job_id, status in rows]

    async def interrupted(self) -> list[JobRecord]:
        sql = f"SELECT {COLUMNS} FROM jobs WHERE status = 'running' AND origin = 'node'"
        return [row_record(row) for row in self._select(sql, ())]

    def _select(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc


def _ensure_schema(db: sqlite3.Connection) -> None:
    """Create the schema, or bring a version-1 database (jobs keyed by id alone) to the current one."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version >= SCHEMA_VERSION:
        return
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").fetchone()
    script = _MIGRATE_FROM_1.format(schema=_SCHEMA) if exists else _SCHEMA
    db.executescript(f"BEGIN; {script} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
    if exists:
        log.info("store: job records migrated to schema %d (jobs keyed by client and id)", SCHEMA_VERSION)
