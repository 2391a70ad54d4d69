"""Two REST replicas of one node (two node processes) on one PostgreSQL job store: one client's jobs, run by
either, are read through both, and a held read on one replica answers when the other replica's job ends."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from infernet_kit.testing import httpx_calls
from infernet_kit.testing.node_fixtures import NodeFactory, RunningNode, node_container, wait_for_job


def test_replicas_read_each_others_jobs(infernet_node: NodeFactory, echo_container: str, postgres_dsn: str) -> None:
    def config(name: str) -> dict[str, Any]:
        return {
            "containers": [node_container("echo", echo_container)],
            "job_store": {"dsn": postgres_dsn, "replica": name},
        }

    with ThreadPoolExecutor(2) as both:  # started and stopped together: a node's start and stop are mostly waiting
        a, b = both.map(infernet_node, [config("a"), config("b")])
    on_a = httpx_calls.post(f"{a.url}/api/jobs", json={"containers": ["echo"], "data": {"sleep": 0.5}}).json()["id"]
    held = httpx_calls.get(f"{b.url}/api/jobs", params={"id": on_a, "wait": "20"}, timeout=30)
    (seen,) = held.json()  # b waits for a's job (polling the shared table) and answers when it ends
    assert seen["status"] == "success" and seen["result"]["output"]["output"]["received"]["data"] == {"sleep": 0.5}
    assert held.elapsed.total_seconds() < 10

    on_b = httpx_calls.post(f"{b.url}/api/jobs", json={"containers": ["echo"], "data": {"n": 2}}).json()["id"]
    assert wait_for_job(a.url, on_b)["result"]["output"]["output"]["received"]["data"] == {"n": 2}
    assert httpx_calls.get(f"{a.url}/api/jobs").json() == httpx_calls.get(f"{b.url}/api/jobs").json() == [on_a, on_b]
    assert "job store: PostgreSQL (replica a)" in a.log_text()
    with ThreadPoolExecutor(2) as both:
        list(both.map(RunningNode.stop, [a, b]))
