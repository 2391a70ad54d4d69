"""A lean keep-alive HTTP/1.1 client for JSON POSTs over `http://`: the node's job calls to containers
(`POST /service_output`) and the services' calls to their inference backend.

Why it exists: profiles put aiohttp's client first in the node's CPU per job and per delivery (~200 µs per call
through the orchestrator), and a fifth of a service worker's CPU per request went to aiohttp under the inference
client. This client is an asyncio Protocol with httptools' response parser (llhttp in C, as the kit's servers use
through uvicorn) and a request head built once per endpoint. One call at a time against the echo container, in one
run under uvloop: 46-59 µs of CPU per call, where aiohttp's took 235-310 µs (docs/PERFORMANCE.md, "On chain"
and "Off chain").

What it does, as aiohttp's client did for these calls (`tests/node/test_container_http.py` holds the two side by
side and fails if they part):
- a pool bounded in calls: at most `max_connections` calls have a connection at once, the rest queue in order
  (a flood of jobs never opens a connection per job); like aiohttp's limit, idle connections are not counted;
  `slot()` lets a caller that goes through another client (aiohttp, for what this one does not do) count against
  the same bound;
- idle connections are reused (the most recently used first) and closed after `keepalive_timeout` seconds; an
  answer that says `connection: close` (or an HTTP/1.0 one) closes its connection;
- bodies by content-length, chunked, or until the server closes; `gzip` and `deflate` answers are decoded with
  zlib (none is asked for: no `accept-encoding` is sent), any other encoding is refused; an answer's head is
  bounded (`MAX_HEAD_BYTES`), its body is not (aiohttp's was not either);
- a stale connection never fails a call: a request that got not one byte back on a kept-alive connection (the
  server closed it while idle, its close not yet seen here) is sent once more at once on a new connection. This
  is the kit's one policy for it (the node's container calls and the services' backend calls both come here);
  `post(on_resend=...)` tells the caller, which only logs it;
- every failure is typed for the caller to word and retry: `NoAnswer` when not one byte came back, on a new
  connection (refused, reset or closed: sending again later is safe, the server never answered; `connecting`
  says whether the connection could not even be opened), `BrokenAnswer` when an answer began and then broke
  off, `UnreadableAnswer` when it cannot be read; a call cancelled (its caller's timeout) closes its
  connection, since the answer may still come.

What it does not do: TLS, streamed answers, redirects, proxies, cookies, 1xx interim answers, pipelining.
Its callers keep aiohttp for those: the orchestrator for `https://` containers, `stream()` and `resources()`, the
services for `https://` backends and streamed generation.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, cast

import httptools
from yarl import URL

from infernet_kit.retrying import describe

# The most an answer's status line and headers may take (aiohttp's client took 128 headers of 8 KiB each; no
# server here sends more than a few hundred bytes).
MAX_HEAD_BYTES = 64 * 1024
DEFAULT_KEEPALIVE_TIMEOUT = 30.0
_DECODED = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class NoAnswer(ConnectionError):
    """The server sent back nothing at all: the request is safe to send again (the one mark of it, whichever
    client carried the call). `connecting`: no connection could even be opened (refused, unreachable), so the
    server never saw the request."""

    def __init__(self, reason: str, *, connecting: bool = False) -> None:
        super().__init__(reason)
        self.connecting = connecting


class BrokenAnswer(Exception):
    """The answer began, then the connection ended before it was whole."""


class UnreadableAnswer(Exception):
    """The answer is not HTTP this client can read (malformed, its head too large, an unknown encoding)."""


class Answer(NamedTuple):
    """A whole answer: its status, headers (names in lower case, the first of repeated ones) and body
    (decoded when it came compressed)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def _header_line(name: str, value: str) -> bytes:
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} holds a line break")
    return f"{name}: {value}\r\n".encode()


@dataclass(frozen=True)
class Endpoint:
    """Where calls go and the head each one starts with, built once per endpoint (a container's, a backend's)."""

    host: str
    port: int
    head: bytes

    @classmethod
    def of(cls, url: str, headers: Mapping[str, str]) -> Endpoint:
        """The endpoint of `url` (`http://` only), sending `headers` with every call."""
        parsed = URL(url)
        if parsed.scheme != "http" or parsed.host is None or parsed.port is None:
            raise ValueError(f"{url} is not an http:// URL")
        host = parsed.host_port_subcomponent or parsed.host
        lines = [f"POST {parsed.raw_path_qs} HTTP/1.1\r\n".encode(), _header_line("host", host)]
        lines += [_header_line(name, value) for name, value in headers.items()]
        return cls(parsed.raw_host or parsed.host, parsed.port, b"".join(lines))

    def request(self, body: bytes, headers: Mapping[str, str] | None) -> bytes:
        """The whole request: the head, `headers` of this call, the content-length and `body`."""
        extra = b"".join(_header_line(name, value) for name, value in headers.items()) if headers else b""
        return b"%s%scontent-length: %d\r\n\r\n%s" % (self.head, extra, len(body), body)


