"""The ASGI app shared by both services: routing, body limits, request parsing and the error model.

A raw ASGI app rather than a framework: the container protocol has three routes, and each request's
overhead goes straight into the node's job latency (PROTOCOL.md section 5).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, Protocol
from urllib.parse import parse_qs

from pydantic import ValidationError
from pydantic_core import to_json

from infernet_kit.jsonbody import BodyError, declared_length, parse_json, read_body
from infernet_kit.metrics import CONTENT_TYPE, exposition
from infernet_kit.protocol import JobLocation, ServiceRequest, ServiceResources
from infernet_kit.protocol.container import (
    REQUEST_TAG_HEADER,
    SERVER_TIMING_HEADER,
    BackendCall,
    backend_server_timing,
)
from infernet_kit.services import openapi
from infernet_kit.services.calls import backend_calls
from infernet_kit.services.errors import ServiceFailure, bad_request, describe_validation
from infernet_kit.services.metrics import REQUEST_SECONDS, REQUESTS
from infernet_kit.services.transport import request_tag

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("infernet_kit.services")

_JSON_HEADERS = [(b"content-type", b"application/json")]
_TAG_HEADER = REQUEST_TAG_HEADER.encode()
_STREAM_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-cache")]


class InferenceService(Protocol):
    """What a service plugs into the app: its description and how it answers requests."""

    service_id: str
    max_body_bytes: int

    @property
    def proofs_message(self) -> str | None:
        """Why `requires_proof` is refused (400); None when the service answers it with a proof."""

    def resources(self) -> ServiceResources: ...

    async def supports_model(self, model_id: str) -> bool: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def answer(self, request: ServiceRequest) -> Any:
        """The JSON answer for an off-chain or on-chain destination."""

    async def open_stream(self, request: ServiceRequest) -> AsyncIterator[bytes]:
        """The byte stream for a stream destination; failures before the first chunk raise here."""


async def _send_json(send: Send, status: int, payload: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = to_json(payload)
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_metrics(send: Send) -> None:
    body = exposition()
    headers = [(b"content-type", CONTENT_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_failure(send: Send, failure: ServiceFailure) -> None:
    await _send_json(send, failure.status, failure.body().model_dump())


async def _read_request(scope: Scope, receive: Receive, limit: int) -> ServiceRequest:
    """The `POST /service_output` body as a `ServiceRequest`; 4xx naming what is wrong otherwise."""
    try:
        payload = parse_json(await read_body(receive, limit, declared_length(scope["headers"])))
    except BodyError as refused:
        raise ServiceFailure(refused.status, refused.name, refused.detail) from None
    if not isinstance(payload, dict):
        raise bad_request("request body must be a JSON object", "InvalidRequest")
    try:
        request = ServiceRequest.model_validate(payload)
    except ValidationError as exc:
        raise bad_request(f"invalid request: {describe_validation(exc)}") from exc
    if request.source == JobLocation.STREAM:
        raise bad_request("source must be 0 (on-chain) or 1 (off-chain); 2 (stream) is a destination only")
    return request


class ServiceApp:
    """ASGI app around one `InferenceService`: `GET /`, `GET /service-resources`, `POST /service_output`."""

    def __init__(self, service: InferenceService) -> None:
        self.service = service
        self._pid = os.getpid()
        self._openapi: dict[str, Any] | None = None  # built when first asked for (~15 ms of CPU per worker)
        worker = str(self._pid)
        self._seconds = REQUEST_SECONDS.labels(service.service_id, worker)
        self._outcomes = {o: REQUESTS.labels(service.service_id, worker, o) for o in ("answered", "refused", "failed")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.service.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.service.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        try:
            if path == "/service_output":
                if method != "POST":
                    raise ServiceFailure(405, "MethodNotAllowed", f"{method} /service_output: use POST")
                await self._logged_service_output(scope, receive, send)
            elif path == "/":
                if method not in ("GET", "HEAD"):
                    raise ServiceFailure(405, "MethodNotAllowed", f"{method} /: use GET")
                ready = {"status": "ready", "service_id": self.service.service_id, "worker": self._pid}
                await _send_json(send, 200, ready)
            elif path == "/service-resources":
                if method != "GET":
                    raise ServiceFailure(405, "MethodNotAllowed", f"{method} /service-resources: use GET")
                await self._resources(scope, send)
            elif path == "/metrics":
                if method != "GET":
                    raise ServiceFailure(405, "MethodNotAllowed", f"{method} /metrics: use GET")
                await _send_metrics(send)
            elif path == "/openapi.json":
                if method != "GET":
                    raise ServiceFailure(405, "MethodNotAllowed", f"{method} /openapi.json: use GET")
                if self._openapi is None:
                    self._openapi = openapi.document(self.service.service_id)
                await _send_json(send, 200, self._openapi)
            else:
                raise ServiceFailure(404, "NotFound", f"no route {method} {path}")
        except ServiceFailure as failure:
            if failure.status >= 500:
                log.warning("request failed status=%d name=%s: %s", failure.status, failure.name, failure.description)
            await _send_failure(send, failure)
        except Exception as exc:
            log.exception("unexpected error on %s %s", method, path)
            await _send_failure(send, ServiceFailure(500, "InternalError", f"{type(exc).__name__}: {exc}"))

    async def _resources(self, scope: Scope, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "model_id" in query:
            model_id = query["model_id"][0]
            await _send_json(send, 200, {"supported": await self.service.supports_model(model_id)})
        else:
            await _send_json(send, 200, self.service.resources().model_dump())

    async def _logged_service_output(self, scope: Scope, receive: Receive, send: Send) -> None:
        """`_service_output` with one log line per request naming the node's tag (job or interval) and the time."""
        tag = next((value.decode("latin-1") for name, value in scope["headers"] if name == _TAG_HEADER), None)
        token = request_tag.set(tag)
        started = time.perf_counter()
        outcome, detail = "failed", "internal error"
        try:
            await self._service_output(scope, receive, send)
            outcome, detail = "answered", ""
        except ServiceFailure as failure:
            outcome = "refused" if failure.status < 500 else "failed"
            detail = f"{failure.status} {failure.name}"
            raise
        finally:
            request_tag.reset(token)
            seconds = time.perf_counter() - started
            self._seconds.observe(seconds)
            self._outcomes[outcome].inc()
            log.info(
                "request %s %s%s ms=%.1f", tag or "untagged", outcome, f" {detail}" if detail else "", seconds * 1000
            )

    async def _service_output(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = await _read_request(scope, receive, self.service.max_body_bytes)
        if request.requires_proof and self.service.proofs_message is not None:
            raise bad_request(self.service.proofs_message, "ProofsNotSupported")
        if request.destination == JobLocation.STREAM:
            await self._stream(await self.service.open_stream(request), send)
            return
        calls: list[BackendCall] = []
        token = backend_calls.set(calls)
        try:
            answer = await self.service.answer(request)
        finally:
            backend_calls.reset(token)
        timing = [(SERVER_TIMING_HEADER.encode(), backend_server_timing(calls).encode())] if calls else None
        await _send_json(send, 200, answer, timing)

    async def _stream(self, chunks: AsyncIterator[bytes], send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _STREAM_HEADERS})
        try:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except Exception as exc:
            # Headers are out: the only honest signal left is an unfinished response (the server closes it).
            log.warning("stream cut short: %s: %s", type(exc).__name__, exc)
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
