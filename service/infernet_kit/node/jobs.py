"""The job runner: an off-chain job from its admission to its final record, run in the background or streamed.

It knows the guardian, the orchestrator and the job store, and nothing of HTTP: the API parses requests, calls
`submit` or `stream`, and turns `Refused` and `StoreUnavailable` into answers; a streamed job relays its bytes
through the `StreamSink` the API gives it. Every job the runner accepts ends with a final record: success, a
container's failure, a bug in the node, a streaming client that went away, or the node stopping (`drain`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

from infernet_kit.node.events import EventFeed, clipped
from infernet_kit.node.guardian import Guardian, Rejection
from infernet_kit.node.metrics import count_job
from infernet_kit.node.orchestrator import ContainerCall, ContainerFailure, ContainerOutput, Orchestrator
from infernet_kit.node.store import CRASH_REASON, JobStatus, JobStore
from infernet_kit.protocol import JobLocation

log = logging.getLogger(__name__)

CLIENT_GONE = "client disconnected"

Outcome = tuple[JobStatus, dict[str, Any], list[ContainerOutput]]
Finish = Callable[[JobStatus, dict[str, Any], list[ContainerOutput]], None]


class Refused(Exception):
    """A request the node will not serve; the API answers with `rejection`."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.error)
        self.rejection = rejection


def _failed(container: str, error: str, intermediate: list[ContainerOutput]) -> Outcome:
    return "failed", {"container": container, "error": error}, intermediate