def _decoded(body: bytes, encoding: str | None) -> bytes:
    if encoding is None:
        return body
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    wbits = _DECODED.get(encoding)
    if wbits is None:
        raise UnreadableAnswer(f"its content-encoding {encoding!r} is not gzip or deflate")
    try:
        return zlib.decompress(body, wbits)
    except zlib.error:
        if encoding != "deflate":
            raise UnreadableAnswer(f"its {encoding} body does not decode") from None
    try:  # "deflate" sent without its zlib wrapper, as some servers do
        return zlib.decompress(body, -zlib.MAX_WBITS)
    except zlib.error:
        raise UnreadableAnswer("its deflate body does not decode") from None


class _Connection(asyncio.Protocol):
    """One connection to a server: sends a request, parses its answer, resolves the call's future."""

    def __init__(self, pool: HttpPool, key: tuple[str, int]) -> None:
        self.key = key
        self.closed = False
        self.reusable = False
        self.idle_since = 0.0
        self._pool = pool
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[Answer] | None = None
        self._received = 0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._until_close = False
        self._head_done = False
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's TCPTransport is one, but no subclass
        self._pool.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.lost(self)
        if self._answer is None or self._answer.done():
            return
        if self._received == 0:
            self._fail(NoAnswer(describe(exc) if exc else "the connection closed before any answer byte"))
        elif self._until_close:
            self._complete(self._parser.get_status_code(), keep=False)
        else:
            ended = f": {describe(exc)}" if exc else ""
            self._fail(BrokenAnswer(f"the connection closed after {self._received} bytes of the answer{ended}"))

    def request(self, data: bytes) -> asyncio.Future[Answer]:
        """Send one whole request; the future holds its answer or why there is none."""
        assert self._transport is not None
        self._received = 0
        self._headers = {}
        self._body = []
        self._until_close = False
        self._head_done = False
        self._head_bytes = 0
        self.reusable = False
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(data)
        return self._answer

    def alive(self) -> bool:
        """Whether a request may be sent on it (the server has not closed it)."""
        return not self.closed and self._transport is not None and not self._transport.is_closing()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: this connection's state is unknown
            return
        self._received += len(data)
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(UnreadableAnswer(f"malformed HTTP: {describe(exc)}"))
            return
        if (self._head_bytes if self._head_done else self._received) > MAX_HEAD_BYTES:
            self._fail(UnreadableAnswer(f"its head exceeds {MAX_HEAD_BYTES} bytes"))

    # httptools' callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        self._headers.setdefault(name.decode("latin-1").lower(), value.decode("utf-8", "surrogateescape"))

    def on_headers_complete(self) -> None:
        headers = self._headers
        self._until_close = "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "")
        self._head_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._complete(self._parser.get_status_code(), keep=self._parser.should_keep_alive())

    def _complete(self, status: int, *, keep: bool) -> None:
        assert self._answer is not None
        headers = self._headers
        try:
            if self._head_bytes > MAX_HEAD_BYTES:
                raise UnreadableAnswer(f"its head exceeds {MAX_HEAD_BYTES} bytes")
            body = _decoded(b"".join(self._body), headers.get("content-encoding"))
        except UnreadableAnswer as exc:
            self._fail(exc)
            return
        self._until_close = False
        self.reusable = keep
        self._answer.set_result(Answer(status, headers, body))

    def _fail(self, error: Exception) -> None:
        assert self._answer is not None
        self.reusable = False
        if not self._answer.done():
            self._answer.set_exception(error)
        self.close()


def resend_logger(log: logging.Logger, label: str) -> Callable[[NoAnswer], None]:
    """`HttpPool.post`'s `on_resend` for a caller that logs it: one warning line, `label` naming who was called
    (and for which job), worded the same wherever the pool is used."""

    def resent(stale: NoAnswer) -> None:
        log.warning(
            "%s: a kept-alive connection sent no answer (%s); sent again at once on a new connection",
            label,
            describe(stale),
        )

    return resent


