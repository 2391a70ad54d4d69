"""Property-based fuzzing (schemathesis) of every route in the OpenAPI documents the node and both services
serve, against real processes: no 5xx, answers as documented (status, content type, body schema), and every
process still serving afterwards with no job left pending."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from infernet_kit.polling import wait_until
from infernet_kit.testing.node_fixtures import NodeLauncher, RunningNode, node_container
from infernet_kit.testing.service_fixtures import DevBackendHandle

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 25  # per route and generation mode
# Container chains a fuzzed job names instead of its random ones, so that jobs really run (the echo container
# answers with what it received, or fails as the job's data asks).
AnyCase = Case[Any]
Rewrite = Callable[[AnyCase], None]


def job_containers(chain: list[str]) -> Rewrite:
    """Point a fuzzed job (or each job of a fuzzed batch) at configured containers, so that jobs really run
    (the echo container answers with what it received, or fails as the job's data asks)."""

    def rewrite(case: AnyCase) -> None:
        for job in case.body if isinstance(case.body, list) else [case.body]:
            if isinstance(job, dict) and isinstance(job.get("containers"), list):
                job["containers"] = list(chain)

    return rewrite


def service_data(**fields: Any) -> Rewrite:
    """Make a fuzzed service request one the service runs: off-chain input of the right shape (the text stays
    fuzzed when it is one); the destination stays fuzzed."""

    def rewrite(case: AnyCase) -> None:
        if isinstance(case.body, dict):
            data = case.body.get("data")
            text = data if isinstance(data, str) else "fuzz"
            case.body.update(source=1, requires_proof=False, data={"text": text, "prompt": text, **fields})

    return rewrite


NODE_REWRITES = [job_containers(["echo"]), job_containers(["echo", "echo2"]), job_containers(["internal"])]
SERVICE_REWRITES = {
    "tgi": [service_data()],
    "hf": [service_data(task_id=task) for task in (1, 2, 3, 4)],
}


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


def rewritten(case: AnyCase, rewrite: Rewrite | None) -> AnyCase:
    if rewrite is not None:
        rewrite(case)
    if case.operation.path == "/api/events" and str((case.query or {}).get("follow", "true")).lower() == "true":
        # The event feed is endless when followed: ask for its snapshot only (invalid values stay, for a 400).
        case.query = {**(case.query or {}), "follow": "false"}
    return case


def fuzz(url: str, rewrites: list[Rewrite]) -> list[AnyCase]:
    """Run every operation of the document at `url/openapi.json` with generated valid and invalid requests, some
    of them passed through one of `rewrites`; the cases run, for the caller's own checks."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    sent: list[AnyCase] = []
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results) >= 3, [o.label for o in operations]  # all but /openapi.json
    for operation in operations:
        # Invalid requests need something to get wrong: a body or a query parameter.
        variable = any(True for _ in operation.iter_parameters()) or bool(operation.get_request_payload_content_types())
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if variable else [GenerationMode.POSITIVE]
        for mode in modes:
            strategy = operation.as_strategy(generation_mode=mode)
            strategy = st.builds(rewritten, strategy, st.sampled_from([None, *rewrites]))

            @given(strategy)
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: AnyCase) -> None:
                sent.append(case)
                case.call_and_validate(base_url=url, checks=CHECKS, timeout=10)

            run()
    return sent


def test_fuzz_node_api(node: RunningNode) -> None:
    cases = fuzz(node.url, NODE_REWRITES)
    ran_jobs = [c for c in cases if c.operation.path == "/api/jobs" and c.method == "POST"]
    assert ran_jobs, "no job request was generated"
    assert node.process.running(), node.log_tail()
    assert httpx.get(f"{node.url}/health", timeout=5).json() == {"status": "healthy"}
    # Jobs still running finish within their container's timeout (2 s); then nothing is pending.
    wait_until(
        lambda: httpx.get(f"{node.url}/info", timeout=5).json()["pending"] == {"offchain": 0, "onchain": 0},
        timeout=20,
        what="no job pending on the node",
    )
    running = httpx.get(f"{node.url}/api/jobs", params={"pending": "true"}, timeout=5).json()
    reported = {
        c.body["id"]
        for c in cases
        if c.operation.path == "/api/status" and isinstance(c.body, dict) and isinstance(c.body.get("id"), str)
    }
    assert set(running) <= reported  # only jobs a status report left `running` (their reporter's to finish)
    assert "Traceback" not in node.log_text()


@pytest.mark.parametrize("kind", ["tgi", "hf"])
def test_fuzz_service_api(request: pytest.FixtureRequest, dev_backend: DevBackendHandle, kind: str) -> None:
    url: str = request.getfixturevalue(f"{kind}_service")
    fuzz(url, SERVICE_REWRITES[kind])
    assert httpx.get(f"{url}/", timeout=5).json()["status"] == "ready"
    assert httpx.get(f"{dev_backend.url}/health", timeout=5).status_code == 200


def operations_of(url: str) -> set[tuple[str, str]]:
    document = httpx.get(f"{url}/openapi.json", timeout=5).json()
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
    document = httpx.get(f"{node.url}/openapi.json").json()
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