class JobRunner:
    """Admits off-chain jobs, runs them, and records how each one ended."""

    def __init__(
        self, store: JobStore, orchestrator: Orchestrator, guardian: Guardian, events: EventFeed | None = None
    ) -> None:
        self._store = store
        self._orchestrator = orchestrator
        self._guardian = guardian
        self._events = events if events is not None else EventFeed()
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, containers: list[str], data: dict[str, Any], *, requires_proof: bool, client: str) -> str:
        """Admit a job of `client` and run it in the background; its id once its `running` record is committed.

        The first container call starts while the record is being written, so the commit is not on the result's
        path; the job's outcome is recorded only once that commit succeeded. Raises `Refused` (the guardian's
        rejection) or `StoreUnavailable` (nothing was kept, and the job's run is cancelled)."""
        job_id = self._admit(containers, client, requires_proof)
        created = asyncio.get_running_loop().create_future()  # done once the record is committed
        task = asyncio.ensure_future(self._run(job_id, client, containers, data, requires_proof, created))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            await self._store.create(job_id, client=client, containers=containers)
        except BaseException:
            created.cancel()
            task.cancel()
            raise
        created.set_result(None)
        self._accepted(job_id, containers, client, data)  # before the run can resume: its final event comes after
        # DEBUG: at INFO a job is one line, its outcome's (which names the client too).
        log.debug("job %s accepted: containers=%s client=%s", job_id, ",".join(containers), client)
        return job_id

    async def stream(
        self, containers: list[str], data: dict[str, Any], *, requires_proof: bool, client: str
    ) -> StreamedJob:
        """Admit a job whose last container's bytes go to the caller: nothing runs until `StreamedJob.run`."""
        job_id = self._admit(containers, client, requires_proof)
        await self._store.create(job_id, client=client, containers=containers)
        self._accepted(job_id, containers, client, data)
        log.info("job %s accepted (stream): containers=%s client=%s", job_id, ",".join(containers), client)

        def finish(status: JobStatus, result: dict[str, Any], intermediate: list[ContainerOutput]) -> None:
            self._finish(job_id, client, status, result, intermediate)

        chunks = self._orchestrator.stream(containers, data, requires_proof=requires_proof, tag=f"job={job_id}")
        return StreamedJob(job_id, client, containers[-1], chunks, finish)

    async def drain(self, grace: float) -> None:
        """Let running jobs finish for up to `grace` seconds, then cancel the rest (they end `failed`).

        Streamed jobs end with their responses, which the server lets finish before this is called."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    def _admit(self, containers: list[str], client: str, requires_proof: bool) -> str:
        """A new job's id, if the guardian lets it in."""
        if rejection := self._guardian.check_offchain(containers, client_ip=client, requires_proof=requires_proof):
            raise Refused(rejection)
        return str(uuid.uuid4())

    def _accepted(self, job_id: str, containers: list[str], client: str, data: dict[str, Any]) -> None:
        """The job's `running` record is committed: count and announce it (the event's data is made when read:
        most events are never read, and clipping an input costs a JSON encoding)."""
        count_job("accepted")
        self._events.publish_rendered(
            "job",
            lambda: {
                "id": job_id,
                "status": "running",
                "containers": containers,
                "client": client,
                "input": clipped(data),
            },
        )

    def _finish(
        self,
        job_id: str,
        client: str,
        status: JobStatus,
        result: dict[str, Any],
        intermediate: list[ContainerOutput],
        calls: Sequence[ContainerCall] = (),
    ) -> None:
        self._store.finish(
            job_id, client=client, status=status, result=result, intermediate=[o.model_dump() for o in intermediate]
        )
        after_answers(self._announce, job_id, client, status, result, calls)

    def _announce(
        self, job_id: str, client: str, status: JobStatus, result: dict[str, Any], calls: Sequence[ContainerCall]
    ) -> None:
        count_job(status)
        self._events.publish_rendered(
            "job",
            lambda: {
                "id": job_id,
                "status": status,
                "client": client,
                "result": clipped(result),
                "calls": [c.event() for c in calls],
            },
        )

    async def _run(
        self,
        job_id: str,
        client: str,
        containers: list[str],
        data: dict[str, Any],
        requires_proof: bool,
        created: asyncio.Future[None],
    ) -> None:
        started = time.perf_counter()
        calls: list[ContainerCall] = []
        try:
            outputs = await self._orchestrator.run(
                containers,
                data,
                source=JobLocation.OFFCHAIN,
                destination=JobLocation.OFFCHAIN,
                requires_proof=requires_proof,
                tag=f"job={job_id}",
                on_call=calls.append,
            )
        except ContainerFailure as failure:
            if await _recorded(created):
                log.info(
                    "job %s failed: container=%s reason=%s client=%s ms=%.1f",
                    job_id,
                    failure.container,
                    failure.description,
                    client,
                    (time.perf_counter() - started) * 1000,
                )
                outcome = _failed(failure.container, failure.description, failure.completed)
                self._finish(job_id, client, *outcome, calls)
            return
        except asyncio.CancelledError:
            if await _recorded(created):  # else its record was refused (503) or its request is gone
                log.info("job %s failed: %s", job_id, CRASH_REASON)
                self._finish(job_id, client, *_failed(containers[-1], CRASH_REASON, []), calls)
            raise
        except Exception as exc:
            if await _recorded(created):
                log.exception("job %s failed: internal error", job_id)
                self._finish(job_id, client, *_failed(containers[-1], f"node error: {exc}", []), calls)
            return
        elapsed = (time.perf_counter() - started) * 1000
        if await _recorded(created):
            self._finish(job_id, client, "success", outputs[-1].model_dump(), outputs[:-1], calls)
            line = "job %s success: container=%s client=%s ms=%.1f"
            after_answers(log.info, line, job_id, outputs[-1].container, client, elapsed)


def after_answers(callback: Callable[..., object], *args: Any) -> None:
    """Run `callback(*args)` once the readers a final record woke have sent their answers: two event-loop turns
    on (a woken reader runs at the next turn, and the server writes its answer at the turn after), so counting,
    events and log lines are not on a result's path."""
    loop = asyncio.get_running_loop()
    loop.call_soon(loop.call_soon, callback, *args)


async def _recorded(created: asyncio.Future[None]) -> bool:
    """Whether the job's `running` record was committed, once its write is over (cancelled: the record was refused
    or the request went away while it was written, and the job has nothing to record)."""
    if not created.done():
        await asyncio.wait((created,))
    return not created.cancelled()


