"""The HTTP side of a streamed job (`POST /api/jobs/stream`): one ASGI response that hands its job
(`node.jobs.StreamedJob`) a sink writing the answer: `"<id>\\n"` then the last container's bytes, or a JSON
error when the job fails before its first byte. The job itself records how it ended."""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from infernet_kit.node.jobs import StreamedJob
from infernet_kit.node.orchestrator import ContainerFailure

STREAM_ID_GAP = 0.02  # seconds between a stream's id line and its first bytes


class JobStream(Response):
    """The response to a stream request."""

    def __init__(self, job: StreamedJob) -> None:
        # Not Response.__init__: this response builds its own messages, like starlette's StreamingResponse.
        self.job = job

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.job.run(_Sink(scope, receive, send))


class _Sink:
    """`node.jobs.StreamSink` over one ASGI exchange (the request body was read before the stream began)."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send

    async def open(self, job_id: str) -> None:
        headers = [(b"content-type", b"application/octet-stream")]
        await self._send({"type": "http.response.start", "status": 200, "headers": headers})
        await self._send({"type": "http.response.body", "body": f"{job_id}\n".encode(), "more_body": True})
        # infernet-client takes its first read of the body as the id line: give that line a moment on the
        # wire before the first streamed bytes, or both may arrive in one read (a model's first token is slower).
        await asyncio.sleep(STREAM_ID_GAP)

    async def send(self, chunk: bytes) -> None:
        await self._send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def close(self) -> None:
        await self._send({"type": "http.response.body", "body": b""})

    async def refuse(self, job_id: str, failure: ContainerFailure | None) -> None:
        """A container's 4xx is passed on, any other failure is 502; the node's own error is 500."""
        params = {"id": job_id}
        if failure is None:
            response = JSONResponse({"error": "Internal node error", "params": params}, 500)
        else:
            status = failure.status if failure.status is not None and 400 <= failure.status < 500 else 502
            params["container"] = failure.container
            response = JSONResponse({"error": failure.description, "params": params}, status_code=status)
        await response(self._scope, self._receive, self._send)

    async def gone(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
