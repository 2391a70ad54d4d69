"""A stream client that goes away at any point leaves its job `failed` with "client disconnected" at once, never
`running`; pending counts stay exact. Real node -> real TGI service -> dev backend, made slow where the client
leaves: before the first token (backend latency), and between tokens (backend token delay)."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import httpx
import pytest

from infernet_kit.devstack import fake_models
from infernet_kit.node.jobs import CLIENT_GONE
from infernet_kit.node.store import CRASH_REASON
from infernet_kit.polling import wait_until
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.node_fixtures import NodeFactory, NodeLauncher, RunningNode, node_container, wait_for_job
from infernet_kit.testing.service_fixtures import DevBackendHandle

TGI = "tgi_client_inference_service"
PROMPT = "Is the sky blue during a clear day?"
BODY = {"containers": [TGI], "data": {"text": PROMPT}}


@pytest.fixture(scope="module")
def node(node_launcher: NodeLauncher, tgi_service: str) -> RunningNode:
    return node_launcher(
        {
            "containers": [node_container(TGI, tgi_service)],
            "server": {"rate_limit": {"num_requests": 100000, "period": 1}},
        }
    )


def running_ids(node: RunningNode) -> list[str]:
    return list(httpx_calls.get(f"{node.url}/api/jobs", params={"pending": "true"}, timeout=5).json())


def assert_client_gone(node: RunningNode, job_id: str) -> None:
    """The job ended `failed` because the client left (had the node missed it, the job would stay `running`
    or end `success`), and nothing is left pending."""
    job = wait_for_job(node.url, job_id, timeout=10)
    assert job == {"id": job_id, "status": "failed", "result": {"container": TGI, "error": CLIENT_GONE}}
    assert httpx_calls.get(f"{node.url}/info").json()["pending"] == {"offchain": 0, "onchain": 0}
    assert httpx_calls.get(f"{node.url}/health").json() == {"status": "healthy"}
    assert f"job {job_id} failed (stream): {CLIENT_GONE} (client 127.0.0.1)" in node.log_text()


def test_disconnect_before_the_first_chunk(node: RunningNode, backend: DevBackendHandle) -> None:
    backend.inject(latency_ms=3000)
    before = set(running_ids(node))
    payload = json.dumps(BODY).encode()
    request = (
        f"POST /api/jobs/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as raw:
        raw.sendall(request)
        new = wait_until(
            lambda: set(running_ids(node)) - before, timeout=5, interval=0.02, what="the stream job to be recorded"
        )
        (job_id,) = new
        raw.settimeout(0.2)
        with pytest.raises(TimeoutError):
            raw.recv(1)  # the node has sent nothing yet: the backend is still "thinking"
    assert_client_gone(node, job_id)


def read_stream(node: RunningNode, *, extra_bytes: int) -> str:
    """Start a stream, read its id line and then at least `extra_bytes` more, then close the connection."""
    with httpx.Client(timeout=10) as client, client.stream("POST", f"{node.url}/api/jobs/stream", json=BODY) as r:
        assert r.status_code == 200
        received = b""
        for chunk in r.iter_raw():
            received += chunk
            head, newline, rest = received.partition(b"\n")
            if newline and len(rest) >= extra_bytes:
                return head.decode()
    raise AssertionError(f"the stream ended before {extra_bytes} bytes after the id line: {received!r}")


@pytest.mark.parametrize("extra_bytes", [0, 1], ids=["after-the-id-line", "mid-stream"])
def test_disconnect_after_the_stream_began(node: RunningNode, backend: DevBackendHandle, extra_bytes: int) -> None:
    backend.inject(token_delay_ms=200)  # 20 tokens: the whole stream would take 4 s, then end `success`
    job_id = read_stream(node, extra_bytes=extra_bytes)
    assert_client_gone(node, job_id)


def test_a_client_that_stays_gets_the_whole_slow_stream(node: RunningNode, backend: DevBackendHandle) -> None:
    backend.inject(token_delay_ms=20)
    with httpx_calls.stream("POST", f"{node.url}/api/jobs/stream", json=BODY, timeout=10) as r:
        body = r.read().decode()
    job_id, _, text = body.partition("\n")
    assert text == fake_models.generate(PROMPT)
    job: dict[str, Any] = wait_for_job(node.url, job_id)
    assert job["result"] == {"container": TGI, "output": {"output": text}}
    assert httpx_calls.get(f"{node.url}/info").json()["pending"] == {"offchain": 0, "onchain": 0}


def test_a_stream_running_when_the_node_stops_is_recorded_as_it_ended(
    infernet_node: NodeFactory, tgi_service: str, backend: DevBackendHandle
) -> None:
    config = {"containers": [node_container(TGI, tgi_service)]}
    node = infernet_node(config)
    backend.inject(token_delay_ms=100)  # a 2 s stream
    received: list[bytes] = []

    def read_all() -> None:
        with httpx_calls.stream("POST", f"{node.url}/api/jobs/stream", json=BODY, timeout=30) as r:
            for chunk in r.iter_raw():
                received.append(chunk)

    reader = threading.Thread(target=read_all)
    reader.start()
    wait_until(lambda: b"\n" in b"".join(received), timeout=10, interval=0.01, what="the stream to begin")
    node.stop()
    reader.join(timeout=30)
    job_id, _, text = b"".join(received).decode().partition("\n")

    again = infernet_node(config, data_dir=node.data_dir)
    job = wait_for_job(again.url, job_id, timeout=1)
    if job["status"] == "success":  # the server let the stream finish before stopping
        assert job["result"] == {"container": TGI, "output": {"output": text}} and text == fake_models.generate(PROMPT)
    else:
        assert job["result"] == {"container": TGI, "error": CRASH_REASON}
