"""A streamed off-chain job (`POST /api/jobs/stream`) as one ASGI response that always records how it ended.

The response owns the job from its first container call to its final record: it streams in one task and
waits for the client's disconnect in another, so a client that goes away at any point (before the first
chunk, after the id line, mid-stream) ends the job `failed` with "client disconnected" at once, and a stream
stopped from outside ends it `failed` too. Nothing here depends on when an abandoned generator is collected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from infernet_kit.node.orchestrator import ContainerFailure, ContainerOutput
from infernet_kit.node.store import CRASH_REASON, JobStatus

log = logging.getLogger(__name__)

STREAM_ID_GAP = 0.02  # seconds between a stream's id line and its first bytes
CLIENT_GONE = "client disconnected"

Outcome = tuple[JobStatus, dict[str, Any], list[ContainerOutput]]
Finish = Callable[[JobStatus, dict[str, Any], list[ContainerOutput]], None]


async def _disconnected(receive: Receive) -> None:
    """Return when the client has gone (the request body was read before the stream began)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class JobStream(Response):
    """The response to a stream request: `"<id>\\n"` then the last container's bytes, or a JSON error."""

    def __init__(
        self,
        job_id: str,
        client: str,
        container: str,
        chunks: AsyncIterator[bytes | list[ContainerOutput]],
        finish: Finish,
    ) -> None:
        # Not Response.__init__: this response builds its own messages, like starlette's StreamingResponse.
        self.job_id = job_id
        self.client = client
        self.container = container
        self.chunks = chunks
        self.finish = finish
        self.intermediate: list[ContainerOutput] = []

    def _failed(self, container: str, error: str, intermediate: list[ContainerOutput]) -> Outcome:
        return "failed", {"container": container, "error": error}, intermediate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = asyncio.ensure_future(self._stream(scope, receive, send))
        gone = asyncio.ensure_future(_disconnected(receive))
        outcome: Outcome | None = None
        try:
            await asyncio.wait({streaming, gone}, return_when=asyncio.FIRST_COMPLETED)
            if streaming.done():
                outcome = streaming.result()
            else:
                log.info("job %s failed (stream): %s (client %s)", self.job_id, CLIENT_GONE, self.client)
                outcome = self._failed(self.container, CLIENT_GONE, self.intermediate)
        finally:
            streaming.cancel()
            gone.cancel()
            await asyncio.wait({streaming, gone})
            close = getattr(self.chunks, "aclose", None)  # releases the container's response
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
            if outcome is None:
                log.info("job %s failed (stream): %s", self.job_id, CRASH_REASON)
                outcome = self._failed(self.container, CRASH_REASON, self.intermediate)
            self.finish(*outcome)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> Outcome:
        started = False
        received: list[bytes] = []
        try:
            first = await anext(self.chunks)
            self.intermediate = first if isinstance(first, list) else []
            headers = [(b"content-type", b"application/octet-stream")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            started = True
            await send({"type": "http.response.body", "body": f"{self.job_id}\n".encode(), "more_body": True})
            # infernet-client takes its first read of the body as the id line: give that line a moment on the
            # wire before the first streamed bytes, or both may arrive in one read (a model's first token is slower).
            await asyncio.sleep(STREAM_ID_GAP)
            async for chunk in self.chunks:
                if isinstance(chunk, bytes):
                    received.append(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except ContainerFailure as failure:
            if started:
                log.info("job %s failed mid-stream: container=%s reason=%s", self.job_id, self.container, failure)
                await send({"type": "http.response.body", "body": b""})
                return self._failed(self.container, failure.description, self.intermediate)
            log.info("job %s failed: container=%s reason=%s", self.job_id, failure.container, failure.description)
            status = failure.status if failure.status is not None and 400 <= failure.status < 500 else 502
            body = {"error": failure.description, "params": {"id": self.job_id, "container": failure.container}}
            await JSONResponse(body, status_code=status)(scope, receive, send)
            return self._failed(failure.container, failure.description, failure.completed)
        except Exception as exc:  # a bug, not the client's or a container's doing
            log.exception("job %s failed (stream): internal error", self.job_id)
            if not started:
                await JSONResponse({"error": "Internal node error", "params": {"id": self.job_id}}, 500)(
                    scope, receive, send
                )
            return self._failed(self.container, f"node error: {exc}", self.intermediate)
        output = b"".join(received)
        log.info("job %s success (stream): container=%s bytes=%d", self.job_id, self.container, len(output))
        return "success", {"container": self.container, "output": output.decode("utf-8", "replace")}, self.intermediate
