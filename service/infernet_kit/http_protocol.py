"""The HTTP/1.1 connection protocol of the kit's servers (the node, the services): uvicorn's httptools protocol,
with each response leaving in one packet.

uvicorn writes a response's status line and headers, then its body, as two socket writes: two syscalls, two
packets and two wake-ups of the client per answer (py-spy put socket writes first in the node's cost per job; an
aiohttp client of a service reads the headers, then waits for the body's packet). Writes made while one callback of
the event loop runs are joined and sent when the answer is complete, else at the loop's next turn (a streamed
answer's chunks), so headers and body go out together, in order, before any close.

This leans on uvicorn's private `HttpToolsProtocol` (it writes through `self.transport`);
`tests/node/unit/test_unit_coalescing_transport.py` runs a real uvicorn with it and fails if a release changes that.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport whose `write`s are held until the event loop's next turn and then sent as one; everything
    else is the wrapped transport's. `close` sends what is held first."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._held:
            asyncio.get_running_loop().call_soon(self.flush)
        self._held.append(bytes(data))

    def flush(self) -> None:
        """Send what is held now."""
        if self._held:
            data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
            self._held.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with TCP_NODELAY set on every accepted connection, so a small answer is
    sent at once instead of waiting on the client's delayed ACK (the reference node's 40 ms stall), and a
    `CoalescingTransport` under it, so that answer is one packet."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(cast(asyncio.Transport, CoalescingTransport(transport)))

    def on_response_complete(self) -> None:
        """A whole answer was written: it leaves now, not a loop turn later (a turn on every answer's path)."""
        cast(CoalescingTransport, self.transport).flush()
        super().on_response_complete()
