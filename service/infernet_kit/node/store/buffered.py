"""The `JobStore` layer over a `JobTable`: grouped writes, an in-memory view of running and recent jobs, and
final records kept until the table takes them.

Writes from concurrent jobs are grouped into one table write (one transaction): one writer task writes what was
queued, and what queued up meanwhile right after, so writes never overlap and a slow database (PostgreSQL over the
network) groups more per write instead of holding up the event loop. The jobs this process runs or finished
recently are answered from memory, so polling clients never touch the table.
A job's final record is what readers see at once (a waiting read of a job this process runs is woken by it), and
goes to the table with the writer's next group, at most `FINAL_WRITE_DELAY` later: a result is never held back for
a commit, and with jobs coming one at a time, a job's final record goes with the next job's new one (one commit per
job, not two: a commit was a tenth of the node's CPU per job). A crash before that
commit leaves the job `running` in the table, and the next start marks it failed, as for any job a crash cut off.
A job this process does not run (another replica's, on a shared table) is read from the table every `SHARED_POLL`
seconds until it ends.

When the table cannot be written (a full disk, whether the WAL or a checkpoint hits it, an I/O error):
- a new record (`create`, `record`) is refused with `StoreUnavailable`, which the API answers with 503;
- a final status (`finish`) is never lost or left `running`: it is kept in memory, where readers see it, and
  written again at every later flush and on a backoff timer until the table takes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infernet_kit.node.store.base import (
    CRASH_REASON,
    JobKey,
    JobRecord,
    JobStatus,
    JobTable,
    NotReportable,
    StoreUnavailable,
)

log = logging.getLogger("infernet_kit.node.store")

RETRY_FIRST, RETRY_MAX = 0.1, 2.0  # seconds between attempts to write finished jobs kept in memory
RECENT_LIMIT = 50_000  # finished jobs answered from memory
SHARED_POLL = 0.01  # seconds between table reads while waiting for a job another process runs
FINAL_WRITE_DELAY = 0.005  # seconds a final record waits for a group to join before it is written alone


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@dataclass
class _Write:
    """A new record waiting for the next flush; `committed` tells its caller the outcome."""

    record: JobRecord
    committed: asyncio.Future[None]


class BufferedJobStore:
    """`JobStore` over `table`: one table write at a time for all that is queued, reads of known jobs from memory."""

    def __init__(self, table: JobTable, *, recent_limit: int = RECENT_LIMIT) -> None:
        self._table = table
        self._queue: list[_Write] = []
        self._writer: asyncio.Task[None] | None = None  # writes the queue, one table write at a time
        self._running: dict[JobKey, JobRecord] = {}  # node jobs running in this process, never evicted
        self._recent: OrderedDict[JobKey, JobRecord] = OrderedDict()
        self._recent_limit = recent_limit
        self._unsaved: dict[JobKey, JobRecord] = {}  # final records the table has not taken yet (or refused)
        self._retry: asyncio.TimerHandle | None = None
        self._final_write: asyncio.TimerHandle | None = None  # writes final records no new one took along
        self._retry_delay = RETRY_FIRST
        self._failing: str | None = None  # the last write error, while writes fail
        self._waiters: dict[JobKey, set[asyncio.Future[None]]] = {}  # waiting reads, woken when the job settles
        self._released = False  # the node is stopping: waits return at once
        self._closed = False

    async def fail_interrupted(self) -> int:
        """Node jobs a previous run left `running` end `failed` (kept in memory until the table takes it)."""
        records = await self._table.interrupted()
        now = time.time()
        for record in records:
            failed = record.crashed(now)
            self._unsaved[failed.key] = failed
            self._remember(failed)
            log.info("job %s failed: %s", record.id, CRASH_REASON)
        await self._flush()
        if records:
            log.warning("store: marked %d job(s) left running by a previous run as failed", len(records))
        return len(records)

    async def close(self) -> None:
        """Write what is queued or unsaved; what still cannot be written is named in the log."""
        if self._writer is not None:
            await asyncio.wait((self._writer,))
        await self._flush()
        self._closed = True
        if self._final_write is not None:
            self._final_write.cancel()
            self._final_write = None
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
        await self._table.close()

    # Writes: queued, then written together by the writer task.

    def _enqueue(self, record: JobRecord) -> asyncio.Future[None]:
        """Queue a new record; the future is done once it is committed (or refused: `StoreUnavailable`)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append(_Write(record, future))
        # A turn later: a job's first container request, prepared in the next turn, leaves before this commit.
        loop.call_soon(self._start_writer)
        return future

    def _keep(self, record: JobRecord) -> None:
        """A final record: readers see it now, and the writer takes it to the table with its next group."""
        self._unsaved[record.key] = record  # replaces an unsaved older one of the same job
        self._settle(record)
        # Later: the readers just woken write their answers before this commit runs, and a new record queued
        # meanwhile takes this one along.
        if self._final_write is None:
            self._final_write = asyncio.get_running_loop().call_later(FINAL_WRITE_DELAY, self._write_finals)

    def _write_finals(self) -> None:
        self._final_write = None
        if self._unsaved:
            self._start_writer()

    def _start_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_queued())

    async def _write_queued(self) -> None:
        """Write the queue, and again while more was queued or finished during a write (while writes fail, the
        retry timer writes the final records kept)."""
        await self._flush()
        while (self._queue or (self._unsaved and self._failing is None)) and not self._closed:
            await self._flush()

    async def _flush(self) -> None:
        if self._closed:
            return
        batch, self._queue = self._queue, []
        final = list(self._unsaved.values())
        records = [*final, *(write.record for write in batch)]
        if not records:
            return
        try:
            await self._table.write(records)
        except StoreUnavailable as exc:
            self._write_failed(batch, exc.reason)
            return
        if self._failing is not None:
            log.warning("store: writes work again; saved %d job record(s) kept in memory", len(final))
            self._failing = None
        for record in final:  # those finished during the write stay for the next one
            if self._unsaved.get(record.key) is record:
                del self._unsaved[record.key]
        if not self._unsaved and self._final_write is not None:  # a new record took them along: no wake-up
            self._final_write.cancel()
            self._final_write = None
        self._retry_delay = RETRY_FIRST
        for write in batch:
            self._settle(write.record)
            if write.committed.cancelled() and write.record.key in self._running:
                # Its `create` was cancelled while the record was being written: the job will never run.
                self._keep(write.record.crashed(time.time()))
            elif not write.committed.done():
                write.committed.set_result(None)

    def _write_failed(self, batch: list[_Write], reason: str) -> None:
        """New records are refused (their callers answer 503); final ones stay in memory and are retried."""
        if self._failing != reason:
            log.error(
                "store: cannot write %d job record(s): %s; finished jobs are kept in memory and written when the"
                " database takes them",
                len(batch) + len(self._unsaved),
                reason,
            )
            self._failing = reason
        for write in batch:
            if not write.committed.done():
                write.committed.set_exception(StoreUnavailable(reason))
        if self._unsaved and self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(self._retry_delay, self._retry_unsaved)
            self._retry_delay = min(self._retry_delay * 2, RETRY_MAX)

    def _retry_unsaved(self) -> None:
        self._retry = None
        self._start_writer()

    def _settle(self, record: JobRecord) -> None:
        """Make `record` what readers see and count."""
        if record.status == "running" and record.origin == "node":
            self._running[record.key] = record
        else:
            self._running.pop(record.key, None)
        if record.origin == "node":  # a reported job may be changed by another process sharing the table
            self._remember(record)
        for waiter in self._waiters.get(record.key, ()):
            _wake(waiter)

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
        committed = self._enqueue(record)
        try:
            await committed
        except asyncio.CancelledError:  # the caller is gone (the node is stopping): this job will never run
            self._queue = [write for write in self._queue if write.committed is not committed]
            if record.key in self._running:
                self._keep(record.crashed(time.time()))
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
        """Record a job's final status and result: readers see it at once, the table with the writer's next
        group (or later, if it refuses it); never raises, so no error leaves a job `running`."""
        running = self._running.get((client, job_id))
        if running is None:  # a bug in the caller; say so rather than fail the caller's own error handling
            log.error("store: job %s of %s finished while not running: outcome %s ignored", job_id, client, status)
            return
        update = {"status": status, "result": result, "intermediate": list(intermediate), "updated": time.time()}
        self._keep(running.model_copy(update=update))

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

        Raises `NotReportable` for a job this node runs, `StoreUnavailable` when the table refuses it.
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
        await self._enqueue(record)

    # Reads.

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
            found.update((record.id, record) for record in await self._table.read(client, missing))
        return [found[job_id] for job_id in unique if job_id in found]

    async def wait(self, job_ids: Sequence[str], *, client: str, seconds: float) -> list[JobRecord]:
        """As `get`, once none of the records found is running or after `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            records = await self.get(job_ids, client=client)
            running = [record.key for record in records if record.status == "running"]
            remaining = deadline - loop.time()
            if not running or remaining <= 0 or self._released:
                return records
            if all(key in self._running for key in running):
                await self._settled(running, remaining)
            else:  # run elsewhere (another replica) or reported: only the table will say when it ends
                await asyncio.sleep(min(SHARED_POLL, remaining))

    def release_waits(self) -> None:
        """The node is stopping: waiting reads (and waiting POSTs) answer now with the records as they are, and
        later ones at once. Held until the server's grace ran out, each was cancelled into a 500 and a traceback."""
        self._released = True
        for waiters in self._waiters.values():
            for waiter in waiters:
                _wake(waiter)

    async def _settled(self, keys: list[JobKey], seconds: float) -> None:
        """Return when one of `keys` gets a new record in memory, or after `seconds` (a timer on the loop, not
        `asyncio.wait`, which costs a task-set and callbacks per read)."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        for key in keys:
            self._waiters.setdefault(key, set()).add(waiter)
        timer = loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            for key in keys:
                waiters = self._waiters[key]
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[key]

    async def ids(self, *, client: str, pending: bool | None = None) -> list[str]:
        """Ids of `client`'s jobs, oldest first; `pending` filters running (True) or finished (False) ones."""
        unsaved = {job_id: r.status for (owner, job_id), r in self._unsaved.items() if owner == client}
        if pending is None or not unsaved:
            return await self._table.ids(client, pending)
        # The table still shows unsaved final records as running: their status is the one in memory.
        statuses = await self._table.statuses(client)
        return [job_id for job_id, status in statuses if (unsaved.get(job_id, status) == "running") == pending]

    def pending_count(self) -> int:
        """Off-chain jobs running in this process."""
        return len(self._running)
