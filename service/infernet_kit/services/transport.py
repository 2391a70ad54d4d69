"""The HTTP layer under `huggingface_hub`'s async inference client: aiohttp instead of httpx's own.

httpx's connection pool scans (and polls) every idle connection on each request, which with dozens of
requests in flight cost ~2 ms of CPU per request here, and building httpx's request and response objects
costs a few hundred microseconds more. So the client gets an `httpx2.AsyncClient` whose JSON POSTs (every
non-streaming inference call) go straight to aiohttp, and whose other requests (streams) go through an
aiohttp-backed transport. The inference client keeps its API, payloads and error handling: this only moves
bytes, and maps aiohttp's failures onto the httpx exception types the client and the retry policy know.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx2

# Headers aiohttp computes itself from the URL and body; sending httpx's copies would duplicate them.
_SKIP_HEADERS = frozenset({b"host", b"content-length", b"transfer-encoding"})


class _ResponseStream(httpx2.AsyncByteStream):
    """The body of an aiohttp response, read lazily; closing it returns the connection to the pool."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx2.ReadTimeout(f"timed out reading the response: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise httpx2.ReadError(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        self._response.release()


def _timeout(limits: dict[str, Any]) -> aiohttp.ClientTimeout:
    """httpx's per-phase timeouts as aiohttp's."""
    connect = limits.get("connect")
    return aiohttp.ClientTimeout(total=None, sock_connect=connect, connect=connect, sock_read=limits.get("read"))


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """Sends httpx2 requests through one aiohttp session (one keep-alive pool per event loop)."""

    def __init__(self, *, max_connections: int = 512, keepalive_seconds: float = 30.0) -> None:
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, keepalive_timeout=self._keepalive_seconds, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def send(
        self, method: str, url: str, headers: Any, body: bytes | None, limits: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        """Send one request; aiohttp failures come out as httpx2 exceptions."""
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
        timeout = _timeout(request.extensions.get("timeout") or {})
        response = await self.send(request.method, str(request.url), headers, body or None, timeout)
        return httpx2.Response(
            status_code=response.status,
            headers=[(k, v) for k, v in response.raw_headers],
            stream=_ResponseStream(response),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
            request=request,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class LeanAsyncClient(httpx2.AsyncClient):
    """An `httpx2.AsyncClient` whose plain JSON POSTs skip httpx's request pipeline (see module docstring).

    The answer is a fully read `httpx2.Response` bound to its request, so `raise_for_status`, `.json()` and
    the inference client's error parsing behave as usual. Anything else (streams, cookies, form data,
    redirects) takes the normal httpx path over the same aiohttp pool.
    """

    def __init__(self, transport: AiohttpTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self._aiohttp = transport
        self._urls: dict[str, httpx2.URL] = {}

    def _url(self, url: str) -> httpx2.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) > 1024:
                self._urls.clear()
            parsed = self._urls[url] = httpx2.URL(url)
        return parsed

    async def post(self, url: Any, **kwargs: Any) -> httpx2.Response:
        lean = isinstance(url, str) and kwargs.keys() <= {"json", "data", "headers", "cookies", "timeout"}
        if not lean or kwargs.get("data") is not None or kwargs.get("cookies"):
            return await super().post(url, **kwargs)
        body = json.dumps(kwargs.get("json"), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items() if v is not None}
        headers.setdefault("content-type", "application/json")
        timeout = kwargs.get("timeout")
        seconds = timeout if isinstance(timeout, int | float) else None
        limits = {"connect": seconds, "read": seconds}
        request = httpx2.Request("POST", self._url(url))
        response = await self._aiohttp.send("POST", url, headers, body, _timeout(limits))
        try:
            content = await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx2.ReadTimeout(f"timed out reading the answer of {url}", request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx2.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc
        finally:
            response.release()
        if response.status < 300:
            # Success: the inference client only reads `.content`, so skip copying the headers.
            return httpx2.Response(response.status, content=content, request=request)
        return httpx2.Response(response.status, headers=response.raw_headers, content=content, request=request)
