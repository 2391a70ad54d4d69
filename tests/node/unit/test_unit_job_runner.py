"""The job runner in-process, with no HTTP request in sight: the real job store in a temporary directory, the
real orchestrator, and the echo container served by uvicorn inside this process. A streamed job's reader is a
`StreamSink` that collects what it is sent, which is all the runner asks of the API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn

from infernet_kit.node.config import ContainerConfig
from infernet_kit.node.guardian import NOT_SUPPORTED, Guardian
from infernet_kit.node.jobs import CLIENT_GONE, JobRunner, Refused
from infernet_kit.node.orchestrator import ContainerFailure, Orchestrator
from infernet_kit.node.store import CRASH_REASON, JobRecord, JobStore, open_job_store
from infernet_kit.testing.echo_container import create_app

CLIENT = "10.0.0.7"


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the test process keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest.fixture(scope="module")
async def echo_url() -> AsyncIterator[str]:
    # Listening before uvicorn serves: a connection made meanwhile waits in the backlog, so no readiness poll.
    sock = socket.create_server(("127.0.0.1", 0))
    # A job cut off by `drain` leaves the echo container sleeping: stopping lets that answer finish.
    config = uvicorn.Config(
        create_app(), log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=5
    )
    server = _Server(config)
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await serving
    sock.close()


@dataclass
class Runner:
    jobs: JobRunner
    store: JobStore

    async def record(self, job_id: str) -> JobRecord:
        (record,) = await self.store.get([job_id], client=CLIENT)
        return record


@pytest.fixture
async def runner(echo_url: str, tmp_path: Path) -> AsyncIterator[Runner]:
    containers = {name: ContainerConfig(id=name, url=echo_url) for name in ("echo", "second")}
    store = await open_job_store(tmp_path)
    orchestrator = Orchestrator(containers)
    jobs = JobRunner(store, orchestrator, Guardian(containers, chain_enabled=False))
    yield Runner(jobs, store)
    await jobs.drain(5)
    assert store.pending_count() == 0
    await orchestrator.aclose()
    await store.close()


@dataclass
class Reader:
    """A stream's reader: keeps what it is sent; `leave` makes it go away after its first chunk."""

    leave: bool = False
    job_id: str | None = None
    chunks: list[bytes] = field(default_factory=list)
    closed: bool = False
    refused: list[ContainerFailure | None] = field(default_factory=list)
    _gone: asyncio.Event = field(default_factory=asyncio.Event)

    async def open(self, job_id: str) -> None:
        self.job_id = job_id

    async def send(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        if self.leave:
            self._gone.set()
            await asyncio.Event().wait()  # a reader that has gone takes no more bytes

    async def close(self) -> None:
        self.closed = True

    async def refuse(self, job_id: str, failure: ContainerFailure | None) -> None:
        self.job_id = job_id
        self.refused.append(failure)

    async def gone(self) -> None:
        await self._gone.wait()


async def test_jobs_end_with_their_outcome(runner: Runner) -> None:
    ok = await runner.jobs.submit(["echo", "second"], {"n": 1}, requires_proof=False, client=CLIENT)
    failing = await runner.jobs.submit(
        ["echo", "second"], {"fail": 502, "description": "boom"}, requires_proof=False, client=CLIENT
    )
    assert runner.store.pending_count() == 2
    await runner.jobs.drain(10)

    done = await runner.record(ok)
    assert done.status == "success" and done.result is not None
    assert done.result["container"] == "second"
    assert done.result["output"]["output"]["received"]["data"]["output"]["received"]["data"] == {"n": 1}
    assert [output["container"] for output in done.intermediate] == ["echo"]
    failed = await runner.record(failing)
    assert (failed.status, failed.result, failed.intermediate) == ("failed", {"container": "echo", "error": "boom"}, [])
    assert runner.store.pending_count() == 0


async def test_a_refused_job_leaves_nothing(runner: Runner) -> None:
    with pytest.raises(Refused) as refused:
        await runner.jobs.submit(["echo", "nope"], {}, requires_proof=False, client=CLIENT)
    assert (refused.value.rejection.status, refused.value.rejection.error) == (404, NOT_SUPPORTED)
    assert await runner.store.ids(client=CLIENT) == [] and runner.store.pending_count() == 0


async def test_draining_fails_the_jobs_that_outlive_the_grace(runner: Runner) -> None:
    slow = await runner.jobs.submit(["echo"], {"sleep": 1}, requires_proof=False, client=CLIENT)
    quick = await runner.jobs.submit(["echo"], {"n": 2}, requires_proof=False, client=CLIENT)
    await runner.jobs.drain(0.3)
    assert (await runner.record(quick)).status == "success"
    cut = await runner.record(slow)
    assert (cut.status, cut.result) == ("failed", {"container": "echo", "error": CRASH_REASON})
    assert runner.store.pending_count() == 0


async def test_a_stream_reaches_its_reader_and_records_how_it_ended(runner: Runner) -> None:
    whole = Reader()
    job = await runner.jobs.stream(["echo"], {"n": 3}, requires_proof=False, client=CLIENT)
    await job.run(whole)
    text = b"".join(whole.chunks).decode()
    assert whole.job_id == job.job_id and whole.closed
    assert json.loads(text)["output"]["received"]["data"] == {"n": 3}
    assert (await runner.record(job.job_id)).result == {"container": "echo", "output": {"output": text}}

    leaving = Reader(leave=True)
    job = await runner.jobs.stream(["echo"], {"n": 4}, requires_proof=False, client=CLIENT)
    await job.run(leaving)
    assert len(leaving.chunks) == 1 and not leaving.closed
    gone = await runner.record(job.job_id)
    assert (gone.status, gone.result) == ("failed", {"container": "echo", "error": CLIENT_GONE})

    refused = Reader()
    job = await runner.jobs.stream(["echo", "second"], {"fail": 429}, requires_proof=False, client=CLIENT)
    await job.run(refused)
    (failure,) = refused.refused
    assert failure is not None and (failure.container, failure.status) == ("echo", 429)
    assert refused.chunks == [] and refused.job_id == job.job_id
    assert (await runner.record(job.job_id)).status == "failed"
    assert runner.store.pending_count() == 0
