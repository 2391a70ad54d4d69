"""A response's writes leave together: `CoalescingTransport` (the node's and the services' HTTP protocol) holds
what is written during one callback of the event loop, sends it as one at the loop's next turn, and sends what it
holds before closing. Over a real socket pair."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator

import pytest

from infernet_kit.http_protocol import CoalescingTransport
from infernet_kit.polling import wait_until_async


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