class StreamSink(Protocol):
    """Where a streamed job's bytes go (the API's response), and how the job learns its reader has gone."""

    async def open(self, job_id: str) -> None:
        """The first bytes are coming: the stream starts with the job's id."""
        ...

    async def send(self, chunk: bytes) -> None: ...

    async def close(self) -> None:
        """The stream is complete (after a failure mid-stream too: the bytes sent so far are the answer)."""
        ...

    async def refuse(self, job_id: str, failure: ContainerFailure | None) -> None:
        """The job failed before any byte: a container's `failure`, or None for the node's own error."""
        ...

    async def gone(self) -> None:
        """Return when the reader has gone."""
        ...


class StreamedJob:
    """A streamed job, which owns its record from its first container call to its final status.

    It streams in one task and waits for the reader to go in another, so a reader that goes away at any point
    (before the first chunk, after the id line, mid-stream) ends the job `failed` with "client disconnected" at
    once, and a stream stopped from outside ends it `failed` too. Nothing here depends on when an abandoned
    generator is collected.
    """

    def __init__(
        self,
        job_id: str,
        client: str,
        container: str,
        chunks: AsyncIterator[bytes | list[ContainerOutput]],
        finish: Finish,
    ) -> None:
        self.job_id = job_id
        self.client = client
        self.container = container  # the last one: its bytes are streamed
        self._chunks = chunks
        self._finish = finish
        self._intermediate: list[ContainerOutput] = []

    async def run(self, sink: StreamSink) -> None:
        """Relay the job's bytes to `sink` until they end, the job fails or the reader goes; record the outcome."""
        streaming = asyncio.ensure_future(self._relay(sink))
        gone = asyncio.ensure_future(sink.gone())
        outcome: Outcome | None = None
        try:
            await asyncio.wait({streaming, gone}, return_when=asyncio.FIRST_COMPLETED)
            if streaming.done():
                outcome = streaming.result()
            else:
                log.info("job %s failed (stream): %s (client %s)", self.job_id, CLIENT_GONE, self.client)
                outcome = _failed(self.container, CLIENT_GONE, self._intermediate)
        finally:
            streaming.cancel()
            gone.cancel()
            await asyncio.wait({streaming, gone})
            close = getattr(self._chunks, "aclose", None)  # releases the container's response
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
            if outcome is None:
                log.info("job %s failed (stream): %s", self.job_id, CRASH_REASON)
                outcome = _failed(self.container, CRASH_REASON, self._intermediate)
            self._finish(*outcome)

    async def _relay(self, sink: StreamSink) -> Outcome:
        started = False
        received: list[bytes] = []
        try:
            first = await anext(self._chunks)
            self._intermediate = first if isinstance(first, list) else []
            await sink.open(self.job_id)
            started = True
            async for chunk in self._chunks:
                if isinstance(chunk, bytes):
                    received.append(chunk)
                    await sink.send(chunk)
            await sink.close()
        except ContainerFailure as failure:
            if started:
                log.info("job %s failed mid-stream: container=%s reason=%s", self.job_id, self.container, failure)
                await sink.close()
                return _failed(self.container, failure.description, self._intermediate)
            log.info("job %s failed: container=%s reason=%s", self.job_id, failure.container, failure.description)
            await sink.refuse(self.job_id, failure)
            return _failed(failure.container, failure.description, failure.completed)
        except Exception as exc:  # a bug, not the client's or a container's doing
            log.exception("job %s failed (stream): internal error", self.job_id)
            if not started:
                await sink.refuse(self.job_id, None)
            return _failed(self.container, f"node error: {exc}", self._intermediate)
        output = b"".join(received)
        log.info("job %s success (stream): container=%s bytes=%d", self.job_id, self.container, len(output))
        # Stored as the reference node stores a stream's result: `{"output": text}`, not the bare text.
        result = {"container": self.container, "output": {"output": output.decode("utf-8", "replace")}}
        return "success", result, self._intermediate
