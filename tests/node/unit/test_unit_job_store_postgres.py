"""The job store over PostgreSQL in-process: two stores on one database stand for two REST replicas of a node
(what one writes the other reads; a waiting read sees the other's job end; a restart fails only its own jobs)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infernet_kit.devstack.postgres import Postgres
from infernet_kit.node.config import JobStoreConfig
from infernet_kit.node.store import CRASH_REASON, JobStore, StoreUnavailable, open_job_store
from infernet_kit.polling import wait_until_async

ALICE = "10.0.0.1"


@contextlib.asynccontextmanager
async def replica(dsn: str, name: str, tmp_path: Path) -> AsyncIterator[JobStore]:
    store = await open_job_store(tmp_path, JobStoreConfig(dsn=dsn), name)
    try:
        yield store
    finally:
        await store.close()


async def test_replicas_share_one_job_space(postgres_dsn: str, tmp_path: Path) -> None:
    async with replica(postgres_dsn, "a", tmp_path) as a, replica(postgres_dsn, "b", tmp_path) as b:
        await a.create("job", client=ALICE, containers=["x"])
        await b.record("ext", client=ALICE, containers=["x"], status="running", result=None)
        (seen,) = await b.get(["job"], client=ALICE)
        assert seen.status == "running" and a.pending_count() == 1 and b.pending_count() == 0

        started = time.monotonic()
        waiting = asyncio.ensure_future(b.wait(["job"], client=ALICE, seconds=20))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        a.finish("job", client=ALICE, status="success", result={"container": "x", "output": 1})
        (ended,) = await waiting  # read by polling the table: b does not run the job
        assert (ended.status, ended.result) == ("success", {"container": "x", "output": 1})
        assert time.monotonic() - started < 10

        (running,) = await a.wait(["ext"], client=ALICE, seconds=0.05)
        assert running.status == "running"
        await b.record("ext", client=ALICE, containers=["x"], status="success", result={"container": "x"})
        (reported,) = await a.get(["ext"], client=ALICE)  # a keeps no stale copy of a job reported elsewhere
        assert reported.status == "success"
        assert await a.ids(client=ALICE) == await b.ids(client=ALICE) == ["job", "ext"]
        assert await b.ids(client=ALICE, pending=True) == []


async def test_a_replica_restarting_fails_only_its_own_interrupted_jobs(postgres_dsn: str, tmp_path: Path) -> None:
    async with replica(postgres_dsn, "b", tmp_path) as b:
        async with replica(postgres_dsn, "a", tmp_path) as a:
            await a.create("cut", client=ALICE, containers=["x"])
            await b.create("live", client=ALICE, containers=["x"])
        async with replica(postgres_dsn, "a", tmp_path) as a:  # a restarts while b still runs its job
            cut, live = await a.get(["cut", "live"], client=ALICE)
            assert (cut.status, cut.result) == ("failed", {"container": "x", "error": CRASH_REASON})
            assert live.status == "running"
            b.finish("live", client=ALICE, status="success", result=None)
            (live,) = await a.wait(["live"], client=ALICE, seconds=20)
            assert live.status == "success"


async def test_an_unreachable_database_is_named(tmp_path: Path) -> None:
    from infernet_kit.processes import free_port

    dsn = f"postgresql://nobody:hunter2@127.0.0.1:{free_port()}/none"
    with pytest.raises(StoreUnavailable) as refused:
        await open_job_store(tmp_path, JobStoreConfig(dsn=dsn), "a")
    assert "PostgreSQL" in str(refused.value) and "hunter2" not in str(refused.value)


async def test_a_job_whose_create_is_cancelled_mid_write_is_not_left_running(postgres_dsn: str, tmp_path: Path) -> None:
    async with replica(postgres_dsn, "a", tmp_path) as a:
        creating = asyncio.ensure_future(a.create("cut", client=ALICE, containers=["x"]))
        await asyncio.sleep(0)  # `create` queues its record and starts the writer...
        await asyncio.sleep(0)  # ...which sends it to the database and waits for the answer
        creating.cancel()  # the caller goes (the node stopping) while the row is being written
        with pytest.raises(asyncio.CancelledError):
            await creating

        async def failed() -> bool:
            return [r.status for r in await a.get(["cut"], client=ALICE)] == ["failed"]

        await wait_until_async(failed, timeout=10, interval=0.01, what="the cut job's record to be failed")
        assert a.pending_count() == 0
    async with replica(postgres_dsn, "b", tmp_path) as b:
        (record,) = await b.get(["cut"], client=ALICE)
        assert (record.status, record.result) == ("failed", {"container": "x", "error": CRASH_REASON})


def server_processes(postmaster: int) -> list[int]:
    """The postmaster and its children (each backend is a session of its own, so its process group is not the
    postmaster's)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(stat.parent.name))
    return [postmaster, *children]


async def test_a_database_that_stops_answering_refuses_new_jobs_and_recovers(
    postgres: Postgres, postgres_dsn: str, tmp_path: Path
) -> None:
    config = JobStoreConfig(dsn=postgres_dsn, timeout=0.5)
    store = await open_job_store(tmp_path, config, "a")
    try:
        await store.create("before", client=ALICE, containers=["x"])
        assert postgres.process is not None and postgres.process.pid is not None
        server = server_processes(postgres.process.pid)
        for pid in server:  # the server hangs: no error, no answer
            os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(StoreUnavailable, match=r"no answer from PostgreSQL within 0\.5s"):
                await store.create("during", client=ALICE, containers=["x"])
            store.finish("before", client=ALICE, status="success", result=None)

            async def ended() -> bool:  # the final record is refused too, and kept in memory for readers
                return [r.status for r in await store.get(["before"], client=ALICE)] == ["success"]

            await wait_until_async(ended, timeout=10, interval=0.05, what="the final record kept in memory")
        finally:
            for pid in server:
                os.kill(pid, signal.SIGCONT)
        await store.create("after", client=ALICE, containers=["x"])  # on a new connection
        async with replica(postgres_dsn, "b", tmp_path) as b:

            async def written() -> bool:  # the kept record reaches the table on the retry timer
                return [r.status for r in await b.get(["before", "during"], client=ALICE)] == ["success"]

            await wait_until_async(written, timeout=10, interval=0.05, what="the kept record in the table")
        store.finish("after", client=ALICE, status="success", result=None)
    finally:
        await store.close()
