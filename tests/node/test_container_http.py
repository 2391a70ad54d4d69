"""The kit's lean client (`http_client.py`) as the node's container client, at the edges of HTTP, over real sockets.

A raw HTTP/1.1 server in this process answers each request with the bytes the request's `data` asks for and records
every request and connection, so each test can say what went over the wire. The first test holds the lean client
and aiohttp's (which the node used before, and still uses for `https://` containers) side by side: the same
requests must read the same, and the server must receive the same from both.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import logging
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from infernet_kit.http_client import MAX_HEAD_BYTES, Endpoint, HttpPool
from infernet_kit.node.config import ContainerConfig
from infernet_kit.node.orchestrator import (
    UNANSWERED_ATTEMPTS,
    USER_AGENT,
    ContainerCall,
    ContainerFailure,
    Orchestrator,
    request_headers,
)
from infernet_kit.polling import wait_until_async
from infernet_kit.protocol import JobLocation
from infernet_kit.protocol.container import REQUEST_TAG_HEADER, BackendCall, ServiceRequest

OFFCHAIN = JobLocation.OFFCHAIN
# What the orchestrator sends a container with a bearer token, through either client.
HEADERS = request_headers(ContainerConfig.model_validate({"id": "c", "url": "http://127.0.0.1:1", "bearer": "s3cret"}))


def answer(status: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """An HTTP/1.1 answer, byte for byte."""
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return f"HTTP/1.1 {status}\r\n{lines}\r\n".encode() + body


def json_answer(payload: Any, *extra: tuple[str, str]) -> bytes:
    body = json.dumps(payload).encode()
    return answer("200 OK", [("content-type", "application/json"), ("content-length", str(len(body))), *extra], body)


def chunked(body: bytes, size: int = 7) -> bytes:
    pieces = [body[start : start + size] for start in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


@dataclass
class Received:
    connection: int  # in the order the server accepted them
    index: int  # the request's place on its connection
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RawServer:
    """Answers a request whose `data` is `{"reply": <base64 bytes>, "close": bool}` with those bytes (then closes
    when asked), `{"drop": true}` by closing without a byte, `{"drop_reused": true}` the same but only on a
    connection that already served a request, `{"sleep": s}` after `s` seconds; anything else with JSON naming
    the connection and the request's place on it."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    accepted: int = 0
    open: int = 0
    busy: int = 0  # requests received and not yet answered
    peak_busy: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection, self.accepted, self.open = self.accepted, self.accepted + 1, self.open + 1
        try:
            for index in range(1_000_000):
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                request_line, *lines = head.decode().split("\r\n")[:-2]
                headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines)}
                body = await reader.readexactly(int(headers["content-length"]))
                method, path, _ = request_line.split(" ")
                self.received.append(Received(connection, index, method, path, headers, body))
                data = json.loads(body)["data"]
                if data.get("drop") or (data.get("drop_reused") and index > 0):
                    return
                self.busy += 1
                self.peak_busy = max(self.peak_busy, self.busy)
                try:
                    await asyncio.sleep(data.get("sleep", 0))
                    reply = base64.b64decode(data["reply"]) if "reply" in data else None
                    writer.write(reply or json_answer({"connection": connection, "index": index}))
                    await writer.drain()
                finally:
                    self.busy -= 1
                if data.get("close"):
                    return
        except ConnectionError:
            return  # the client went away first (it timed out)
        finally:
            self.open -= 1
            writer.close()


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[RawServer]:
    server = RawServer()
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    server.port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield server


@pytest.fixture(scope="module")
async def raw_server() -> AsyncIterator[RawServer]:
    async with serving() as server:
        yield server


def request_data(**data: Any) -> bytes:
    """A `POST /service_output` body as the orchestrator sends it."""
    return (
        ServiceRequest(source=OFFCHAIN, destination=OFFCHAIN, data=data)
        .model_dump_json(exclude={"proof_target"})
        .encode()
    )


def reply(raw: bytes, *, close: bool = False) -> dict[str, Any]:
    return {"reply": base64.b64encode(raw).decode(), "close": close}


def orchestrator(url: str, **config: Any) -> Orchestrator:
    return Orchestrator({"c": ContainerConfig.model_validate({"id": "c", "url": url, **config})})


