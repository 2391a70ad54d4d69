"""The node's REST API through a real node process and a real container (the echo container)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from infernet_kit.client.node import NodeClient
from infernet_kit.polling import wait_until
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.node_fixtures import NodeLauncher, RunningNode, node_container, wait_for_job


@pytest.fixture(scope="module")
def node(node_launcher: NodeLauncher, echo_container: str) -> RunningNode:
    return node_launcher(
        {
            "containers": [
                node_container("echo", echo_container, description="echoes its input"),
                node_container("echo2", echo_container),
                node_container("internal", echo_container, external=False),
                node_container("prover", echo_container, generates_proofs=True),
                node_container("lan-only", echo_container, allowed_ips=["10.0.0.0/8"]),
                node_container("local-only", echo_container, allowed_ips=["127.0.0.0/8"]),
                node_container("slow", echo_container, timeout=0.5),
            ],
            "server": {"rate_limit": {"num_requests": 100000, "period": 1}, "max_body_bytes": 4096},
        }
    )


def post(node: RunningNode, path: str, body: Any = None, **kw: Any) -> httpx.Response:
    if body is not None:
        kw["json"] = body
    return httpx_calls.post(f"{node.url}{path}", timeout=10, **kw)


def test_health_info_resources(node: RunningNode) -> None:
    assert httpx_calls.get(f"{node.url}/health").json() == {"status": "healthy"}
    info = httpx_calls.get(f"{node.url}/info").json()
    assert info["chain"] == {"enabled": False, "address": "", "judged_block": None}
    assert info["pending"] == {"offchain": 0, "onchain": 0}
    assert {"id": "echo", "description": "echoes its input", "external": True, "image": "infernet-kit/echo"} in info[
        "containers"
    ]
    resources = httpx_calls.get(f"{node.url}/resources").json()
    assert resources["echo"]["service_id"] == "echo"
    assert httpx_calls.get(f"{node.url}/resources", params={"model_id": "echo"}).json()["echo"] == {"supported": True}


def test_offchain_job_and_ids_of_the_caller(node: RunningNode) -> None:
    response = post(node, "/api/jobs", {"containers": ["echo"], "data": {"text": "hi"}})
    assert response.status_code == 200
    job_id = response.json()["id"]
    job = wait_for_job(node.url, job_id)
    assert job == {
        "id": job_id,
        "status": "success",
        "result": {
            "container": "echo",
            "output": {
                "output": {
                    "received": {"source": 1, "destination": 1, "data": {"text": "hi"}, "requires_proof": False},
                    "authorization": None,
                }
            },
        },
    }
    assert job_id in httpx_calls.get(f"{node.url}/api/jobs").json()
    assert job_id in httpx_calls.get(f"{node.url}/api/jobs", params={"pending": "false"}).json()
    assert job_id not in httpx_calls.get(f"{node.url}/api/jobs", params={"pending": "true"}).json()


def test_client_chosen_id_and_ip_in_the_body_are_ignored(node: RunningNode) -> None:
    response = post(node, "/api/jobs", {"containers": ["lan-only"], "data": {}, "id": "mine", "ip": "10.1.2.3"})
    assert response.status_code == 403
    assert response.json() == {
        "error": "Container not allowed for address",
        "params": {"container": "lan-only", "address": "127.0.0.1"},
    }
    forwarded = post(
        node, "/api/jobs", {"containers": ["lan-only"], "data": {}}, headers={"X-Forwarded-For": "10.1.2.3"}
    )
    assert forwarded.status_code == 403
    accepted = post(node, "/api/jobs", {"containers": ["local-only"], "data": {}, "id": "mine"})
    assert accepted.status_code == 200 and accepted.json()["id"] != "mine"


def test_chained_job_with_intermediate_results(node: RunningNode) -> None:
    job_id = post(node, "/api/jobs", {"containers": ["echo", "echo2"], "data": {"n": 7}}).json()["id"]
    job = wait_for_job(node.url, job_id, intermediate=True)
    assert job["status"] == "success"
    (first,) = job["intermediate_results"]
    assert first["container"] == "echo"
    assert job["result"]["container"] == "echo2"
    assert job["result"]["output"]["output"]["received"]["data"] == first["output"]
    without = httpx_calls.get(f"{node.url}/api/jobs", params={"id": job_id}).json()[0]
    assert "intermediate_results" not in without


def test_failing_container_fails_the_job_with_its_description(node: RunningNode) -> None:
    job_id = post(node, "/api/jobs", {"containers": ["echo", "echo2"], "data": {"fail": 500, "description": "boom"}})
    job = wait_for_job(node.url, job_id.json()["id"], intermediate=True)
    assert job["status"] == "failed"
    assert job["result"] == {"container": "echo", "error": "boom"}
    assert job["intermediate_results"] == []
    timed_out = wait_for_job(
        node.url, post(node, "/api/jobs", {"containers": ["slow"], "data": {"sleep": 3}}).json()["id"]
    )
    assert timed_out["status"] == "failed" and "within 0.5s" in timed_out["result"]["error"]


def test_batch_answers_each_request_in_order(node: RunningNode) -> None:
    response = post(
        node,
        "/api/jobs/batch",
        [
            {"containers": ["echo"], "data": {"i": 0}},
            {"containers": ["nope"], "data": {}},
            {"containers": "echo", "data": {}},
            {"containers": [], "data": {}},
            {"containers": ["internal"], "data": {}},
            {"containers": ["echo"], "data": {}, "requires_proof": True},
            {"subscription": {}, "signature": {}, "data": {}},
            {"containers": ["echo2"], "data": {"i": 1}},
        ],
    )
    assert response.status_code == 200
    answers = response.json()
    assert set(answers[0]) == {"id"} and set(answers[7]) == {"id"}
    assert answers[1] == {"error": "Container not supported", "params": {"container": "nope"}}
    assert answers[2]["error"].startswith("Invalid job request: containers: ")
    assert answers[3] == {"error": "No containers specified", "params": {}}
    assert answers[4] == {"error": "First container must be external", "params": {"container": "internal"}}
    assert answers[5] == {"error": "Container does not generate proof", "params": {"container": "echo"}}
    assert answers[6]["error"].startswith("Invalid delegated subscription request: ")
    results = [wait_for_job(node.url, answers[i]["id"]) for i in (0, 7)]
    assert [r["result"]["output"]["output"]["received"]["data"] for r in results] == [{"i": 0}, {"i": 1}]


def test_stream_sends_the_id_then_the_bytes(node: RunningNode) -> None:
    with httpx_calls.stream(
        "POST", f"{node.url}/api/jobs/stream", json={"containers": ["echo"], "data": {"s": 1}}
    ) as r:
        assert r.status_code == 200
        body = r.read()
    job_id, _, streamed = body.partition(b"\n")
    answer = json.loads(streamed)
    assert answer["output"]["received"] == {"source": 1, "destination": 2, "data": {"s": 1}, "requires_proof": False}
    job = wait_for_job(node.url, job_id.decode())
    assert job["status"] == "success" and job["result"] == {
        "container": "echo",
        "output": {"output": streamed.decode()},
    }
    failed = post(node, "/api/jobs/stream", {"containers": ["echo"], "data": {"fail": 400, "description": "no"}})
    assert failed.status_code == 400 and failed.json()["error"] == "no"
    assert wait_for_job(node.url, failed.json()["params"]["id"])["result"] == {"container": "echo", "error": "no"}


def test_delegated_request_without_chain(node: RunningNode) -> None:
    body = {
        "subscription": {
            "owner": "0x" + "11" * 20,
            "active_at": 0,
            "period": 0,
            "frequency": 1,
            "redundancy": 1,
            "containers": "0x" + "22" * 32,
            "lazy": False,
            "verifier": "0x" + "00" * 20,
            "payment_amount": 0,
            "payment_token": "0x" + "00" * 20,
            "wallet": "0x" + "00" * 20,
        },
        "signature": {"nonce": 1, "expiry": 2**31, "v": 27, "r": 1, "s": 2},
        "data": {},
    }
    response = post(node, "/api/jobs", body)
    assert (response.status_code, response.json()["error"]) == (400, "Chain not enabled")
    body["subscription"]["owner"] = "0x12"  # type: ignore[index]
    bad = post(node, "/api/jobs", body)
    assert bad.status_code == 400 and "owner" in bad.json()["error"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "Request body is empty"),
        (b"{not json", "Request body is not valid JSON"),
        (b"[1, 2]", "Invalid job request: expected a JSON object"),
        (b'{"data": {}}', "Invalid job request: containers: Field required"),
        (b'{"containers": ["echo"], "data": "text"}', "Invalid job request: data: "),
        (b'{"containers": ["echo"], "data": {}, "requires_proof": "maybe"}', "Invalid job request: requires_proof: "),
        (b'{"containers": [1], "data": {}}', "Invalid job request: containers[0]: "),
        (b"\xff\xfe", "Request body is not valid JSON"),
    ],
)
def test_malformed_bodies_are_400_with_the_reason(node: RunningNode, raw: bytes, reason: str) -> None:
    response = post(node, "/api/jobs", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"].startswith(reason)


def test_body_limit_is_413_with_and_without_content_length(node: RunningNode) -> None:
    big = {"containers": ["echo"], "data": {"text": "x" * 5000}}
    response = post(node, "/api/jobs", big)
    assert response.status_code == 413
    assert response.json() == {"error": "Request body too large", "params": {"limit_bytes": 4096}}

    def chunks() -> Any:
        yield json.dumps(big).encode()

    chunked = post(node, "/api/jobs", content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413
    assert httpx_calls.get(f"{node.url}/health").status_code == 200


def test_unknown_routes_and_methods_answer_json(node: RunningNode) -> None:
    missing = httpx_calls.get(f"{node.url}/nope")
    assert missing.status_code == 404 and "error" in missing.json()
    wrong = httpx_calls.delete(f"{node.url}/api/jobs")
    assert wrong.status_code == 405 and wrong.json()["error"] == "Method Not Allowed"
    assert httpx_calls.get(f"{node.url}/api/jobs", params={"pending": "perhaps"}).status_code == 400


def test_waiting_read_answers_when_the_job_ends(node: RunningNode, echo_container: str) -> None:
    data = {"hold": "waiting-read"}  # the echo container answers once the test releases it
    job_id = post(node, "/api/jobs", {"containers": ["echo"], "data": data}).json()["id"]
    (before,) = httpx_calls.get(f"{node.url}/api/jobs", params={"id": job_id}).json()
    assert before["status"] == "running"  # a plain read answers at once...
    # ...a held one is in the node's socket (loopback delivers before `sendall` returns) before the job can end.
    with socket.create_connection(("127.0.0.1", node.port), timeout=30) as held:
        held.sendall(f"GET /api/jobs?id={job_id}&wait=20 HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n".encode())
        released = time.monotonic()
        assert httpx_calls.post(f"{echo_container}/release/waiting-read", timeout=10).status_code == 200
        answer = b"".join(iter(lambda: held.recv(65536), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"x-infernet-wait: 20" in head.lower()
    (after,) = json.loads(body)  # it brings the job's end, long before the 20 s asked for
    assert after["status"] == "success" and after["result"]["output"]["output"]["received"]["data"] == data
    assert time.monotonic() - released < 10


def test_waiting_read_ends_at_its_wait_with_the_running_record(node: RunningNode) -> None:
    job_id = post(node, "/api/jobs", {"containers": ["echo"], "data": {"sleep": 3}}).json()["id"]
    held = httpx_calls.get(f"{node.url}/api/jobs", params={"id": job_id, "wait": "0.2"})
    assert held.json() == [{"id": job_id, "status": "running", "result": None}]
    assert held.headers["x-infernet-wait"] == "0.2"
    # Longer waits are cut to 30 s; an unknown id has nothing to wait for.
    cut = httpx_calls.get(f"{node.url}/api/jobs", params={"id": "unknown", "wait": "1e9"})
    assert cut.json() == [] and cut.headers["x-infernet-wait"] == "30"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"id": "x", "wait": "-1"}, "Invalid wait"),
        ({"id": "x", "wait": "soon"}, "Invalid wait"),
        ({"id": "x", "wait": "nan"}, "Invalid wait"),
        ({"wait": "1"}, "wait applies to a read of jobs by id"),
    ],
)
def test_bad_wait_is_400_naming_it(node: RunningNode, params: dict[str, str], reason: str) -> None:
    response = httpx_calls.get(f"{node.url}/api/jobs", params=params)
    assert response.status_code == 400
    assert response.json()["error"].startswith(reason) and response.json()["params"] == {"wait": params["wait"]}


# The waiting POST: `POST /api/jobs?wait=<s>` creates the job as a plain POST does and answers with its record
# once it ends (or the wait passes), as a waiting read of its id would.


def test_waiting_post_answers_with_the_result(node: RunningNode) -> None:
    job = {"containers": ["echo", "echo2"], "data": {"n": 3}}
    response = post(node, "/api/jobs", job, params={"wait": "20", "intermediate": "true"})
    assert response.status_code == 200 and response.headers["x-infernet-wait"] == "20"
    answer = response.json()
    assert answer["status"] == "success" and answer["result"]["container"] == "echo2"
    assert answer["result"]["output"]["output"]["received"]["data"] == answer["intermediate_results"][0]["output"]
    # One shape: the record a read of its id gives, with and without intermediate results.
    read = {"id": answer["id"], "intermediate": "true"}
    assert httpx_calls.get(f"{node.url}/api/jobs", params=read).json() == [answer]
    plain = post(node, "/api/jobs", job, params={"wait": "20"})
    assert plain.json() == httpx_calls.get(f"{node.url}/api/jobs", params={"id": plain.json()["id"]}).json()[0]
    assert "intermediate_results" not in plain.json() and plain.json()["status"] == "success"


def test_waiting_post_ends_at_its_wait_with_the_running_record(node: RunningNode, echo_container: str) -> None:
    data = {"hold": "waiting-post"}  # the echo container answers once the test releases it
    response = post(node, "/api/jobs", {"containers": ["echo"], "data": data}, params={"wait": "0.2"})
    assert response.status_code == 200 and response.headers["x-infernet-wait"] == "0.2"
    job_id = response.json()["id"]
    assert response.json() == {"id": job_id, "status": "running", "result": None}
    assert httpx_calls.post(f"{echo_container}/release/waiting-post", timeout=10).status_code == 200
    job = wait_for_job(node.url, job_id)
    assert job["status"] == "success" and job["result"]["output"]["output"]["received"]["data"] == data


def test_post_without_wait_answers_the_id_alone(node: RunningNode) -> None:
    response = post(node, "/api/jobs", {"containers": ["echo"], "data": {}}, params={"other": "1"})
    assert list(response.json()) == ["id"] and "x-infernet-wait" not in response.headers


DELEGATED = {"subscription": {}, "signature": {}, "data": {}}
WAIT_ELSEWHERE = "wait applies to one off-chain job's POST /api/jobs or to a read of jobs by id"


@pytest.mark.parametrize(
    ("path", "wait", "body", "reason"),
    [
        ("/api/jobs", "-1", {"containers": ["echo"], "data": {}}, "Invalid wait"),
        ("/api/jobs", "soon", {"containers": ["echo"], "data": {}}, "Invalid wait"),
        ("/api/jobs", "inf", {"containers": ["echo"], "data": {}}, "Invalid wait"),
        ("/api/jobs", "1", DELEGATED, WAIT_ELSEWHERE),
        ("/api/jobs/batch", "1", [{"containers": ["echo"], "data": {}}], WAIT_ELSEWHERE),
        ("/api/jobs/batch", "nan", [{"containers": ["echo"], "data": {}}], "Invalid wait"),
        ("/api/jobs/stream", "1", {"containers": ["echo"], "data": {}}, WAIT_ELSEWHERE),
    ],
)
def test_bad_or_misplaced_wait_on_a_post_is_400_naming_it(
    node: RunningNode, path: str, wait: str, body: Any, reason: str
) -> None:
    before = httpx_calls.get(f"{node.url}/api/jobs").json()
    response = post(node, path, body, params={"wait": wait})
    assert response.status_code == 400
    assert response.json()["error"].startswith(reason) and response.json()["params"] == {"wait": wait}
    assert httpx_calls.get(f"{node.url}/api/jobs").json() == before  # no job was created


def test_a_held_post_whose_client_goes_away_completes_and_is_stored(
    infernet_node: Any, echo_container: str, tmp_path: Path
) -> None:
    config = {"containers": [node_container("echo", echo_container)]}
    first = infernet_node(config, data_dir=tmp_path)
    data = {"hold": "held-post-gone"}
    body = json.dumps({"containers": ["echo"], "data": data}).encode()
    with socket.create_connection(("127.0.0.1", first.port), timeout=30) as held:
        head = f"POST /api/jobs?wait=20 HTTP/1.1\r\nHost: node\r\nContent-Length: {len(body)}\r\n\r\n"
        held.sendall(head.encode() + body)
        (job_id,) = wait_until(
            lambda: httpx_calls.get(f"{first.url}/api/jobs", params={"pending": "true"}).json(),
            timeout=10,
            what="the held job to be running",
        )
    # The client has gone while its answer was held; the job ends afterwards.
    assert httpx_calls.post(f"{echo_container}/release/held-post-gone", timeout=10).status_code == 200
    job = wait_for_job(first.url, job_id)
    assert job["status"] == "success" and job["result"]["output"]["output"]["received"]["data"] == data
    first.stop()
    log = first.log_text()
    assert f"job {job_id} success" in log and "ERROR" not in log and "Traceback" not in log
    # Stored: a node started on the same data reads it from the table.
    second = infernet_node(config, data_dir=tmp_path)
    assert httpx_calls.get(f"{second.url}/api/jobs", params={"id": job_id}).json() == [job]


def test_status_reports_from_local_clients(node: RunningNode) -> None:
    report = {
        "id": "external-1",
        "status": "success",
        "containers": ["echo"],
        "result": {"container": "echo", "output": 1},
    }
    assert httpx_calls.put(f"{node.url}/api/status", json=report).json() == {}
    job = wait_for_job(node.url, "external-1")
    assert job["result"] == {"container": "echo", "output": 1}
    bad = httpx_calls.put(f"{node.url}/api/status", json={"id": "x", "status": "done", "containers": []})
    assert bad.status_code == 400 and "status" in bad.json()["error"]


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_local_only_routes_refuse_a_non_local_address(node: RunningNode) -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport) as client:
        url = node.url.replace("127.0.0.1", address)
        response = client.put(f"{url}/api/status", json={"id": "x", "status": "success", "containers": ["echo"]})
        assert response.status_code == 403
        assert response.json()["params"] == {"address": address}
        refused = client.post(f"{url}/api/jobs", json={"containers": ["local-only"], "data": {}})
        assert refused.status_code == 403 and refused.json()["params"]["address"] == address
        # The event feed shows every client's jobs: local clients only (the page itself is static).
        feed = client.get(f"{url}/api/events")
        assert feed.status_code == 403 and feed.json()["params"] == {"address": address}
        assert client.get(f"{url}/dashboard").status_code == 200


def test_rate_limit_per_client(infernet_node: Any, echo_container: str) -> None:
    limited = infernet_node(
        {
            "containers": [node_container("echo", echo_container)],
            "server": {"rate_limit": {"num_requests": 5, "period": 60}},
        }
    )
    codes = [httpx_calls.get(f"{limited.url}/api/jobs").status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    refused = post(limited, "/api/jobs", {"containers": ["echo"], "data": {}})
    assert refused.status_code == 429
    assert refused.json()["error"] == "Rate limit exceeded"
    assert refused.json()["params"]["limit"] == 5
    assert int(refused.headers["retry-after"]) >= 1
    assert httpx_calls.get(f"{limited.url}/health").status_code == 200


# The kit's client: `run_job` is one waiting POST on this node; `get_job_result_sync` makes one held read (`wait`).
# A node that does not know `wait` on a POST (an older kit node) answers the id alone, and one that does not know
# it at all (Ritual's reference) is polled: a transport that leaves `wait` out shows how the client meets each.

CLIENT_SLEEP = 0.4  # seconds the echo container takes: several polls' worth


class CountingTransport(httpx.AsyncBaseTransport):
    """The real HTTP transport, recording each request to `/api/jobs`; `wait` is left out of those whose method
    is in `drop_wait`, as a node that does not know it ignores it."""

    def __init__(self, *, drop_wait: tuple[str, ...] = ()) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._drop_wait = drop_wait
        self.exchanges: list[tuple[str, httpx.URL]] = []

    @property
    def job_reads(self) -> list[httpx.URL]:
        return [url for method, url in self.exchanges if method == "GET"]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/jobs":
            if request.method in self._drop_wait:
                request.url = request.url.copy_remove_param("wait")
            self.exchanges.append((request.method, request.url))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def finished_job(node: RunningNode, transport: CountingTransport) -> dict[str, Any]:
    async with NodeClient(node.url, transport=transport) as client:
        job_id = await client.request_job("echo", {"sleep": CLIENT_SLEEP})
        job = await client.get_job_result_sync(job_id)
    assert job is not None and job["status"] == "success", job
    return dict(job)


async def test_one_held_read_gets_the_result(node: RunningNode) -> None:
    transport = CountingTransport()
    job = await finished_job(node, transport)
    assert job["result"]["output"]["output"]["received"]["data"] == {"sleep": CLIENT_SLEEP}
    assert len(transport.job_reads) == 1, transport.job_reads
    assert transport.job_reads[0].params.get("wait") is not None


async def test_a_node_that_answers_at_once_is_polled(node: RunningNode) -> None:
    transport = CountingTransport(drop_wait=("GET",))
    await finished_job(node, transport)
    assert len(transport.job_reads) > 1, transport.job_reads
    assert all("wait" not in url.params for url in transport.job_reads)


async def run_job(node: RunningNode, transport: CountingTransport) -> list[str]:
    """`run_job` of a job that takes `CLIENT_SLEEP`: its result checked, the methods of its exchanges."""
    async with NodeClient(node.url, transport=transport) as client:
        job = await client.run_job("echo", {"sleep": CLIENT_SLEEP})
    assert job["status"] == "success", job
    assert job["result"]["output"]["output"]["received"]["data"] == {"sleep": CLIENT_SLEEP}  # type: ignore[typeddict-item]
    return [method for method, _ in transport.exchanges]


async def test_run_job_is_one_exchange(node: RunningNode) -> None:
    transport = CountingTransport()
    assert await run_job(node, transport) == ["POST"]
    assert transport.exchanges[0][1].params["wait"] == "5.000"


async def test_run_job_on_a_node_without_the_waiting_post_makes_one_waiting_read(node: RunningNode) -> None:
    transport = CountingTransport(drop_wait=("POST",))
    assert await run_job(node, transport) == ["POST", "GET"]
    assert transport.job_reads[0].params.get("wait") is not None


async def test_run_job_on_a_node_that_ignores_wait_polls(node: RunningNode) -> None:
    transport = CountingTransport(drop_wait=("POST", "GET"))
    methods = await run_job(node, transport)
    assert methods[0] == "POST" and len(methods) > 2 and set(methods[1:]) == {"GET"}, methods


async def test_run_job_times_out_naming_the_job(node: RunningNode, echo_container: str) -> None:
    transport = CountingTransport()
    async with NodeClient(node.url, transport=transport) as client:
        with pytest.raises(TimeoutError, match=r"job \S+ still running after 0.3s"):
            await client.run_job("echo", {"hold": "run-job-timeout"}, wait=0.3)
    assert httpx_calls.post(f"{echo_container}/release/run-job-timeout", timeout=10).status_code == 200
    # The held POST answered `running` at its wait; one last read found it still running.
    assert [method for method, _ in transport.exchanges] == ["POST", "GET"]
