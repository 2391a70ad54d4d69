"""The job store in-process: the buffered layer over the SQLite table in a temporary directory, no node process.

What is on disk is read through a separate read-only connection, as another process would read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infernet_kit.node.store import CRASH_REASON, JobStore, NotReportable, StoreUnavailable, open_job_store
from infernet_kit.polling import wait_until_async
from infernet_kit.testing.disk import fill, small_tmpfs

ALICE, BOB = "10.0.0.1", "10.0.0.2"


@contextlib.asynccontextmanager
async def opened(data_dir: Path) -> AsyncIterator[JobStore]:
    store = await open_job_store(data_dir)
    try:
        yield store
    finally:
        await store.close()


def on_disk(data_dir: Path) -> dict[tuple[str, str], str]:
    """(client, id) -> status as the database file holds it."""
    with contextlib.closing(sqlite3.connect(f"file:{data_dir / 'jobs.sqlite3'}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT client, id, status FROM jobs").fetchall()
    return {(client, job_id): status for client, job_id, status in rows}


async def test_jobs_are_kept_per_client(tmp_path: Path) -> None:
    async with opened(tmp_path) as store:
        await store.create("job", client=ALICE, containers=["a", "b"])
        await store.create("job", client=BOB, containers=["a"])  # the same id is another job for another client
        assert on_disk(tmp_path) == {(ALICE, "job"): "running", (BOB, "job"): "running"}
        assert store.pending_count() == 2

        result = {"container": "b", "output": {"text": "done"}}
        store.finish("job", client=ALICE, status="success", result=result, intermediate=[{"container": "a"}])
        assert store.pending_count() == 1  # readers see the final record at once; the table a few turns later

        async def written() -> bool:
            return on_disk(tmp_path)[(ALICE, "job")] == "success"

        await wait_until_async(written, timeout=5, interval=0.001, what="the final record in the table")
        (mine,) = await store.get(["job", "unknown", "job"], client=ALICE)
        assert (mine.status, mine.result, mine.intermediate) == ("success", result, [{"container": "a"}])
        (theirs,) = await store.get(["job"], client=BOB)
        assert (theirs.status, theirs.result) == ("running", None)
        assert await store.get(["job"], client="10.0.0.3") == []

        assert await store.ids(client=ALICE, pending=True) == []
        assert await store.ids(client=ALICE, pending=False) == ["job"]
        assert await store.ids(client=BOB, pending=True) == ["job"]


async def test_a_final_record_goes_with_the_next_new_record_or_alone_soon_after(tmp_path: Path) -> None:
    """One job at a time: a job's final record is committed with the next job's new record (one commit per job);
    with no new record coming, it is written alone within `FINAL_WRITE_DELAY`."""
    async with opened(tmp_path) as store:
        await store.create("one", client=ALICE, containers=["a"])
        store.finish("one", client=ALICE, status="success", result={"container": "a", "output": 1})
        assert on_disk(tmp_path)[(ALICE, "one")] == "running"  # no await yet: nothing was written
        await store.create("two", client=ALICE, containers=["a"])  # returns once its record is committed
        assert on_disk(tmp_path)[(ALICE, "one")] == "success", "the final record missed the new record's commit"
        store.finish("two", client=ALICE, status="failed", result={"container": "a", "error": "no"})

        async def written() -> bool:
            return on_disk(tmp_path)[(ALICE, "two")] == "failed"

        await wait_until_async(written, timeout=5, interval=0.001, what="the last final record written alone")


async def test_records_outlive_the_store_and_jobs_left_running_end_failed(tmp_path: Path) -> None:
    async with opened(tmp_path) as store:
        for job_id in ("first", "done", "cut"):
            await store.create(job_id, client=ALICE, containers=["a", "b"])
        store.finish("done", client=ALICE, status="success", result={"container": "b", "output": 1})
        store.finish("first", client=ALICE, status="failed", result={"container": "a", "error": "no"})
    assert on_disk(tmp_path)[(ALICE, "cut")] == "running"  # closed while it ran: what a crash leaves

    async with opened(tmp_path) as store:
        assert store.pending_count() == 0
        assert on_disk(tmp_path)[(ALICE, "cut")] == "failed"
    async with opened(tmp_path) as store:  # read back from the table: nothing of the last run is in memory
        first, done, cut = await store.get(["first", "done", "cut"], client=ALICE)
        assert (first.status, done.status, done.result) == ("failed", "success", {"container": "b", "output": 1})
        assert (cut.status, cut.result) == ("failed", {"container": "b", "error": CRASH_REASON})
        assert await store.ids(client=ALICE) == ["first", "done", "cut"]  # oldest first
        assert await store.ids(client=ALICE, pending=True) == []
        assert await store.get(["done"], client=BOB) == []


async def test_reported_jobs_are_the_reporters_and_node_jobs_are_not_reportable(tmp_path: Path) -> None:
    async with opened(tmp_path) as store:
        await store.record("ext", client=ALICE, containers=["x"], status="running", result=None)
        assert store.pending_count() == 0  # a job a local process runs is not this node's work
        (started,) = await store.get(["ext"], client=ALICE)
        await store.record("ext", client=ALICE, containers=["x"], status="success", result={"container": "x"})
        (ext,) = await store.get(["ext"], client=ALICE)
        assert (ext.origin, ext.status, ext.created) == ("reported", "success", started.created)

        await store.create("mine", client=ALICE, containers=["x"])
        with pytest.raises(NotReportable):
            await store.record("mine", client=ALICE, containers=["x"], status="success", result=None)
        (mine,) = await store.get(["mine"], client=ALICE)
        assert mine.status == "running" and store.pending_count() == 1
        await store.record("mine", client=BOB, containers=["x"], status="failed", result=None)  # BOB's own job
        assert on_disk(tmp_path)[(BOB, "mine")] == "failed"
        store.finish("mine", client=ALICE, status="success", result=None)


async def test_a_full_disk_refuses_new_records_keeps_final_ones_and_recovers(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "data", size="1m") as data:
        async with opened(data) as store:
            await store.create("before", client=ALICE, containers=["a"])
            filler = fill(data)
            accepted: list[str] = []
            with pytest.raises(StoreUnavailable, match="database or disk is full") as refused:
                for n in range(5_000):  # the WAL's free pages take some records before SQLite needs the disk
                    await store.create(f"new-{n}", client=ALICE, containers=["a" * 1_000])
                    accepted.append(f"new-{n}")
            refused_id = f"new-{len(accepted)}"
            assert str(refused.value).startswith("job store unavailable: ")
            assert await store.get([refused_id], client=ALICE) == []  # nothing of a refused job is kept
            assert store.pending_count() == 1 + len(accepted)

            # A final status is never refused: readers see it at once, the disk still says running.
            store.finish("before", client=ALICE, status="success", result={"container": "a", "output": 1})
            for job_id in accepted:
                store.finish(job_id, client=ALICE, status="failed", result={"container": "a", "error": "x"})
            await asyncio.sleep(0)
            (before,) = await store.get(["before"], client=ALICE)
            assert before.status == "success" and store.pending_count() == 0
            assert on_disk(data)[(ALICE, "before")] == "running"
            assert await store.ids(client=ALICE, pending=True) == []
            assert await store.ids(client=ALICE, pending=False) == ["before", *accepted]

            # Space returns: the kept records are written on the retry timer, and new jobs are taken again.
            filler.unlink()
            deadline = time.monotonic() + 10
            while "running" in on_disk(data).values():
                assert time.monotonic() < deadline, "finished jobs kept in memory were not written"
                await asyncio.sleep(0.05)
            await store.create("after", client=ALICE, containers=["a"])
            assert on_disk(data)[(ALICE, "after")] == "running"
            store.finish("after", client=ALICE, status="success", result=None)
        async with opened(data) as store:
            assert [r.status for r in await store.get(["before", "after"], client=ALICE)] == ["success", "success"]


async def test_a_waiting_read_wakes_when_the_job_ends(tmp_path: Path) -> None:
    async with opened(tmp_path) as store:
        await store.create("job", client=ALICE, containers=["x"])
        waiting = asyncio.ensure_future(store.wait(["job", "unknown"], client=ALICE, seconds=30))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        started = time.monotonic()
        store.finish("job", client=ALICE, status="success", result={"container": "x", "output": 1})
        (ended,) = await waiting  # answered from memory, before the table has it
        assert ended.status == "success" and on_disk(tmp_path)[(ALICE, "job")] == "running"
        assert time.monotonic() - started < 5
        await store.create("slow", client=ALICE, containers=["x"])
        (slow,) = await store.wait(["slow"], client=ALICE, seconds=0.05)
        assert slow.status == "running"
        store.finish("slow", client=ALICE, status="failed", result=None)
