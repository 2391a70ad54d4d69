"""The HTTP layer under `huggingface_hub`'s async inference client: aiohttp instead of httpx's own.

httpx's connection pool scans (and polls) every idle connection on each request, which with dozens of
requests in flight cost ~2 ms of CPU per request here, and building httpx's request and response objects
costs a few hundred microseconds more. So the client gets an `httpx2.AsyncClient` whose requests go through
this aiohttp-backed transport (a public httpx extension point), and whose JSON POSTs (every non-streaming
inference call) skip httpx's pipeline altogether (`infernet_kit.compat.hf_transport`): to an `http://` backend
through the kit's lean client (`infernet_kit.http_client`, a fifth of a worker's CPU less than aiohttp's), to an
`https://` one through this transport's aiohttp session. The inference client keeps its API, payloads and error
handling: this only moves bytes, and maps the failures onto the httpx exception types the client and the retry
policy know.

Both clients count against one bound per worker (`SERVICE_MAX_CONNECTIONS`, the services' settings): the lean
pool's, which each request through this transport takes a place in until its response is released (a stream:
until it ends), as the node's orchestrator does with its two clients.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

import aiohttp
import httpx2

from infernet_kit.protocol.container import REQUEST_TAG_HEADER

# The node's tag of the request being served (`REQUEST_TAG_HEADER`): set per request by the service app, sent on
# with every backend call made while serving it, so the backend's log names the job or interval too.
request_tag: ContextVar[str | None] = ContextVar("request_tag", default=None)

# Headers aiohttp computes itself from the URL and body; sending httpx's copies would duplicate them.
_SKIP_HEADERS = frozenset({b"host", b"content-length", b"transfer-encoding"})


class _ResponseStream(httpx2.AsyncByteStream):
    """The body of an aiohttp response, read lazily; closing it returns the connection to the pool and the call's
    place in the bound."""

    def __init__(self, response: aiohttp.ClientResponse, transport: AiohttpTransport) -> None:
        self._response = response
        self._transport: AiohttpTransport | None = transport

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx2.ReadTimeout(f"timed out reading the response: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise httpx2.ReadError(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._transport is not None:
            self._transport.release(self._response)
            self._transport = None


def aiohttp_timeout(limits: dict[str, Any]) -> aiohttp.ClientTimeout:
    """httpx's per-phase timeouts as aiohttp's."""
    connect = limits.get("connect")
    return aiohttp.ClientTimeout(total=None, sock_connect=connect, connect=connect, sock_read=limits.get("read"))


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """Sends httpx2 requests through one aiohttp session (one keep-alive pool per event loop), each holding a
    place in `bound` (the worker's one bound on backend calls in flight) until its response is released."""

    def __init__(self, bound: asyncio.Semaphore, *, keepalive_seconds: float = 30.0) -> None:
        self._bound = bound
        self._keepalive_seconds = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # No limit of its own: every request takes a place in `bound`.
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=self._keepalive_seconds, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def send(
        self, method: str, url: str, headers: Any, body: bytes | None, limits: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        """Send one request, holding a place in the bound until `release(response)`; aiohttp failures come out as
        httpx2 exceptions (and give the place back)."""
        if (tag := request_tag.get()) is not None:
            headers = [*(headers.items() if isinstance(headers, dict) else headers), (REQUEST_TAG_HEADER, tag)]
        try:
            async with asyncio.timeout(limits.connect):  # as aiohttp's own limit, the wait counts as connecting
                await self._bound.acquire()
        except TimeoutError as exc:
            raise httpx2.ReadTimeout(f"timed out waiting for {url}") from exc
        try:
            return await self._request(method, url, headers, body, limits)
        except BaseException:
            self._bound.release()
            raise

    def release(self, response: aiohttp.ClientResponse) -> None:
        """Give back `response`'s connection and its call's place in the bound (once per `send`)."""
        response.release()
        self._bound.release()

    async def _request(
        self, method: str, url: str, headers: Any, body: bytes | None, limits: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        try:
            return await self._get_session().request(
                method, url, headers=headers, data=body, timeout=limits, allow_redirects=False
            )
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx2.ReadTimeout(f"timed out waiting for {url}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx2.ConnectError(f"cannot connect to {exc.host}:{exc.port}: {exc.os_error}") from exc
        except aiohttp.ClientError as exc:
            raise httpx2.RemoteProtocolError(f"{type(exc).__name__}: {exc}") from exc

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        raw = request.headers.raw
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw if k.lower() not in _SKIP_HEADERS]
        body = await request.aread()
        timeout = aiohttp_timeout(request.extensions.get("timeout") or {})
        response = await self.send(request.method, str(request.url), headers, body or None, timeout)
        return httpx2.Response(
            status_code=response.status,
            headers=[(k, v) for k, v in response.raw_headers],
            stream=_ResponseStream(response, self),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
            request=request,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