def _time_out(answer: asyncio.Future[Answer]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError())


class HttpPool:
    """Pooled keep-alive connections to servers, and the one call made over them."""

    def __init__(self, max_connections: int, *, keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT) -> None:
        self._slots = asyncio.Semaphore(max_connections)
        self._keepalive = keepalive_timeout
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._expiry: asyncio.TimerHandle | None = None

    def slot(self) -> asyncio.Semaphore:
        """The pool's bound, for a call that goes through another client to count against it (`async with`)."""
        return self._slots

    @property
    def open_connections(self) -> int:
        """Connections open now, idle or in use."""
        return len(self._open)

    async def post(
        self,
        endpoint: Endpoint,
        body: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        on_resend: Callable[[NoAnswer], None] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (asyncio.timeout costs ~5x the CPU: see below)
    ) -> Answer:
        """POST `body` to `endpoint` with this call's `headers`, on the most recently used idle connection or a
        new one. When a kept-alive connection got no answer byte, the request is sent again at once on a new
        connection, and `on_resend` hears why (for the caller's log line); `NoAnswer` is raised only when a new
        connection got none either. `timeout` seconds bound the whole call, the wait for a free connection
        too: `TimeoutError`, as `asyncio.timeout` around the call gives, which costs ~11 µs of CPU a call where
        a timer on the answer's future costs ~2 (the wait for a slot or a new connection, rare, is bounded by
        `asyncio.timeout`). A caller's own timeout (cancellation) counts the same waits. Either closes the
        connection."""
        request = endpoint.request(body, headers)
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        if self._slots.locked():
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        else:
            await self._slots.acquire()  # free: taken at once
        try:
            idle = self._take_idle(endpoint)
            if idle is not None:
                try:
                    return await self._exchange(idle, request, deadline)
                except NoAnswer as stale:
                    if on_resend is not None:
                        on_resend(stale)
            async with asyncio.timeout_at(deadline):
                connection = await self._connect(endpoint)
            return await self._exchange(connection, request, deadline)
        finally:
            self._slots.release()

    async def _exchange(self, connection: _Connection, request: bytes, deadline: float | None) -> Answer:
        """One request on `connection`, which goes back to the pool when it may be reused, else closes (also when
        no answer came by `deadline`, loop time: `TimeoutError`)."""
        future = connection.request(request)
        expiry = None if deadline is None else asyncio.get_running_loop().call_at(deadline, _time_out, future)
        try:
            answer = await future
        except BaseException:
            connection.close()
            raise
        finally:
            if expiry is not None:
                expiry.cancel()
        self._release(connection)
        return answer

    async def aclose(self) -> None:
        """Close every connection."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        for connection in list(self._open):
            connection.close()
        self._idle.clear()

    def opened(self, connection: _Connection) -> None:
        self._open.add(connection)

    def lost(self, connection: _Connection) -> None:
        self._open.discard(connection)

    async def _connect(self, endpoint: Endpoint) -> _Connection:
        key = (endpoint.host, endpoint.port)
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(lambda: _Connection(self, key), endpoint.host, endpoint.port)
        except OSError as exc:
            raise NoAnswer(describe(exc), connecting=True) from exc
        return connection

    def _take_idle(self, endpoint: Endpoint) -> _Connection | None:
        idle = self._idle.get((endpoint.host, endpoint.port))
        while idle:
            connection = idle.pop()
            if connection.alive():
                return connection
        return None

    def _release(self, connection: _Connection) -> None:
        if not connection.reusable or not connection.alive():
            connection.close()
            return
        loop = asyncio.get_running_loop()
        connection.idle_since = loop.time()
        self._idle.setdefault(connection.key, []).append(connection)
        if self._expiry is None:
            self._expiry = loop.call_at(connection.idle_since + self._keepalive, self._expire)

    def _expire(self) -> None:
        """Close the connections idle for `keepalive_timeout`; come back when the next one will be."""
        self._expiry = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        oldest: float | None = None
        for idle in self._idle.values():
            kept = []
            for connection in idle:  # oldest first
                if now - connection.idle_since < self._keepalive and connection.alive():
                    kept.append(connection)
                else:
                    connection.close()
            idle[:] = kept
            if kept and (oldest is None or kept[0].idle_since < oldest):
                oldest = kept[0].idle_since
        if oldest is not None:
            self._expiry = loop.call_at(oldest + self._keepalive, self._expire)
