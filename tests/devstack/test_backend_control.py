"""The dev backend's control endpoint tells a test which client a slowed request came from: `held_ports` lists
the client ports of the requests an injected latency holds, and drops each one when its answer goes out."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

from infernet_kit.polling import wait_until
from infernet_kit.testing.service_fixtures import DevBackendHandle


def test_held_ports_name_the_client_a_slowed_request_came_from(backend: DevBackendHandle) -> None:
    backend.inject(latency_ms=1500)
    host, port = backend.url.removeprefix("http://").split(":")
    body = b'{"inputs": "hi", "parameters": {"max_new_tokens": 2}}'
    with socket.create_connection((host, int(port)), timeout=10) as client, ThreadPoolExecutor(1) as pool:
        client_port = client.getsockname()[1]
        request = b"POST /generate HTTP/1.1\r\nhost: backend\r\ncontent-type: application/json\r\n"
        client.sendall(request + b"content-length: %d\r\n\r\n" % len(body) + body)
        answer = pool.submit(client.recv, 65536)
        assert wait_until(lambda: backend.stats()["held_ports"], timeout=5, what="the request held by the latency") == [
            client_port
        ]
        assert answer.result(timeout=10).startswith(b"HTTP/1.1 200")
    assert backend.stats()["held_ports"] == []