async def run(orchestrator: Orchestrator, **data: Any) -> Any:
    (output,) = await orchestrator.run(["c"], data, source=OFFCHAIN, destination=OFFCHAIN)
    return output.output


async def eventually(check: Callable[[], bool], what: str) -> None:
    async def holds() -> bool:
        return check()

    await wait_until_async(holds, timeout=5, what=what)


def failure(caught: pytest.ExceptionInfo[ContainerFailure]) -> str:
    return caught.value.description


PAYLOAD = {"text": "é" * 40, "n": [1, 2, 3]}
PAYLOAD_BYTES = json.dumps(PAYLOAD).encode()
TIMING = ("server-timing", 'backend;dur=12.5;desc="generate"')
ANSWERS = {
    "content-length": reply(json_answer(PAYLOAD, TIMING)),
    "chunked": reply(
        answer(
            "200 OK", [("content-type", "application/json"), ("transfer-encoding", "chunked")], chunked(PAYLOAD_BYTES)
        )
    ),
    "until-close": reply(answer("200 OK", [("content-type", "application/json")], PAYLOAD_BYTES), close=True),
    "connection-close": reply(json_answer(PAYLOAD, ("connection", "close")), close=True),
    "gzip": reply(
        answer(
            "200 OK",
            [("content-encoding", "gzip"), ("content-length", str(len(gzip.compress(PAYLOAD_BYTES))))],
            gzip.compress(PAYLOAD_BYTES),
        )
    ),
    "deflate": reply(
        answer(
            "200 OK",
            [("content-encoding", "deflate"), ("content-length", str(len(zlib.compress(PAYLOAD_BYTES))))],
            zlib.compress(PAYLOAD_BYTES),
        )
    ),
    "error": reply(
        answer("503 Service Unavailable", [("content-length", "8"), ("content-type", "text/plain")], b"too busy")
    ),
    "no-content": reply(answer("204 No Content", [], b"")),
}


async def test_the_lean_client_and_aiohttp_read_and_send_the_same(raw_server: RawServer, echo_container: str) -> None:
    """Fails loudly if the node's two clients part: each answer shape read through both, and the requests the
    server received from both, compared."""
    lean = HttpPool(4)
    tag = {REQUEST_TAG_HEADER: "job=abc"}
    async with aiohttp.ClientSession(auto_decompress=True, trust_env=False) as session:

        async def through_aiohttp(url: str, body: bytes) -> tuple[int, str | None, str | None, bytes]:
            async with session.post(url + "/service_output", data=body, headers={**HEADERS, **tag}) as response:
                raw = await response.read()
                return response.status, response.headers.get("content-type"), response.headers.get("server-timing"), raw

        async def through_lean(url: str, body: bytes) -> tuple[int, str | None, str | None, bytes]:
            got = await lean.post(Endpoint.of(url + "/service_output", HEADERS), body, headers=tag)
            return got.status, got.headers.get("content-type"), got.headers.get("server-timing"), got.body

        try:
            for name, data in ANSWERS.items():
                body = request_data(**data)
                mark = len(raw_server.received)
                by_lean = await through_lean(raw_server.url, body)
                by_aiohttp = await through_aiohttp(raw_server.url, body)
                assert by_lean == by_aiohttp, name
                sent_by_lean, sent_by_aiohttp = raw_server.received[mark:]
                for sent in (sent_by_lean, sent_by_aiohttp):
                    assert (sent.method, sent.path, sent.body) == ("POST", "/service_output", body), name
                    assert sent.headers["host"] == f"127.0.0.1:{raw_server.port}", name
                    for header in (*HEADERS, REQUEST_TAG_HEADER, "content-length"):
                        assert sent.headers[header] == sent_by_aiohttp.headers[header], (name, header)
                    assert (sent.headers["user-agent"], sent.headers["accept"]) == (USER_AGENT, "application/json")
                assert "accept-encoding" not in sent_by_lean.headers
            assert by_lean[0] == 204 and by_lean[3] == b""
            # A real service (uvicorn and Starlette): the same answer, which echoes the request it received.
            body = request_data(question="same?")
            assert await through_lean(echo_container, body) == await through_aiohttp(echo_container, body)
        finally:
            await lean.aclose()


