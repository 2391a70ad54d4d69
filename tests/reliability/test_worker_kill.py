"""A service worker killed mid-burst loses no job: the node sends a call that got no answer again.

Real processes throughout: the dev backend (slowed so that jobs are in flight), a TGI service with two
workers (its supervisor replaces a dead one), a node. One worker is SIGKILLed while ~32 jobs are in flight.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infernet_kit.devstack import fake_models
from infernet_kit.node.orchestrator import UNANSWERED_ATTEMPTS
from infernet_kit.polling import wait_until
from infernet_kit.processes import free_port
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.node_fixtures import NodeFactory, node_container, wait_for_job
from infernet_kit.testing.service_fixtures import DevBackendHandle, RunningService, run_service, tgi_service_env

TGI = "tgi_client_inference_service"
JOBS = 300
IN_FLIGHT = 32
KILL_AFTER = 60  # jobs finished before the kill
BACKEND_LATENCY_MS = 200


def _children(pid: int) -> list[int]:
    """The live child processes of `pid` (the service's workers, for its supervisor)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets process `pid` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _local_ports(pid: int) -> set[int]:
    """The local ports of the established TCP connections process `pid` holds (from /proc: the kernel's word)."""
    inodes = _socket_inodes(pid)
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "01" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _calls_in_flight(workers: list[int], backend: DevBackendHandle) -> dict[int, int] | None:
    """How many of the backend's held requests come from each worker (None while none does): a worker waiting
    on the backend has a call from the node in flight, which its death leaves without an answer."""
    held = set(backend.stats()["held_ports"])
    calls = {pid: len(held & _local_ports(pid)) for pid in workers}
    return calls if any(calls.values()) else None


@pytest.fixture
def slow_backend(dev_backend: DevBackendHandle) -> Iterator[DevBackendHandle]:
    dev_backend.reset()
    dev_backend.inject(latency_ms=BACKEND_LATENCY_MS)
    yield dev_backend
    dev_backend.reset()


@pytest.fixture
def service(slow_backend: DevBackendHandle, tmp_path: Path) -> Iterator[RunningService]:
    """A TGI service of its own (its worker gets killed), two workers."""
    with run_service("tgi", tgi_service_env(slow_backend.url), tmp_path, workers=2) as running:
        yield running


def _run_burst(node_url: str, prompts: list[str], on_progress: Any) -> dict[str, dict[str, Any]]:
    """Keep `IN_FLIGHT` jobs running until all `prompts` are done; each job's record by prompt."""
    queue = list(prompts)
    running: dict[str, str] = {}  # job id -> prompt
    done: dict[str, dict[str, Any]] = {}
    with httpx.Client(timeout=10, trust_env=False) as http:
        deadline = time.monotonic() + 60
        while queue or running:
            while queue and len(running) < IN_FLIGHT:
                prompt = queue.pop()
                response = http.post(f"{node_url}/api/jobs", json={"containers": [TGI], "data": {"text": prompt}})
                assert response.status_code == 200, response.text
                running[response.json()["id"]] = prompt
            on_progress(len(done))  # with `IN_FLIGHT` jobs just started
            records = http.get(f"{node_url}/api/jobs", params=[("id", job_id) for job_id in running]).json()
            for record in records:
                if record["status"] != "running":
                    done[running.pop(record["id"])] = record
            assert time.monotonic() < deadline, f"burst not finished: {len(done)} of {len(prompts)} done"
            time.sleep(0.02)
    return done


def test_a_killed_worker_loses_no_job(
    infernet_node: NodeFactory, service: RunningService, slow_backend: DevBackendHandle
) -> None:
    node = infernet_node(
        {
            "containers": [node_container(TGI, service.url)],
            "server": {"rate_limit": {"num_requests": 1_000_000, "period": 1}},
        }
    )
    supervisor = service.process.pid
    assert supervisor is not None
    workers = _children(supervisor)
    assert len(workers) == 2, workers
    killed: list[int] = []
    killed_at: list[int] = []

    def kill_once(finished: int) -> None:
        if not killed_at and finished >= KILL_AFTER:
            # The worker with the most calls in flight: the other may be serving none.
            holding = wait_until(
                lambda: _calls_in_flight(workers, slow_backend), timeout=10, what="a worker waiting on the backend"
            )
            victim = max(holding, key=holding.__getitem__)
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            killed_at.append(finished)

    prompts = [f"prompt {index}: is the sky blue?" for index in range(JOBS)]
    done = _run_burst(node.url, prompts, kill_once)

    assert killed_at and killed_at[0] < JOBS - IN_FLIGHT, f"the kill did not land mid-burst: {killed_at}"
    failed = {prompt: record for prompt, record in done.items() if record["status"] != "success"}
    assert not failed, f"{len(failed)} of {JOBS} jobs lost: {list(failed.values())[:3]}"
    assert len(done) == JOBS
    for prompt, record in done.items():
        assert record["result"] == {"container": TGI, "output": {"output": fake_models.generate(prompt)}}, record
    info = httpx_calls.get(f"{node.url}/info", timeout=5).json()
    assert info["pending"] == {"offchain": 0, "onchain": 0}, info
    assert _no_answer_lines(node.log_text(), TGI), "the node logged no retry: the kill hit no call in flight"
    # The service replaced its dead worker and still serves.
    wait_until(
        lambda: killed[0] not in _children(supervisor) and len(_children(supervisor)) == 2,
        timeout=10,
        what="the supervisor replacing the killed worker",
    )
    assert httpx_calls.get(f"{service.url}/", timeout=5).status_code == 200


def _no_answer_lines(log_text: str, container: str) -> list[str]:
    return [line for line in log_text.splitlines() if f"container {container} at " in line and "sent no answer" in line]


def test_a_container_that_never_answers_is_tried_a_bounded_number_of_times(infernet_node: NodeFactory) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: every connection is refused
    node = infernet_node({"containers": [node_container("nowhere", nowhere)]})

    job = httpx_calls.post(f"{node.url}/api/jobs", json={"containers": ["nowhere"], "data": {}}, timeout=5).json()
    record = wait_for_job(node.url, job["id"], timeout=10)

    assert record["status"] == "failed", record
    assert record["result"]["error"].startswith(f"cannot reach {nowhere}"), record
    lines = _no_answer_lines(node.log_text(), "nowhere")
    assert len(lines) == UNANSWERED_ATTEMPTS - 1, lines
    assert f"attempt {UNANSWERED_ATTEMPTS} of {UNANSWERED_ATTEMPTS} in" in lines[-1], lines
    assert httpx_calls.get(f"{node.url}/info", timeout=5).json()["pending"] == {"offchain": 0, "onchain": 0}


def test_an_answer_broken_off_midway_is_not_sent_again(infernet_node: NodeFactory, echo_container: str) -> None:
    node = infernet_node({"containers": [node_container("echo", echo_container)]})

    job = httpx_calls.post(
        f"{node.url}/api/jobs", json={"containers": ["echo"], "data": {"break_after": 10}}, timeout=5
    ).json()
    record = wait_for_job(node.url, job["id"], timeout=10)

    assert record["status"] == "failed", record
    assert record["result"]["container"] == "echo"
    assert record["result"]["error"].startswith(f"the answer from {echo_container} broke off: "), record
    assert _no_answer_lines(node.log_text(), "echo") == []
    assert httpx_calls.get(f"{node.url}/info", timeout=5).json()["pending"] == {"offchain": 0, "onchain": 0}
