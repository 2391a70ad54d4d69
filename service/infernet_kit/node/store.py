"""The off-chain job store: SQLite in the node's data directory, so results outlive the process.

Records hold ids, statuses and container outputs only: never the request's input, tokens or keys.

Why SQLite is called on the event loop rather than through a thread (aiosqlite): in WAL mode with
synchronous=NORMAL a commit does not fsync and takes tens of microseconds, while handing each statement to a
thread and back costs more than that and, when the loop is busy, waits on the GIL switch interval (5 ms).
Writes from concurrent jobs are grouped into one transaction per event-loop turn, and the jobs this process
runs or finished recently are answered from memory, so polling clients never touch the database.
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
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

JobStatus = Literal["running", "success", "failed"]
CRASH_REASON = "node stopped while the job was running"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    containers TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    intermediate TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_client ON jobs (client, status);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status);
"""


class JobRecord(BaseModel):
    """A job as stored; `result` is `{"container", "output"}` or `{"container", "error"}`."""

    id: str
    client: str
    containers: list[str]
    status: JobStatus
    result: dict[str, Any] | None = None
    intermediate: list[dict[str, Any]] = Field(default_factory=list)
    created: float
    updated: float

    def as_rest(self, *, intermediate: bool) -> dict[str, Any]:
        """The `GET /api/jobs` shape."""
        body: dict[str, Any] = {"id": self.id, "status": self.status, "result": self.result}
        if intermediate:
            body["intermediate_results"] = self.intermediate
        return body


def _row_to_record(row: Sequence[Any]) -> JobRecord:
    return JobRecord(
        id=row[0],
        client=row[1],
        containers=json.loads(row[2]),
        status=row[3],
        result=json.loads(row[4]) if row[4] is not None else None,
        intermediate=json.loads(row[5]),
        created=row[6],
        updated=row[7],
    )


_COLUMNS = "id, client, containers, status, result, intermediate, created, updated"


class JobStore:
    """Job records in SQLite, with grouped commits and an in-memory view of recent jobs."""

    def __init__(self, db: sqlite3.Connection, path: Path, *, recent_limit: int = 50_000) -> None:
        self._db = db
        self.path = path
        self._pending: list[tuple[str, tuple[Any, ...], asyncio.Future[None]]] = []
        self._flush_scheduled = False
        self._running: set[str] = set()
        self._recent: OrderedDict[str, JobRecord] = OrderedDict()
        self._recent_limit = recent_limit

    @classmethod
    async def open(cls, data_dir: Path) -> JobStore:
        """Open (or create) `jobs.sqlite3` in the existing `data_dir`; fail the jobs a crash left running."""
        path = data_dir / "jobs.sqlite3"
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        store = cls(db, path)
        failed = store._fail_interrupted()
        if failed:
            log.warning("store: marked %d job(s) left running by a previous run as failed", failed)
        return store

    async def close(self) -> None:
        self._flush()
        self._db.close()

    def _fail_interrupted(self) -> int:
        now = time.time()
        rows = self._db.execute("SELECT id, containers FROM jobs WHERE status = 'running'").fetchall()
        self._db.execute("BEGIN")
        for job_id, containers in rows:
            names = json.loads(containers)
            result = {"container": names[-1] if names else "", "error": CRASH_REASON}
            self._db.execute(
                "UPDATE jobs SET status = 'failed', result = ?, updated = ? WHERE id = ?",
                (json.dumps(result), now, job_id),
            )
            log.info("job %s failed: %s", job_id, CRASH_REASON)
        self._db.execute("COMMIT")
        return len(rows)

    # Writes: queued, then executed and committed together once per event-loop turn.

    def _write(self, sql: str, params: tuple[Any, ...]) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((sql, params, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            self._db.execute("BEGIN")
            for sql, params, _ in batch:
                self._db.execute(sql, params)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:  # a failed commit fails every write in it; callers report it
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            log.error("store: write of %d record(s) failed: %s", len(batch), exc)
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, _, future in batch:
            if not future.done():
                future.set_result(None)

    def _remember(self, record: JobRecord) -> None:
        self._recent[record.id] = record
        self._recent.move_to_end(record.id)
        while len(self._recent) > self._recent_limit:
            self._recent.popitem(last=False)

    async def create(self, job_id: str, *, client: str, containers: Sequence[str]) -> None:
        """Record a new job as `running` (committed when this returns)."""
        now = time.time()
        self._running.add(job_id)
        self._remember(
            JobRecord(id=job_id, client=client, containers=list(containers), status="running", created=now, updated=now)
        )
        await self._write(
            f"INSERT INTO jobs ({_COLUMNS}) VALUES (?, ?, ?, 'running', NULL, '[]', ?, ?)",
            (job_id, client, json.dumps(list(containers)), now, now),
        )

    async def finish(
        self,
        job_id: str,
        *,
        status: JobStatus,
        result: dict[str, Any] | None,
        intermediate: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Record a job's final status and result (visible to readers once committed)."""
        now = time.time()
        write = self._write(
            "UPDATE jobs SET status = ?, result = ?, intermediate = ?, updated = ? WHERE id = ?",
            (status, json.dumps(result), json.dumps(list(intermediate)), now, job_id),
        )
        await write
        self._running.discard(job_id)
        if (known := self._recent.get(job_id)) is not None:
            self._remember(
                known.model_copy(
                    update={"status": status, "result": result, "intermediate": list(intermediate), "updated": now}
                )
            )

    async def record(
        self,
        job_id: str,
        *,
        client: str,
        containers: Sequence[str],
        status: JobStatus,
        result: dict[str, Any] | None,
    ) -> None:
        """Insert or replace a job reported from outside (`PUT /api/status`)."""
        now = time.time()
        await self._write(
            f"INSERT INTO jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, '[]', ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET status = excluded.status, result = excluded.result, "
            "containers = excluded.containers, updated = excluded.updated",
            (job_id, client, json.dumps(list(containers)), status, json.dumps(result), now, now),
        )
        self._recent.pop(job_id, None)  # re-read from the database, which holds the merged record

    # Reads.

    async def get(self, job_ids: Sequence[str]) -> list[JobRecord]:
        """The known jobs among `job_ids`, in the order asked; unknown ids are left out."""
        unique = list(dict.fromkeys(job_ids))
        found = {job_id: self._recent[job_id] for job_id in unique if job_id in self._recent}
        missing = [job_id for job_id in unique if job_id not in found]
        if missing:
            placeholders = ",".join("?" * len(missing))
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id IN ({placeholders})", missing).fetchall()
            found.update((row[0], _row_to_record(row)) for row in rows)
        return [found[job_id] for job_id in unique if job_id in found]

    async def ids(self, *, client: str, pending: bool | None = None) -> list[str]:
        """Ids of `client`'s jobs, oldest first; `pending` filters running (True) or finished (False) ones."""
        sql = "SELECT id FROM jobs WHERE client = ?"
        if pending is True:
            sql += " AND status = 'running'"
        elif pending is False:
            sql += " AND status != 'running'"
        return [row[0] for row in self._db.execute(sql + " ORDER BY created, rowid", (client,)).fetchall()]

    def pending_count(self) -> int:
        """Off-chain jobs running in this process."""
        return len(self._running)
