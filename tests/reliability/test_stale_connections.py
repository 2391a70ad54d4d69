"""A kept-alive connection the server closed while idle never fails a call: the lean client (`http_client`) sends
the request again at once on a new connection, and its callers (the node's orchestrator, the services' inference
client) only log it.

The server is real (a thread of its own, blocking sockets): it answers each POST with JSON naming the connection,
keeps the connection alive, and closes it once idle for `IDLE` seconds, as uvicorn does after its keep-alive
timeout. To hit the race every time, the test blocks its event loop until the server has closed the idle
connection, so the client cannot have seen the close when it reuses the connection: the request goes out on a
connection the server no longer reads, and not one byte comes back.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from infernet_kit.compat.hf_transport import pooled_async_client
from infernet_kit.http_client import Endpoint, HttpPool
from infernet_kit.node.config import ContainerConfig
from infernet_kit.node.orchestrator import Orchestrator
from infernet_kit.protocol import JobLocation

IDLE = 0.2  # the server's keep-alive timeout; the clients keep connections for 30 s


class IdleClosingServer(socketserver.ThreadingTCPServer):
    """HTTP/1.1 keep-alive JSON server closing connections idle for `IDLE` seconds; counts what it did."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.accepted = 0
        self.closed_idle = threading.Semaphore(0)  # released once per connection closed for being idle
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def wait_for_idle_close(self) -> None:
        """Block the calling thread (the test's event loop with it) until the server closed an idle connection."""
        assert self.closed_idle.acquire(timeout=10), "the server closed no idle connection"


class _Handler(socketserver.StreamRequestHandler):
    server: IdleClosingServer

    def handle(self) -> None:
        with self.server.lock:
            number = self.server.accepted
            self.server.accepted += 1
        self.connection.settimeout(IDLE)
        for index in range(1_000_000):
            try:
                request_line = self.rfile.readline()
            except TimeoutError:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.connection.close()
                self.server.closed_idle.release()
                return
            if not request_line:
                return
            self.connection.settimeout(10)  # a request began: read it whole
            length = 0
            while (line := self.rfile.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            self.rfile.read(length)
            body = json.dumps({"connection": number, "index": index}).encode()
            head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
            self.wfile.write(head.encode() + body)
            self.connection.settimeout(IDLE)


@pytest.fixture
def server() -> Iterator[IdleClosingServer]:
    with IdleClosingServer() as running:
        thread = threading.Thread(target=running.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        yield running
        running.shutdown()


class Caller:
    """One way to call the server through the lean client; `resends()` is what the caller reported resending,
    each report starting with `reports`."""

    def __init__(self, call: Callable[[str], Awaitable[Any]], resends: Callable[[], list[str]], reports: str) -> None:
        self.call = call
        self.resends = resends
        self.reports = reports


@pytest.fixture(params=["http_client", "node", "service"])
async def caller(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> AsyncIterator[Caller]:
    """A call through the lean client directly, through the node's orchestrator (a job's container call), or
    through a service's inference client (a backend call); the callers' resends are read from their log."""
    caplog.set_level(logging.WARNING)

    def logged() -> list[str]:
        return [r.getMessage() for r in caplog.records if "a kept-alive connection sent no answer" in r.getMessage()]

    if request.param == "http_client":
        pool = HttpPool(4)
        reported: list[str] = []

        async def direct(url: str) -> Any:
            answer = await pool.post(Endpoint.of(url + "/", {}), b"{}", on_resend=lambda e: reported.append(repr(e)))
            assert answer.status == 200
            return json.loads(answer.body)

        yield Caller(direct, lambda: reported, "NoAnswer(")
        await pool.aclose()
    elif request.param == "node":
        nodes: list[Orchestrator] = []

        async def job(url: str) -> Any:
            if not nodes:
                nodes.append(Orchestrator({"c": ContainerConfig.model_validate({"id": "c", "url": url})}))
            (output,) = await nodes[0].run(
                ["c"], {}, source=JobLocation.OFFCHAIN, destination=JobLocation.OFFCHAIN, tag="job=j1"
            )
            return output.output

        yield Caller(job, logged, "container c at {url} (job=j1): ")
        for node in nodes:
            await node.aclose()
    else:
        connections = HttpPool(4)
        client = pooled_async_client(connections)

        async def backend_call(url: str) -> Any:
            response = await client.post(url + "/", json={"inputs": "hi"})
            return response.raise_for_status().json()

        yield Caller(backend_call, logged, "backend {url}/: ")
        await client.aclose()
        await connections.aclose()


async def test_a_connection_the_server_closed_while_idle_never_fails_a_call(
    server: IdleClosingServer, caller: Caller
) -> None:
    assert await caller.call(server.url) == {"connection": 0, "index": 0}
    # At once: the kept-alive connection is reused, nothing is resent.
    assert await caller.call(server.url) == {"connection": 0, "index": 1}
    assert caller.resends() == []

    server.wait_for_idle_close()  # the loop is blocked: the client has not seen that close
    after = await caller.call(server.url)

    assert after == {"connection": 1, "index": 0}, "not answered on a new connection"
    assert server.accepted == 2
    (resend,) = caller.resends()
    assert resend.startswith(caller.reports.format(url=server.url)), resend