async def test_answers_read_through_the_orchestrator(raw_server: RawServer) -> None:
    node = orchestrator(raw_server.url, bearer="s3cret")
    calls: list[ContainerCall] = []
    mark = len(raw_server.received)
    try:
        for name in ("content-length", "chunked", "until-close", "gzip", "deflate"):
            (output,) = await node.run(
                ["c"], ANSWERS[name], source=OFFCHAIN, destination=OFFCHAIN, tag="job=1", on_call=calls.append
            )
            assert output.output == PAYLOAD, name
        assert [call.backend for call in calls] == [[BackendCall(what="generate", ms=12.5)], [], [], [], []]
        with pytest.raises(ContainerFailure) as caught:
            await run(node, **ANSWERS["error"])
        assert (failure(caught), caught.value.status) == ("HTTP 503: too busy", 503)
    finally:
        await node.aclose()
    sent = raw_server.received[mark]
    assert (sent.headers["authorization"], sent.headers[REQUEST_TAG_HEADER]) == ("Bearer s3cret", "job=1")
    assert (sent.headers["user-agent"], sent.headers["accept"]) == (USER_AGENT, "application/json")


async def test_a_flood_queues_on_the_bounded_pool_and_idle_connections_are_reused_then_closed(
    raw_server: RawServer,
) -> None:
    lean = HttpPool(4, keepalive_timeout=0.5)
    endpoint = Endpoint.of(raw_server.url + "/service_output", HEADERS)
    accepted = raw_server.accepted
    try:
        answers = await asyncio.gather(*(lean.post(endpoint, request_data(sleep=0.002)) for _ in range(200)))
        assert {a.status for a in answers} == {200}
        assert 1 <= raw_server.accepted - accepted <= 4, "a connection per call: the pool is not bounded"
        assert 1 <= lean.open_connections <= 4
        accepted = raw_server.accepted
        for _ in range(5):  # one at a time: the same idle connection each time
            await lean.post(endpoint, request_data())
        assert raw_server.accepted == accepted
        # Idle past the keep-alive timeout: closed, the server sees them end.
        await eventually(lambda: lean.open_connections == 0, "idle connections closed")
        await eventually(lambda: raw_server.open == 0, "the server seeing them closed")
        assert (await lean.post(endpoint, request_data())).status == 200
        assert raw_server.accepted == accepted + 1
        # An answer saying `connection: close` closes its connection: each next call opens another.
        for expected in (accepted + 1, accepted + 2, accepted + 3):
            assert (await lean.post(endpoint, request_data(**ANSWERS["connection-close"]))).body == PAYLOAD_BYTES
            assert raw_server.accepted == expected
    finally:
        await lean.aclose()


async def test_a_calls_timeout_bounds_its_answer_and_its_wait_for_a_free_connection(raw_server: RawServer) -> None:
    lean = HttpPool(1)
    endpoint = Endpoint.of(raw_server.url + "/service_output", HEADERS)
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        with pytest.raises(TimeoutError):
            await lean.post(endpoint, request_data(sleep=2), timeout=0.2)
        assert 0.2 <= loop.time() - started < 1.5
        await eventually(lambda: lean.open_connections == 0, "the late call's connection closed")
        # The one connection is busy for 1 s: a call with 0.2 s to spare times out waiting for it.
        received = len(raw_server.received)
        busy = asyncio.ensure_future(lean.post(endpoint, request_data(sleep=1), timeout=5))
        await eventually(lambda: len(raw_server.received) == received + 1, "the first call at the server")
        started, received = loop.time(), len(raw_server.received)
        with pytest.raises(TimeoutError):
            await lean.post(endpoint, request_data(), timeout=0.2)
        assert 0.2 <= loop.time() - started < 0.9
        assert len(raw_server.received) == received, "sent although no connection was free in time"
        assert (await busy).status == 200
        # In time, with the pool free again: answered on the kept-alive connection, its timer gone with it.
        assert (await lean.post(endpoint, request_data(), timeout=0.5)).status == 200
        await asyncio.sleep(0.6)
        assert (await lean.post(endpoint, request_data(), timeout=0.5)).status == 200
    finally:
        await lean.aclose()


