"""The off-chain job store: SQLite in the node's data directory, so results outlive the process.

Records hold ids, statuses and container outputs only: never the request's input, tokens or keys.
Writes from concurrent jobs are grouped into one transaction per event-loop turn, so a burst of jobs costs
one commit instead of one per job.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import aiosqlite
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
    """Async job store over one SQLite connection with grouped commits."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._pending: list[tuple[str, tuple[Any, ...], asyncio.Future[None]]] = []
        self._flush_scheduled = False
        self._flush_lock = asyncio.Lock()
        self._running: set[str] = set()

    @classmethod
    async def open(cls, data_dir: Path) -> JobStore:
        """Open (or create) `jobs.sqlite3` in the existing `data_dir`; fail the jobs a crash left running."""
        path = data_dir / "jobs.sqlite3"
        db = await aiosqlite.connect(path)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.executescript(_SCHEMA)
        await db.commit()
        store = cls(db, path)
        failed = await store._fail_interrupted()
        if failed:
            log.warning("store: marked %d job(s) left running by a previous run as failed", failed)
        return store

    async def close(self) -> None:
        await self._flush()
        await self._db.close()

    async def _fail_interrupted(self) -> int:
        now = time.time()
        cursor = await self._db.execute("SELECT id, containers FROM jobs WHERE status = 'running'")
        rows = list(await cursor.fetchall())
        for job_id, containers in rows:
            names = json.loads(containers)
            result = {"container": names[-1] if names else "", "error": CRASH_REASON}
            await self._db.execute(
                "UPDATE jobs SET status = 'failed', result = ?, updated = ? WHERE id = ?",
                (json.dumps(result), now, job_id),
            )
            log.info("job %s failed: %s", job_id, CRASH_REASON)
        await self._db.commit()
        return len(rows)

    # Writes: queued, then executed and committed together once per event-loop turn.

    def _write(self, sql: str, params: tuple[Any, ...]) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((sql, params, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._flush()))
        return future

    async def _flush(self) -> None:
        self._flush_scheduled = False
        async with self._flush_lock:
            batch, self._pending = self._pending, []
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[str, tuple[Any, ...], asyncio.Future[None]]]) -> None:
        try:
            for sql, params, _ in batch:
                await self._db.execute(sql, params)
            await self._db.commit()
        except Exception as exc:  # a failed commit fails every write in it; callers report it
            log.error("store: write of %d record(s) failed: %s", len(batch), exc)
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, _, future in batch:
            if not future.done():
                future.set_result(None)

    async def create(self, job_id: str, *, client: str, containers: Sequence[str]) -> None:
        """Record a new job as `running`."""
        now = time.time()
        self._running.add(job_id)
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
        """Record a job's final status and result."""
        self._running.discard(job_id)
        await self._write(
            "UPDATE jobs SET status = ?, result = ?, intermediate = ?, updated = ? WHERE id = ?",
            (status, json.dumps(result), json.dumps(list(intermediate)), time.time(), job_id),
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
        if status == "running":
            self._running.add(job_id)
        else:
            self._running.discard(job_id)
        await self._write(
            f"INSERT INTO jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, '[]', ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET status = excluded.status, result = excluded.result, "
            "containers = excluded.containers, updated = excluded.updated",
            (job_id, client, json.dumps(list(containers)), status, json.dumps(result), now, now),
        )

    # Reads.

    async def get(self, job_ids: Sequence[str]) -> list[JobRecord]:
        """The known jobs among `job_ids`, in the order asked; unknown ids are left out."""
        if not job_ids:
            return []
        unique = list(dict.fromkeys(job_ids))
        placeholders = ",".join("?" * len(unique))
        cursor = await self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id IN ({placeholders})", unique)
        found = {row[0]: _row_to_record(row) for row in await cursor.fetchall()}
        return [found[job_id] for job_id in unique if job_id in found]

    async def ids(self, *, client: str, pending: bool | None = None) -> list[str]:
        """Ids of `client`'s jobs, oldest first; `pending` filters running (True) or finished (False) ones."""
        sql = "SELECT id FROM jobs WHERE client = ?"
        if pending is True:
            sql += " AND status = 'running'"
        elif pending is False:
            sql += " AND status != 'running'"
        cursor = await self._db.execute(sql + " ORDER BY created", (client,))
        return [row[0] for row in await cursor.fetchall()]

    def pending_count(self) -> int:
        """Off-chain jobs running in this process."""
        return len(self._running)
