"""The off-chain job store: SQLite in the node's data directory, so results outlive the process.

Records hold ids, statuses and container outputs only: never the request's input, tokens or keys. A record
belongs to the client address that created it: it is keyed by (client, id), like the reference node, so
knowing a job's id (it is in the logs) reads or changes nothing of another client's.

Why SQLite is called on the event loop rather than through a thread (aiosqlite): in WAL mode with
synchronous=NORMAL a commit does not fsync and takes tens of microseconds, while handing each statement to a
thread and back costs more than that and, when the loop is busy, waits on the GIL switch interval (5 ms).
Writes from concurrent jobs are grouped into one transaction per event-loop turn, and the jobs this process
runs or finished recently are answered from memory, so polling clients never touch the database.

When the database cannot be written (a full disk, whether the WAL or a checkpoint hits it, an I/O error):
- a new record (`create`, `record`) is refused with `StoreUnavailable`, which the API answers with 503;
- a final status (`finish`) is never lost or left `running`: it is kept in memory, where readers see it, and
  written again at every later flush and on a backoff timer until the database takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

JobStatus = Literal["running", "success", "failed"]
JobOrigin = Literal["node", "reported"]  # run by this node, or reported by a local process (`PUT /api/status`)
CRASH_REASON = "node stopped while the job was running"

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

_COLUMNS = "client, id, origin, containers, status, result, intermediate, created, updated"
_UPSERT = (
    f"INSERT INTO jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(client, id) DO UPDATE SET origin = excluded.origin, containers = excluded.containers, "
    "status = excluded.status, result = excluded.result, intermediate = excluded.intermediate, "
    "updated = excluded.updated"
)
_RETRY_FIRST, _RETRY_MAX = 0.1, 2.0  # seconds between attempts to write finished jobs kept in memory

JobKey = tuple[str, str]  # (client, id)


class StoreUnavailable(Exception):
    """The database refused a write (or read); `reason` is SQLite's message."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"job store unavailable: {reason}")
        self.reason = reason


class NotReportable(Exception):
    """A status report names a job this node runs itself: only the node records its outcome."""


class JobRecord(BaseModel):
    """A job as stored; `result` is `{"container", "output"}` or `{"container", "error"}`."""

    id: str
    client: str
    origin: JobOrigin = "node"
    containers: list[str]
    status: JobStatus
    result: dict[str, Any] | None = None
    intermediate: list[dict[str, Any]] = Field(default_factory=list)
    created: float
    updated: float

    @property
    def key(self) -> JobKey:
        return (self.client, self.id)

    def as_rest(self, *, intermediate: bool) -> dict[str, Any]:
        """The `GET /api/jobs` shape."""
        body: dict[str, Any] = {"id": self.id, "status": self.status, "result": self.result}
        if intermediate:
            body["intermediate_results"] = self.intermediate
        return body

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.client,
            self.id,
            self.origin,
            json.dumps(self.containers),
            self.status,
            json.dumps(self.result) if self.result is not None else None,
            json.dumps(self.intermediate),
            self.created,
            self.updated,
        )


def _row_to_record(row: Sequence[Any]) -> JobRecord:
    return JobRecord(
        client=row[0],
        id=row[1],
        origin=row[2],
        containers=json.loads(row[3]),
        status=row[4],
        result=json.loads(row[5]) if row[5] is not None else None,
        intermediate=json.loads(row[6]),
        created=row[7],
        updated=row[8],
    )


@dataclass
class _Write:
    """A record waiting for the next flush; `committed` is set for writes whose caller must know the outcome."""

    record: JobRecord
    committed: asyncio.Future[None] | None


