"""`infernet-kit serve` as a process: the seeds' env and command work, bad config stops it at start,
load spreads over the workers, and clients that hang up never kill a worker (PROTOCOL.md section 5)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from infernet_kit.devstack import fake_models
from infernet_kit.polling import wait_until
from infernet_kit.processes import ManagedProcess, free_port, kit_command
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.service_fixtures import DevBackendHandle, run_service
from infernet_kit.tls import tls_context

from .helpers import post
from .test_settings import SEED_000_ENV, SEED_001_ENV, SEED_002_ENV


def serve_and_fail(kind: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = kit_command("serve", kind, f"--bind=127.0.0.1:{free_port()}", "--workers=1")
    return subprocess.run(command, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("kind", "env", "variable"),
    [
        ("tgi", {}, "TGI_INF_WORKFLOW_POSITIONAL_ARGS"),
        (
            "tgi",
            {"TGI_INF_WORKFLOW_POSITIONAL_ARGS": '["http://x", 30]', "TGI_INF_WORKFLOW_KW_ARGS": "{oops"},
            "TGI_INF_WORKFLOW_KW_ARGS",
        ),
        ("hf", {"HF_INF_ENDPOINT": "ftp://nope"}, "HF_INF_ENDPOINT"),
    ],
)
def test_bad_config_stops_the_service_at_start(kind: str, env: dict[str, str], variable: str) -> None:
    result = serve_and_fail(kind, env)
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_port_stops_the_service_at_start() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        command = kit_command("serve", "hf", f"--bind=127.0.0.1:{port}", "--workers=1")
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "already in use" in result.stderr


@pytest.mark.parametrize(("kind", "env"), [("tgi", SEED_000_ENV), ("tgi", SEED_002_ENV), ("hf", SEED_001_ENV)])
def test_seed_env_and_command_start_the_service(tmp_path: Path, kind: str, env: dict[str, str]) -> None:
    port = free_port()
    # The seeds' "command", with the port swapped for a free one.
    command = kit_command("serve", kind, f"--bind=0.0.0.0:{port}", "--workers=2")
    with ManagedProcess(f"seed {kind}", command, log_path=tmp_path / "service.log", env=env) as process:
        process.wait_for_http(f"http://127.0.0.1:{port}/", timeout=60)
        resources = httpx_calls.get(f"http://127.0.0.1:{port}/service-resources").json()
    assert resources["service_id"] == {"tgi": "tgi_client_inference_service", "hf": "hf_inference_client_service"}[kind]
    assert "YOUR_TOKEN_HERE" not in process.log_tail(200)


def one_shot_client(timeout: float = 10) -> httpx.Client:
    """A client that opens a new connection for every request."""
    return httpx.Client(
        trust_env=False, timeout=timeout, limits=httpx.Limits(max_keepalive_connections=0), verify=tls_context()
    )


def workers_seen(url: str, connections: int = 24) -> set[int]:
    """Worker pids answering `connections` fresh connections."""
    with one_shot_client() as fresh:
        return {fresh.get(f"{url}/").json()["worker"] for _ in range(connections)}


def test_connections_spread_over_both_workers(tgi_service: str) -> None:
    assert len(workers_seen(tgi_service)) == 2


def test_clients_hanging_up_mid_request_do_not_kill_workers(tgi_service: str, backend: DevBackendHandle) -> None:
    before = workers_seen(tgi_service)
    backend.inject(latency_ms=300)
    for _ in range(12):
        with (
            httpx.Client(trust_env=False, timeout=0.05, verify=tls_context()) as impatient,
            pytest.raises(httpx.TimeoutException),
        ):
            impatient.post(
                f"{tgi_service}/service_output", json={"source": 1, "destination": 2, "data": {"text": "bye"}}
            )
        with (
            httpx.Client(trust_env=False, timeout=0.05, verify=tls_context()) as impatient,
            pytest.raises(httpx.TimeoutException),
        ):
            impatient.post(
                f"{tgi_service}/service_output", json={"source": 1, "destination": 1, "data": {"text": "bye"}}
            )
    # Every abandoned request reached the backend; one sent after them, under the same latency, is answered
    # after all of theirs were: by then each worker has had its abandoned answers to write to a closed socket.
    wait_until(lambda: backend.stats()["requests"] == 24, timeout=10, what="the 24 abandoned requests at the backend")
    assert post(tgi_service, {"source": 1, "destination": 1, "data": {"text": "hi"}}).json() == {
        "output": fake_models.generate("hi")
    }
    backend.reset()
    assert workers_seen(tgi_service) == before


def test_workers_exit_when_the_supervisor_is_killed(dev_backend: DevBackendHandle, tmp_path: Path) -> None:
    env = {"TGI_INF_WORKFLOW_POSITIONAL_ARGS": f'["{dev_backend.url}", 5]'}
    with run_service("tgi", env, tmp_path, workers=2) as service:
        workers = workers_seen(service.url)
        assert service.process.pid is not None
        os.kill(service.process.pid, signal.SIGKILL)
        wait_until(lambda: not any(alive(pid) for pid in workers), timeout=10, what=f"workers {workers} to exit")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting to be reaped counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