@pytest.fixture
def no_answer_lines(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """The orchestrator's "sent no answer" lines logged so far in the test."""
    caplog.set_level(logging.WARNING, logger="infernet_kit.node.orchestrator")
    return lambda: [record.message for record in caplog.records if "sent no answer" in record.message]


async def test_a_call_that_got_no_answer_is_sent_again_on_a_new_connection(
    raw_server: RawServer, no_answer_lines: Callable[[], list[str]]
) -> None:
    node = orchestrator(raw_server.url)
    try:
        first = await run(node)
        # The server closes the pooled connection as the request arrives (it had closed it while idle): the lean
        # client sends the call again at once, on a new connection, and the node logs what it reported.
        again = await run(node, drop_reused=True)
        assert again["connection"] != first["connection"] and again["index"] == 0
        (line,) = no_answer_lines()
        assert line.startswith(f"container c at {raw_server.url}: a kept-alive connection sent no answer ("), line
        assert line.endswith("; sent again at once on a new connection"), line

        # A container that never answers: the kept-alive connection's resend, then the node's retries (each on a
        # new connection, after a backoff) until it gives up with the same clear text.
        mark = len(raw_server.received)
        with pytest.raises(ContainerFailure) as caught:
            await run(node, drop=True)
        assert failure(caught).startswith(f"cannot reach {raw_server.url}: "), failure(caught)
        assert len(raw_server.received) - mark == 1 + UNANSWERED_ATTEMPTS
        assert len({r.connection for r in raw_server.received[mark:]}) == 1 + UNANSWERED_ATTEMPTS
        lines = no_answer_lines()[1:]
        assert len(lines) == 1 + UNANSWERED_ATTEMPTS - 1, lines
        assert "sent again at once" in lines[0] and f"attempt {UNANSWERED_ATTEMPTS} of" in lines[-1], lines
    finally:
        await node.aclose()


async def test_a_broken_unreadable_or_late_answer_is_not_sent_again(
    raw_server: RawServer, no_answer_lines: Callable[[], list[str]]
) -> None:
    node = orchestrator(raw_server.url, timeout=0.3)
    url = raw_server.url
    cases = {
        f"the answer from {url} broke off: the connection closed after ": reply(
            answer("200 OK", [("content-length", "100")], b'{"cut'), close=True
        ),
        f"the answer from {url} cannot be read: its content-encoding 'br' is not gzip or deflate": reply(
            answer("200 OK", [("content-encoding", "br"), ("content-length", "2")], b"{}")
        ),
        f"the answer from {url} cannot be read: malformed HTTP": reply(b"HTTP/1.1 two hundred\r\n\r\n"),
        f"the answer from {url} cannot be read: its head exceeds {MAX_HEAD_BYTES} bytes": reply(
            answer("200 OK", [("x-big", "b" * MAX_HEAD_BYTES)], b"")
        ),
        f"no answer from {url} within 0.3s": {"sleep": 1},
    }
    try:
        for expected, data in cases.items():
            mark = len(raw_server.received)
            with pytest.raises(ContainerFailure) as caught:
                await run(node, **data)
            assert failure(caught).startswith(expected), failure(caught)
            assert len(raw_server.received) == mark + 1, f"sent again: {expected}"
        assert no_answer_lines() == []
        # None of those connections is reused: each call above opened its own.
        assert len({r.connection for r in raw_server.received[-len(cases) :]}) == len(cases)
        await eventually(lambda: node.open_connections == 0, "the broken connections closed")
    finally:
        await node.aclose()


async def test_job_calls_and_streams_share_one_bound_on_calls_in_flight() -> None:
    """The lean client (job calls) and aiohttp (streams, `https://`, resources) take places in one bound: with
    `max_connections=2` and two slow streams open, a job call waits for one of them to end, so the container
    never has more than two calls at once."""
    async with serving() as server:
        node = Orchestrator({"c": ContainerConfig.model_validate({"id": "c", "url": server.url})}, max_connections=2)

        async def stream() -> float:
            async for _ in node.stream(["c"], {"sleep": 0.3}):
                pass
            return asyncio.get_running_loop().time()

        async def job() -> float:
            await asyncio.sleep(0.05)  # both streams have their places by now
            await run(node)
            return asyncio.get_running_loop().time()

        try:
            first, second, job_done = await asyncio.gather(stream(), stream(), job())
        finally:
            await node.aclose()
    assert server.peak_busy == 2, f"{server.peak_busy} calls in flight at once with max_connections=2"
    assert job_done >= min(first, second), "the job call did not wait for a stream to end"