class JobStore:
    """Job records in SQLite, with grouped commits and an in-memory view of recent and unsaved jobs."""

    def __init__(self, db: sqlite3.Connection, path: Path, *, recent_limit: int = 50_000) -> None:
        self._db = db
        self.path = path
        self._queue: list[_Write] = []
        self._flush_scheduled = False
        self._running: dict[JobKey, JobRecord] = {}  # node jobs running in this process, never evicted
        self._recent: OrderedDict[JobKey, JobRecord] = OrderedDict()
        self._recent_limit = recent_limit
        self._unsaved: dict[JobKey, JobRecord] = {}  # final records the database refused; written again
        self._retry: asyncio.TimerHandle | None = None
        self._retry_delay = _RETRY_FIRST
        self._failing: str | None = None  # the last write error, while writes fail
        self._closed = False

    @classmethod
    async def open(cls, data_dir: Path) -> JobStore:
        """Open (or create) `jobs.sqlite3` in the existing `data_dir`; fail the jobs a crash left running."""
        path = data_dir / "jobs.sqlite3"
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            _ensure_schema(db)
            store = cls(db, path)
            failed = store._fail_interrupted()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{path}: {exc}") from exc
        if failed:
            log.warning("store: marked %d job(s) left running by a previous run as failed", failed)
        return store

    async def close(self) -> None:
        """Write what is queued or unsaved; what still cannot be written is named in the log."""
        self._flush()
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._unsaved:
            ids = ",".join(job_id for _, job_id in self._unsaved)
            log.error(
                "store: %d finished job(s) could not be saved before stopping (%s): %s; the next start marks them"
                " failed",
                len(self._unsaved),
                self._failing,
                ids,
            )
        self._db.close()

    def _fail_interrupted(self) -> int:
        """Node jobs a previous run left `running` end `failed` (kept in memory until the database takes it)."""
        now = time.time()
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE status = 'running' AND origin = 'node'")
        records = [_row_to_record(row) for row in rows.fetchall()]
        for record in records:
            result = {"container": record.containers[-1] if record.containers else "", "error": CRASH_REASON}
            failed = record.model_copy(update={"status": "failed", "result": result, "updated": now})
            self._unsaved[failed.key] = failed
            self._remember(failed)
            log.info("job %s failed: %s", record.id, CRASH_REASON)
        self._flush()
        return len(records)

    # Writes: queued, then executed and committed together once per event-loop turn.

    def _enqueue(self, record: JobRecord, *, committed: bool) -> asyncio.Future[None] | None:
        future: asyncio.Future[None] | None = None
        if committed:
            future = asyncio.get_running_loop().create_future()
        self._queue.append(_Write(record, future))
        self._schedule_flush()
        return future

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._closed:
            return
        batch, self._queue = self._queue, []
        for write in batch:  # a final record replaces an unsaved older one of the same job
            if write.committed is None:
                self._unsaved.pop(write.record.key, None)
        records = [*self._unsaved.values(), *(write.record for write in batch)]
        if not records:
            return
        try:
            if self._db.in_transaction:  # a failed COMMIT may leave the transaction open
                self._db.execute("ROLLBACK")
            self._db.execute("BEGIN")
            self._db.executemany(_UPSERT, [record.as_row() for record in records])
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
            self._write_failed(batch, str(exc))
            return
        if self._failing is not None:
            log.warning("store: writes work again; saved %d job record(s) kept in memory", len(self._unsaved))
            self._failing = None
        self._unsaved.clear()
        self._retry_delay = _RETRY_FIRST
        for write in batch:
            self._settle(write.record)
            if write.committed is not None and not write.committed.done():
                write.committed.set_result(None)

    def _write_failed(self, batch: list[_Write], reason: str) -> None:
        """New records are refused (their callers answer 503); final ones stay in memory and are retried."""
        final = [write.record for write in batch if write.committed is None]
        for record in final:
            self._unsaved[record.key] = record
            self._settle(record)
        if self._failing != reason:
            log.error(
                "store: cannot write %d job record(s): %s; finished jobs are kept in memory and written when the"
                " database takes them",
                len(batch) + len(self._unsaved) - len(final),
                reason,
            )
            self._failing = reason
        for write in batch:
            if write.committed is not None and not write.committed.done():
                write.committed.set_exception(StoreUnavailable(reason))
        if self._unsaved and self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(self._retry_delay, self._retry_unsaved)
            self._retry_delay = min(self._retry_delay * 2, _RETRY_MAX)

    def _retry_unsaved(self) -> None:
        self._retry = None
        self._flush()

    def _settle(self, record: JobRecord) -> None:
        """Make `record` what readers see and count."""
        if record.status == "running" and record.origin == "node":
            self._running[record.key] = record
        else:
            self._running.pop(record.key, None)
        self._remember(record)

    def _remember(self, record: JobRecord) -> None:
        self._recent[record.key] = record
        self._recent.move_to_end(record.key)
        while len(self._recent) > self._recent_limit:
            self._recent.popitem(last=False)

    async def create(self, job_id: str, *, client: str, containers: Sequence[str]) -> None:
        """Record a new job of `client` as `running`, committed when this returns; `StoreUnavailable` if not."""
        now = time.time()
        record = JobRecord(
            id=job_id, client=client, containers=list(containers), status="running", created=now, updated=now
        )
        committed = self._enqueue(record, committed=True)
        assert committed is not None
        try:
            await committed
        except asyncio.CancelledError:  # the caller is gone (the node is stopping): this job will never run
            self._queue = [write for write in self._queue if write.committed is not committed]
            if record.key in self._running:
                failed = {"container": record.containers[-1] if record.containers else "", "error": CRASH_REASON}
                self.finish(job_id, client=client, status="failed", result=failed)
            raise

    def finish(
        self,
        job_id: str,
        *,
        client: str,
        status: JobStatus,
        result: dict[str, Any] | None,
        intermediate: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Record a job's final status and result: readers see it once committed, or at once if the database
        refuses it (then it is written later); never raises, so no error leaves a job `running`."""
        running = self._running.get((client, job_id))
        if running is None:  # a bug in the caller; say so rather than fail the caller's own error handling
            log.error("store: job %s of %s finished while not running: outcome %s ignored", job_id, client, status)
            return
        update = {"status": status, "result": result, "intermediate": list(intermediate), "updated": time.time()}
        self._enqueue(running.model_copy(update=update), committed=False)

    async def record(
        self,
        job_id: str,
        *,
        client: str,
        containers: Sequence[str],
        status: JobStatus,
        result: dict[str, Any] | None,
    ) -> None:
        """Insert or update a job `client` reports itself (`PUT /api/status`); committed when this returns.

        Raises `NotReportable` for a job this node runs, `StoreUnavailable` when the database refuses it.
        """
        (known,) = await self.get([job_id], client=client) or (None,)
        if known is not None and known.origin == "node":
            raise NotReportable(job_id)
        now = time.time()
        record = JobRecord(
            id=job_id,
            client=client,
            origin="reported",
            containers=list(containers),
            status=status,
            result=result,
            created=known.created if known is not None else now,
            updated=now,
        )
        committed = self._enqueue(record, committed=True)
        assert committed is not None
        await committed

    # Reads.

    def _select(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def get(self, job_ids: Sequence[str], *, client: str) -> list[JobRecord]:
        """`client`'s jobs among `job_ids`, in the order asked; unknown ids and other clients' jobs are left out."""
        unique = list(dict.fromkeys(job_ids))
        found: dict[str, JobRecord] = {}
        for job_id in unique:
            key = (client, job_id)
            known = self._unsaved.get(key) or self._running.get(key) or self._recent.get(key)
            if known is not None:
                found[job_id] = known
        missing = [job_id for job_id in unique if job_id not in found]
        if missing:
            placeholders = ",".join("?" * len(missing))
            sql = f"SELECT {_COLUMNS} FROM jobs WHERE client = ? AND id IN ({placeholders})"
            found.update((row[1], _row_to_record(row)) for row in self._select(sql, [client, *missing]))
        return [found[job_id] for job_id in unique if job_id in found]

    async def ids(self, *, client: str, pending: bool | None = None) -> list[str]:
        """Ids of `client`'s jobs, oldest first; `pending` filters running (True) or finished (False) ones."""
        unsaved = {job_id: r.status for (owner, job_id), r in self._unsaved.items() if owner == client}
        if pending is None or not unsaved:
            sql = "SELECT id FROM jobs WHERE client = ?"
            if pending is True:
                sql += " AND status = 'running'"
            elif pending is False:
                sql += " AND status != 'running'"
            return [row[0] for row in self._select(sql + " ORDER BY created, rowid", (client,))]
        # The database still shows unsaved final records as running: their status is the one in memory.
        rows = self._select("SELECT id, status FROM jobs WHERE client = ? ORDER BY created, rowid", (client,))
        return [job_id for job_id, status in rows if (unsaved.get(job_id, status) == "running") == pending]

    def pending_count(self) -> int:
        """Off-chain jobs running in this process."""
        return len(self._running)


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
