"""Property-based fuzzing (schemathesis) of every route in the OpenAPI documents the node and both services
serve, against real processes: no 5xx, answers as documented (status, content type, body schema), and every
process still serving afterwards with no job left pending. The fuzzing itself is api_fuzzing.py."""

from __future__ import annotations

import pytest

from infernet_kit.polling import wait_until
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.node_fixtures import NodeLauncher, RunningNode, node_container
from infernet_kit.testing.service_fixtures import DevBackendHandle


@pytest.fixture(scope="module")
def node(node_launcher: NodeLauncher, echo_container: str) -> RunningNode:
    return node_launcher(
        {
            "containers": [
                node_container("echo", echo_container, timeout=2),
                node_container("echo2", echo_container, timeout=2),
                node_container("internal", echo_container, external=False, timeout=2),
            ],
            "server": {"rate_limit": {"num_requests": 1_000_000, "period": 1}},
        }
    )


def test_fuzz_node_api(node: RunningNode) -> None:
    from api_fuzzing import NODE_REWRITES, fuzz

    cases = fuzz(node.url, NODE_REWRITES)
    ran_jobs = [c for c in cases if c.operation.path == "/api/jobs" and c.method == "POST"]
    assert ran_jobs, "no job request was generated"
    assert node.process.running(), node.log_tail()
    assert httpx_calls.get(f"{node.url}/health", timeout=5).json() == {"status": "healthy"}
    # Jobs still running finish within their container's timeout (2 s); then nothing is pending.
    wait_until(
        lambda: httpx_calls.get(f"{node.url}/info", timeout=5).json()["pending"] == {"offchain": 0, "onchain": 0},
        timeout=20,
        what="no job pending on the node",
    )
    running = httpx_calls.get(f"{node.url}/api/jobs", params={"pending": "true"}, timeout=5).json()
    reported = {
        c.body["id"]
        for c in cases
        if c.operation.path == "/api/status" and isinstance(c.body, dict) and isinstance(c.body.get("id"), str)
    }
    assert set(running) <= reported  # only jobs a status report left `running` (their reporter's to finish)
    assert "Traceback" not in node.log_text()


@pytest.mark.parametrize("kind", ["tgi", "hf"])
def test_fuzz_service_api(request: pytest.FixtureRequest, dev_backend: DevBackendHandle, kind: str) -> None:
    from api_fuzzing import SERVICE_REWRITES, fuzz

    url: str = request.getfixturevalue(f"{kind}_service")
    fuzz(url, SERVICE_REWRITES[kind])
    assert httpx_calls.get(f"{url}/", timeout=5).json()["status"] == "ready"
    assert httpx_calls.get(f"{dev_backend.url}/health", timeout=5).status_code == 200


def operations_of(url: str) -> set[tuple[str, str]]:
    document = httpx_calls.get(f"{url}/openapi.json", timeout=5).json()
    assert document["openapi"] == "3.1.0"
    return {(method.upper(), path) for path, entry in document["paths"].items() for method in entry}


def test_documents_describe_every_route(node: RunningNode, tgi_service: str, hf_service: str) -> None:
    assert operations_of(node.url) == {
        ("GET", "/health"),
        ("GET", "/info"),
        ("GET", "/resources"),
        ("GET", "/api/jobs"),
        ("POST", "/api/jobs"),
        ("POST", "/api/jobs/batch"),
        ("POST", "/api/jobs/stream"),
        ("PUT", "/api/status"),
        ("GET", "/api/subscriptions"),
        ("GET", "/metrics"),
        ("GET", "/api/events"),
        ("GET", "/dashboard"),
        ("GET", "/dashboard/dashboard.css"),
        ("GET", "/dashboard/dashboard.js"),
        ("GET", "/openapi.json"),
    }
    document = httpx_calls.get(f"{node.url}/openapi.json").json()
    body = document["paths"]["/api/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert [option["$ref"].rsplit("/", 1)[1] for option in body["anyOf"]] == [
        "OffchainJobRequest",
        "DelegatedJobRequest",
    ]
    for url in (tgi_service, hf_service):
        assert operations_of(url) == {
            ("GET", "/"),
            ("GET", "/service-resources"),
            ("POST", "/service_output"),
            ("GET", "/metrics"),
            ("GET", "/openapi.json"),
        }
