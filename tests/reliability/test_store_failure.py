"""A full disk under the job store: requests that need a new record answer 503 with the reason, jobs that were
running still end with their result (kept in memory, written once space returns), pending counts stay exact, and
the node works again without a restart. The data directory is a real small tmpfs, filled with a real file."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infernet_kit.node.store import CRASH_REASON
from infernet_kit.polling import wait_until
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.disk import fill, small_tmpfs
from infernet_kit.testing.node_fixtures import NodeFactory, RunningNode, node_container, wait_for_job

UNAVAILABLE = "job store unavailable: "


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted for the test (needs root; skipped with the reason where mounting is refused)."""
    with small_tmpfs(tmp_path / "data") as mount:
        yield mount


def db_statuses(data_dir: Path) -> dict[str, str]:
    """Job id -> status as the database file holds it (read by another process, as a user would)."""
    db = sqlite3.connect(f"file:{data_dir / 'jobs.sqlite3'}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT id, status FROM jobs").fetchall())
    finally:
        db.close()


async def burst(url: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        return await asyncio.gather(
            *(client.post(f"{url}/api/jobs", json={"containers": ["echo"], "data": {"i": i}}) for i in range(count))
        )


def submit(node: RunningNode, data: dict[str, Any]) -> str:
    response = httpx_calls.post(f"{node.url}/api/jobs", json={"containers": ["echo"], "data": data}, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert set(body) == {"error", "params"} and body["error"].startswith(UNAVAILABLE), body
    assert "full" in body["error"], body  # SQLite's reason is passed on: "database or disk is full"


def test_full_disk_refuses_new_jobs_finishes_running_ones_and_recovers(
    small_disk: Path, infernet_node: NodeFactory, echo_container: str
) -> None:
    config = {
        "containers": [node_container("echo", echo_container)],
        "server": {"rate_limit": {"num_requests": 100000, "period": 1}},
    }
    node = infernet_node(config, data_dir=small_disk)
    warm = wait_for_job(node.url, submit(node, {"warm": 1}))
    assert warm["status"] == "success"
    running = [submit(node, {"hold": "store-failure", "n": n}) for n in range(10)]
    filler = fill(small_disk)

    answers = asyncio.run(burst(node.url, 300))
    refused = [answer for answer in answers if answer.status_code != 200]
    accepted = [str(answer.json()["id"]) for answer in answers if answer.status_code == 200]
    assert len(refused) > 250, f"only {len(refused)} of 300 refused: is the disk full?"
    for answer in refused:
        assert_unavailable(answer)
    assert_unavailable(
        httpx_calls.post(f"{node.url}/api/jobs/stream", json={"containers": ["echo"], "data": {}}, timeout=10)
    )
    report = {"id": "reported-1", "status": "success", "containers": ["echo"]}
    assert_unavailable(httpx_calls.put(f"{node.url}/api/status", json=report, timeout=10))
    batch = httpx_calls.post(f"{node.url}/api/jobs/batch", json=[{"containers": ["echo"], "data": {}}], timeout=10)
    assert batch.status_code == 200 and batch.json()[0]["error"].startswith(UNAVAILABLE)

    # Jobs that were running end with their real result, although the database cannot take it yet.
    assert httpx_calls.post(f"{echo_container}/release/store-failure", timeout=10).status_code == 200
    for job_id in running:
        job = wait_for_job(node.url, job_id)
        assert job["status"] == "success", job
        assert job["result"]["output"]["output"]["received"]["data"]["n"] == running.index(job_id)
    for job_id in accepted:
        assert wait_for_job(node.url, job_id)["status"] != "running"
    assert node.pending() == {"offchain": 0, "onchain": 0}
    assert httpx_calls.get(f"{node.url}/api/jobs", params={"pending": "true"}).json() == []
    finished = httpx_calls.get(f"{node.url}/api/jobs", params={"pending": "false"}).json()
    assert set(running) <= set(finished)
    on_disk = db_statuses(small_disk)
    assert [on_disk[job_id] for job_id in running] == ["running"] * len(running)  # the disk really refused them
    assert httpx_calls.get(f"{node.url}/health").status_code == 200
    log = node.log_text()
    assert "store: cannot write" in log and "database or disk is full" in log
    assert "PUT /api/status from 127.0.0.1 refused: job store unavailable" in log
    assert "job request from 127.0.0.1 refused: job store unavailable: database or disk is full" in log
    assert "Traceback" not in log and "Task exception was never retrieved" not in log

    # Space returns: the kept records are written without a restart and new jobs work again.
    filler.unlink()
    wait_until(
        lambda: all(status != "running" for status in db_statuses(small_disk).values()),
        timeout=15,
        interval=0.1,
        what="the finished jobs kept in memory to be written once space returned",
    )
    after = submit(node, {"after": True})
    assert wait_for_job(node.url, after)["status"] == "success"
    assert node.pending() == {"offchain": 0, "onchain": 0}
    assert "store: writes work again" in node.log_text()
    expected = {job_id: wait_for_job(node.url, job_id) for job_id in [*running, *accepted, after]}

    # What the node answered is what it persisted: a crash now loses nothing.
    node.kill()
    again = infernet_node(config, data_dir=small_disk, port=node.port)
    for job_id, job in expected.items():
        assert wait_for_job(again.url, job_id) == job
    assert again.pending() == {"offchain": 0, "onchain": 0}
    again.stop()


def test_stopping_while_the_disk_is_full_names_what_was_not_saved(
    small_disk: Path, infernet_node: NodeFactory, echo_container: str
) -> None:
    config = {"containers": [node_container("echo", echo_container)]}
    node = infernet_node(config, data_dir=small_disk)
    job_id = submit(node, {"hold": "stop-while-full"})
    filler = fill(small_disk)
    assert httpx_calls.post(f"{echo_container}/release/stop-while-full", timeout=10).status_code == 200
    assert wait_for_job(node.url, job_id)["status"] == "success"  # in memory only: the disk is full
    assert db_statuses(small_disk)[job_id] == "running"
    node.stop()
    log = node.log_text()
    assert f"store: 1 finished job(s) could not be saved before stopping (database or disk is full): {job_id}" in log

    # The result is lost with the process, but the job is not left running: the next start fails it.
    filler.unlink()
    again = infernet_node(config, data_dir=small_disk, port=node.port)
    job = wait_for_job(again.url, job_id, timeout=1)
    assert job == {"id": job_id, "status": "failed", "result": {"container": "echo", "error": CRASH_REASON}}
    assert again.pending() == {"offchain": 0, "onchain": 0}
