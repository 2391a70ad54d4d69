"""A response's writes leave together: `CoalescingTransport` (the node's and the services' HTTP protocol) holds
what is written during one callback of the event loop, sends it as one at the loop's next turn, and sends what it
holds before closing. Over a real socket pair."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from infernet_kit.http_protocol import CoalescingHttpProtocol, CoalescingTransport
from infernet_kit.polling import wait_until_async
from infernet_kit.processes import free_port


@pytest.fixture
def peer_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, peer = socket.socketpair()
    peer.setblocking(False)
    yield ours, peer
    ours.close()
    peer.close()


def received(peer: socket.socket) -> bytes | None:
    """What has arrived (b"" at the end of the stream), None while nothing has."""
    try:
        return peer.recv(1 << 16)
    except BlockingIOError:
        return None


async def read_until(peer: socket.socket, done: Callable[[bytes, bool], bool]) -> bytes:
    """Bytes from `peer` until `done(bytes so far, stream ended)`."""
    got = bytearray()
    ended = False

    async def arrived() -> bool:
        nonlocal ended
        chunk = received(peer)
        ended = ended or chunk == b""
        got.extend(chunk or b"")
        return done(bytes(got), ended)

    await wait_until_async(arrived, timeout=5, interval=0.001, what="the bytes held")
    return bytes(got)


async def test_writes_of_one_callback_leave_together_and_close_sends_them_first(
    peer_pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, peer = peer_pair
    transport, _ = await asyncio.get_running_loop().create_connection(asyncio.Protocol, sock=ours)
    held = CoalescingTransport(transport)  # type: ignore[arg-type]

    held.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    held.write(b"{}")
    assert received(peer) is None  # held: nothing was sent during the callback that wrote
    answer = await read_until(peer, lambda got, ended: got.endswith(b"{}"))
    assert answer == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"

    held.write(b"last")
    held.close()  # sends what it holds, then closes
    assert await read_until(peer, lambda got, ended: ended) == b"last"
    assert held.is_closing()


async def test_uvicorn_sends_a_whole_answer_in_one_write_as_soon_as_it_is_complete() -> None:
    """The protocol leans on uvicorn's private httptools protocol (it writes through `self.transport`): if a
    uvicorn release changes that, this fails instead of the kit's servers silently sending answers in pieces.
    (uvicorn's own protocol fails it: headers and body are two writes.)"""
    sent: list[bytes] = []

    class Recorder:
        def __init__(self, transport: asyncio.Transport) -> None:
            self._transport = transport

        def write(self, data: bytes) -> None:
            sent.append(bytes(data))
            self._transport.write(data)

        def __getattr__(self, name: str) -> object:
            return getattr(self._transport, name)

    class Recorded(CoalescingHttpProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(Recorder(transport))  # type: ignore[arg-type]

    async def answer(request: Request) -> JSONResponse:
        return JSONResponse({"status": "healthy"})

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"{}"})
        written_when_complete.append(len(sent))  # still the callback that completed the answer

    async def started() -> bool:
        return server.started

    port = free_port()
    written_when_complete: list[int] = []
    app = Starlette(routes=[Route("/health", answer), Mount("/raw", raw)])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=Recorded, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await wait_until_async(started, timeout=10, what="uvicorn started")
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/health")
        assert response.json() == {"status": "healthy"}
        assert len(sent) == 1, sent  # status line, headers and body: one write
        assert sent[0].startswith(b"HTTP/1.1 200 OK") and sent[0].endswith(b'{"status":"healthy"}')
        # A complete answer is sent at once, not a loop turn later.
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/raw/")).content == b"{}"
        assert written_when_complete == [2]
    finally:
        server.should_exit = True
        await serving
