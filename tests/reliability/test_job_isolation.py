"""Off-chain jobs belong to the client address that created them: another client that knows a job's id (it is
in the logs) can neither read, list nor overwrite it. Two clients on one machine: the node listens on all
addresses and the second client binds its source address to 127.0.0.2 (the loopback range is 127.0.0.0/8)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infernet_kit.polling import wait_until
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.node_fixtures import NodeFactory, NodeLauncher, RunningNode, node_container, wait_for_job
from infernet_kit.tls import tls_context

OTHER = "127.0.0.2"
CONFIG_LIMIT = {"rate_limit": {"num_requests": 100000, "period": 1}}


@pytest.fixture(scope="module")
def node(node_launcher: NodeLauncher, echo_container: str) -> RunningNode:
    return node_launcher(
        {
            "containers": [
                node_container("echo", echo_container),
                node_container("other-only", echo_container, allowed_ips=[f"{OTHER}/32"]),
            ],
            "server": CONFIG_LIMIT,
        }
    )


@pytest.fixture
def other() -> Iterator[httpx.Client]:
    """A client whose connections come from 127.0.0.2."""
    with httpx.Client(transport=httpx.HTTPTransport(local_address=OTHER, verify=tls_context()), timeout=10) as client:
        yield client


def submit(url: str, data: dict[str, Any], client: httpx.Client | None = None) -> str:
    post = client.post if client is not None else httpx.post
    response = post(f"{url}/api/jobs", json={"containers": ["echo"], "data": data}, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def jobs(url: str, client: httpx.Client | None = None, **params: Any) -> Any:
    get = client.get if client is not None else httpx.get
    response = get(f"{url}/api/jobs", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def assert_idle(node: RunningNode) -> None:
    assert httpx_calls.get(f"{node.url}/info").json()["pending"] == {"offchain": 0, "onchain": 0}


def wait_for_job_of(node: RunningNode, client: httpx.Client, job_id: str) -> dict[str, Any]:
    """`wait_for_job` for a client on another source address."""

    def finished() -> dict[str, Any] | None:
        (record,) = jobs(node.url, client, id=job_id)
        return None if record["status"] == "running" else dict(record)

    return wait_until(finished, timeout=30, interval=0.02, what=f"job {job_id} to finish")


def test_the_node_sees_two_loopback_clients_as_distinct_peers(node: RunningNode, other: httpx.Client) -> None:
    body = {"containers": ["other-only"], "data": {}}
    refused = httpx_calls.post(f"{node.url}/api/jobs", json=body)
    assert refused.status_code == 403 and refused.json()["params"]["address"] == "127.0.0.1"
    accepted = other.post(f"{node.url}/api/jobs", json=body)
    assert accepted.status_code == 200, accepted.text
    assert wait_for_job_of(node, other, accepted.json()["id"])["status"] == "success"
    assert_idle(node)


def test_another_client_cannot_read_list_or_overwrite_a_job(node: RunningNode, other: httpx.Client) -> None:
    job_id = submit(node.url, {"secret": "only for 127.0.0.1"})
    done = wait_for_job(node.url, job_id, intermediate=True)
    assert done["status"] == "success"

    # The id alone grants nothing: not by id, not with intermediate results, not in any listing.
    assert jobs(node.url, other, id=job_id) == []
    assert jobs(node.url, other, id=job_id, intermediate="true") == []
    for pending in (None, "true", "false"):
        listed = jobs(node.url, other, **({"pending": pending} if pending else {}))
        assert job_id not in listed

    # A report under that id is the reporter's own record: the owner's result is untouched.
    forged = {"id": job_id, "status": "failed", "containers": ["echo"], "result": {"container": "echo", "error": "x"}}
    assert other.put(f"{node.url}/api/status", json=forged).json() == {}
    assert jobs(node.url, other, id=job_id) == [{"id": job_id, "status": "failed", "result": forged["result"]}]
    assert jobs(node.url, id=job_id, intermediate="true") == [done]
    assert jobs(node.url).count(job_id) == 1

    # The owner cannot report a status for a job the node runs itself either.
    mine = httpx_calls.put(f"{node.url}/api/status", json={**forged, "status": "success"})
    assert mine.status_code == 409
    assert mine.json() == {"error": "Job is run by this node: its status cannot be reported", "params": {"id": job_id}}
    assert jobs(node.url, id=job_id, intermediate="true") == [done]
    assert f"job {job_id} status report from 127.0.0.1 refused" in node.log_text()
    assert_idle(node)


def test_reported_jobs_are_kept_per_client(node: RunningNode, other: httpx.Client) -> None:
    def report(client: httpx.Client | None, status: str, output: Any) -> None:
        put = client.put if client is not None else httpx.put
        body = {"id": "external-7", "status": status, "containers": ["echo"], "result": {"container": "echo", **output}}
        response = put(f"{node.url}/api/status", json=body)
        assert response.status_code == 200 and response.json() == {}, response.text

    report(None, "running", {"output": None})
    assert "external-7" in jobs(node.url, pending="true")
    report(None, "success", {"output": "mine"})
    report(other, "failed", {"error": "theirs"})
    assert jobs(node.url, id="external-7")[0]["result"] == {"container": "echo", "output": "mine"}
    assert jobs(node.url, other, id="external-7")[0]["result"] == {"container": "echo", "error": "theirs"}
    assert "external-7" in jobs(node.url, pending="false") and "external-7" in jobs(node.url, other, pending="false")
    assert_idle(node)


def test_isolation_holds_in_the_database_across_a_restart(infernet_node: NodeFactory, echo_container: str) -> None:
    config = {"containers": [node_container("echo", echo_container)], "server": CONFIG_LIMIT}
    first = infernet_node(config)
    job_id = submit(first.url, {"n": 1})
    done = wait_for_job(first.url, job_id)
    first.stop()
    second = infernet_node(config, data_dir=first.data_dir, port=first.port)
    with httpx.Client(transport=httpx.HTTPTransport(local_address=OTHER, verify=tls_context()), timeout=10) as client:
        assert jobs(second.url, client, id=job_id) == []
        assert jobs(second.url, client) == []
    assert jobs(second.url, id=job_id) == [done]


V1_SCHEMA = """
CREATE TABLE jobs (id TEXT PRIMARY KEY, client TEXT NOT NULL, containers TEXT NOT NULL, status TEXT NOT NULL,
    result TEXT, intermediate TEXT NOT NULL DEFAULT '[]', created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX jobs_by_client ON jobs (client, status);
CREATE INDEX jobs_by_status ON jobs (status);
"""


def test_a_database_of_the_previous_schema_is_migrated(
    infernet_node: NodeFactory, echo_container: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = sqlite3.connect(data / "jobs.sqlite3")
    db.executescript(V1_SCHEMA)
    result = {"container": "echo", "output": 42}
    db.execute(
        "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, '[]', 1.0, 1.0)",
        ("old-job", "127.0.0.1", '["echo"]', "success", json.dumps(result)),
    )
    db.execute("INSERT INTO jobs VALUES ('old-running', '127.0.0.1', '[\"echo\"]', 'running', NULL, '[]', 2.0, 2.0)")
    db.commit()
    db.close()
    node = infernet_node({"containers": [node_container("echo", echo_container)]}, data_dir=data)
    assert jobs(node.url, id="old-job") == [{"id": "old-job", "status": "success", "result": result}]
    assert jobs(node.url, id="old-running")[0]["status"] == "failed"
    assert jobs(node.url, pending="false") == ["old-job", "old-running"]
    with httpx.Client(transport=httpx.HTTPTransport(local_address=OTHER, verify=tls_context()), timeout=10) as client:
        assert jobs(node.url, client, id="old-job") == []
    assert "job records migrated to schema 2" in node.log_text()
    assert_idle(node)
