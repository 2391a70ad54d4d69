"""Hostile request bodies against real processes: the node (with a chain node's eth_account loaded, so py_ecc has
raised the recursion limit to 100,000), both services and the dev backend. Each gets a 4xx JSON answer naming the
problem, loses nothing, and keeps serving with exact pending counts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infernet_kit.polling import wait_until
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.node_fixtures import NodeLauncher, RunningNode, node_container, wait_for_job
from infernet_kit.testing.service_fixtures import DevBackendHandle

DEEP = b"[" * 100_000  # ~70,000 levels is enough to overflow the C stack in json.loads once the limit is raised
HUGE_INT = b"1" + b"0" * 5000  # past Python's 4,300-digit int-string limit
BIG_INT = "9" * 4000  # within it: harmless, accepted
MAX_BODY = 150_000


# What a chain node imports to sign (node/chain/wallet.py) and an off-chain node does not: eth_account, whose
# py_ecc raises the recursion limit. The off-chain node below loads it at start (a `sitecustomize` module on its
# PYTHONPATH), so its parser is tested where `json.loads` would crash.
CHAIN_NODE_IMPORTS = "import infernet_kit.node.chain.wallet\n"


@pytest.fixture(scope="module")
def node(
    node_launcher: NodeLauncher, echo_container: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningNode]:
    site = tmp_path_factory.mktemp("chain-node-imports")
    (site / "sitecustomize.py").write_text(CHAIN_NODE_IMPORTS)
    # Python reports every import of the node process in its log: proof that py_ecc is loaded there.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPROFILEIMPORTTIME", "1")
        patch.setenv("PYTHONPATH", str(site), prepend=os.pathsep)
        yield node_launcher(
            {
                "containers": [node_container("echo", echo_container), node_container("echo2", echo_container)],
                "server": {
                    "rate_limit": {"num_requests": 100_000, "period": 1},
                    "max_body_bytes": MAX_BODY,
                    "max_batch_jobs": 5,
                    "max_containers_per_job": 3,
                },
            }
        )


def send(node: RunningNode, method: str, path: str, raw: bytes) -> httpx.Response:
    headers = {"content-type": "application/json"}
    return httpx_calls.request(method, f"{node.url}{path}", content=raw, headers=headers, timeout=10)


def assert_serving(node: RunningNode) -> None:
    """The process is alive and answers, and no job is left pending."""
    assert node.process.running(), node.log_tail()
    assert httpx_calls.get(f"{node.url}/health", timeout=5).json() == {"status": "healthy"}
    assert httpx_calls.get(f"{node.url}/info", timeout=5).json()["pending"] == {"offchain": 0, "onchain": 0}


def my_jobs(node: RunningNode) -> list[str]:
    ids: list[str] = httpx_calls.get(f"{node.url}/api/jobs", timeout=5).json()
    return ids


def test_the_deep_body_would_crash_a_process_with_the_nodes_imports() -> None:
    """Control: with a chain node's imports the recursion limit is 100,000 and `json.loads` of this body
    segfaults."""
    script = (
        "import sys, json, infernet_kit.node.app\n"
        + CHAIN_NODE_IMPORTS
        + "print(sys.getrecursionlimit(), flush=True)\n"
        "json.loads(sys.stdin.buffer.read())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], input=DEEP, capture_output=True, timeout=60)
    assert result.stdout.split() == [b"100000"]
    assert result.returncode < 0, result.stderr[-500:]  # killed by a signal (SIGSEGV), not a Python error


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/jobs"), ("POST", "/api/jobs/batch"), ("PUT", "/api/status")]
)
def test_deep_nesting_is_400_and_the_node_survives(node: RunningNode, method: str, path: str) -> None:
    assert "py_ecc" in node.log_text()  # the node process has imported it, so its recursion limit is raised
    before = my_jobs(node)
    response = send(node, method, path, DEEP)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Request body is nested too deeply"
    assert body["params"]["max_depth"] == 200
    assert f"{method} {path} from 127.0.0.1 refused: request body is nested deeper than 200 levels" in node.log_text()
    assert my_jobs(node) == before
    assert_serving(node)


@pytest.mark.parametrize("path", ["/api/jobs", "/api/jobs/batch", "/api/jobs/stream"])
def test_oversized_body_is_413_with_and_without_content_length(node: RunningNode, path: str) -> None:
    big = b'{"containers": ["echo"], "data": {"text": "' + b"x" * MAX_BODY + b'"}}'
    response = send(node, "POST", path, big)
    assert response.status_code == 413
    assert response.json() == {"error": "Request body too large", "params": {"limit_bytes": MAX_BODY}}
    chunked = httpx_calls.post(f"{node.url}{path}", content=iter([big[:1000], big[1000:]]), timeout=10)
    assert chunked.status_code == 413 and chunked.json()["params"] == {"limit_bytes": MAX_BODY}
    assert_serving(node)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"containers": ["echo"], "data": {"n": ' + HUGE_INT + b"}}", "Request body has a number out of range"),
        (b'[{"containers": ["echo"], "data": {"n": -' + HUGE_INT + b"}}]", "Request body has a number out of range"),
        (b'{"containers": ["echo"], "data": {"n": 1e999}}', "Request body has a number out of range"),
        (b'{"containers": ["echo"], "data": {"n": NaN}}', "Request body is not valid JSON: expected value"),
        (b'{"containers": ["\\ud800"], "data": {}}', "Request body is not valid JSON: "),
        (b'{"containers": ["\\udc00x"], "data": {}}', "Request body is not valid JSON: lone"),
        (b'{"containers": ["\xff"], "data": {}}', "Request body is not valid JSON: "),
        (b'{"containers": ["\xed\xa0\x80"], "data": {}}', "Request body is not valid JSON: "),
    ],
    ids=[
        "huge-int",
        "huge-int-in-batch",
        "float-overflow",
        "nan",
        "surrogate",
        "lone-low-surrogate",
        "bad-utf8",
        "utf8-surrogate",
    ],
)
def test_bodies_python_cannot_hold_are_400(node: RunningNode, raw: bytes, error: str) -> None:
    before = my_jobs(node)
    path = "/api/jobs/batch" if raw.startswith(b"[") else "/api/jobs"
    response = send(node, "POST", path, raw)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(error)
    assert my_jobs(node) == before
    assert_serving(node)


def test_status_report_with_a_huge_int_is_400_and_records_nothing(node: RunningNode) -> None:
    raw = b'{"id": "huge", "status": "success", "containers": ["echo"], "result": {"n": ' + HUGE_INT + b"}}"
    response = send(node, "PUT", "/api/status", raw)
    assert response.status_code == 400 and response.json()["params"]["max_digits"] == 4300
    assert httpx_calls.get(f"{node.url}/api/jobs", params={"id": "huge"}).json() == []
    assert_serving(node)


def test_big_but_valid_numbers_and_surrogate_pairs_are_accepted(node: RunningNode) -> None:
    raw = b'{"containers": ["echo"], "data": {"n": ' + BIG_INT.encode() + b', "s": "\\ud83d\\ude00"}}'
    response = send(node, "POST", "/api/jobs", raw)
    assert response.status_code == 200, response.text
    job = wait_for_job(node.url, response.json()["id"])
    assert job["status"] == "success"
    assert job["result"]["output"]["output"]["received"]["data"] == {"n": int(BIG_INT), "s": "\U0001f600"}
    unknown = send(node, "POST", "/api/jobs", b'{"containers": ["\\ud83d\\ude00"], "data": {}}')
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "Container not supported", "params": {"container": "\U0001f600"}}
    assert_serving(node)


def test_batch_over_the_limit_is_413_and_runs_nothing(node: RunningNode) -> None:
    before = my_jobs(node)
    jobs = [{"containers": ["echo"], "data": {"i": i}} for i in range(6)]
    response = httpx_calls.post(f"{node.url}/api/jobs/batch", json=jobs, timeout=10)
    assert response.status_code == 413
    assert response.json() == {"error": "Too many jobs in one batch", "params": {"limit": 5, "jobs": 6}}
    assert "batch of 6 jobs from 127.0.0.1 refused: over server.max_batch_jobs=5" in node.log_text()
    assert my_jobs(node) == before
    assert_serving(node)


def test_too_many_containers_is_400_naming_the_limit(node: RunningNode) -> None:
    before = my_jobs(node)
    expected = {"error": "Too many containers", "params": {"limit": 3, "containers": 4}}
    chain = {"containers": ["echo", "echo2", "echo", "echo2"], "data": {}}
    for path in ("/api/jobs", "/api/jobs/stream"):
        response = httpx_calls.post(f"{node.url}{path}", json=chain, timeout=10)
        assert (response.status_code, response.json()) == (400, expected)
    batch = httpx_calls.post(f"{node.url}/api/jobs/batch", json=[chain, {"containers": ["echo"] * 10_000, "data": {}}])
    assert batch.status_code == 200
    assert batch.json() == [expected, {"error": "Too many containers", "params": {"limit": 3, "containers": 10_000}}]
    assert my_jobs(node) == before
    assert_serving(node)


def test_unknown_paths_are_echoed_short_and_as_json(node: RunningNode) -> None:
    for path in ("/%ed%a0%80", "/%ff%fe", "/a%00b", "/" + "x" * 5000):
        response = httpx_calls.get(f"{node.url}{path}", timeout=5)
        assert response.status_code == 404
        body = response.json()
        assert body["error"] == "Not Found" and len(body["params"]["path"]) <= 200
    assert httpx_calls.delete(f"{node.url}/api/jobs%ff", timeout=5).status_code == 404
    assert httpx_calls.delete(f"{node.url}/api/jobs", timeout=5).json()["error"] == "Method Not Allowed"
    assert_serving(node)


def get_allowed(url: str, **params: Any) -> Any:
    """GET through a tight rate limit: wait out 429s (the limit refills continuously)."""
    deadline = time.monotonic() + 20
    while (response := httpx_calls.get(url, params=params, timeout=5)).status_code == 429:
        assert time.monotonic() < deadline, "still rate limited"
        time.sleep(float(response.headers["retry-after"]))
    response.raise_for_status()
    return response.json()


def test_each_job_of_a_batch_costs_a_rate_limit_token(node_launcher: NodeLauncher, echo_container: str) -> None:
    limited = node_launcher(
        {
            "containers": [node_container("echo", echo_container)],
            "server": {"rate_limit": {"num_requests": 3, "period": 3}},
        }
    )
    jobs = [{"containers": ["echo"], "data": {"i": i}} for i in range(5)]
    answers = httpx_calls.post(f"{limited.url}/api/jobs/batch", json=jobs, timeout=10).json()
    assert [set(answer) for answer in answers[:3]] == [{"id"}] * 3
    assert [answer["error"] for answer in answers[3:]] == ["Rate limit exceeded"] * 2
    assert answers[3]["params"]["limit"] == 3
    ids = [answer["id"] for answer in answers[:3]]

    def finished() -> list[dict[str, Any]] | None:
        records: list[dict[str, Any]] = get_allowed(f"{limited.url}/api/jobs", id=ids)
        return None if any(job["status"] == "running" for job in records) else records

    records = wait_until(finished, timeout=20, interval=0.2, what="the batch's jobs to finish")
    assert [(job["id"], job["status"]) for job in records] == [(job_id, "success") for job_id in ids]
    assert sorted(get_allowed(f"{limited.url}/api/jobs")) == sorted(ids)  # the refused two were never created
    assert get_allowed(f"{limited.url}/info")["pending"] == {"offchain": 0, "onchain": 0}
    assert limited.process.running()


def service_post(url: str, raw: bytes) -> httpx.Response:
    return httpx_calls.post(f"{url}/service_output", content=raw, timeout=10)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (DEEP, "nested deeper than 200 levels"),
        (b'{"source": 1, "destination": 1, "data": {"text": "hi", "n": ' + HUGE_INT + b"}}", "longer than 4300"),
        (b'{"source": 1, "destination": 1, "data": {"text": "\\ud800"}}', "not valid json"),
        (b'{"source": 1, "destination": 1, "data": {"text": "\xff"}}', "not valid json"),
        (b'{"source": 1, "destination": 1, "data": {"text": "hi", "x": Infinity}}', "not valid json"),
    ],
    ids=["deep", "huge-int", "surrogate", "bad-utf8", "infinity"],
)
def test_services_refuse_hostile_bodies_and_keep_serving(
    tgi_service: str, hf_service: str, dev_backend: DevBackendHandle, raw: bytes, fragment: str
) -> None:
    dev_backend.reset()
    for url in (tgi_service, hf_service):
        response = service_post(url, raw)
        assert response.status_code == 400, response.text
        body: dict[str, Any] = response.json()
        assert body["code"] == "400" and body["name"] == "InvalidJSON"
        assert fragment in body["description"].lower()
        assert httpx_calls.get(f"{url}/", timeout=5).json()["status"] == "ready"
    assert dev_backend.stats()["requests"] == 0  # nothing reached the backend


@pytest.mark.parametrize("path", ["/generate", "/models/some-model", "/_control/faults"])
def test_dev_backend_refuses_hostile_bodies_and_keeps_serving(dev_backend: DevBackendHandle, path: str) -> None:
    dev_backend.reset()
    for raw, fragment in ((DEEP, "nested deeper"), (HUGE_INT, "longer than 4300"), (b'"\\ud800"', "not valid JSON")):
        response = httpx_calls.post(f"{dev_backend.url}{path}", content=raw, timeout=10)
        assert response.status_code == 400, response.text
        assert fragment in response.json()["error"]
    assert dev_backend.process.running()
    assert httpx_calls.get(f"{dev_backend.url}/health", timeout=5).status_code == 200
    generated = httpx_calls.post(f"{dev_backend.url}/generate", json={"inputs": "still there?"}, timeout=10)
    assert generated.status_code == 200 and generated.json()["generated_text"]


@pytest.mark.parametrize(
    ("answer", "repeat"), [("[", 100_000), ("1" + "0" * 5000, 1), ("[1, 2", 1)], ids=["deep", "huge-int", "cut"]
)
def test_a_hostile_container_answer_fails_the_job_and_the_node_survives(
    node: RunningNode, answer: str, repeat: int
) -> None:
    """A container's answer is parsed as carefully as a client's body: the job fails naming it, the node lives."""
    created = httpx_calls.post(
        f"{node.url}/api/jobs",
        json={"containers": ["echo"], "data": {"answer_raw": answer, "repeat": repeat}},
        timeout=10,
    )
    assert created.status_code == 200, created.text
    job = wait_for_job(node.url, created.json()["id"])
    assert job["status"] == "failed"
    assert job["result"] == {"container": "echo", "error": "answer is not JSON"}
    assert_serving(node)
