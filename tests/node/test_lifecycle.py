"""Node process lifecycle: bad config stops it with the key's name, results survive a restart, a crash
fails the jobs it interrupted, containers with a `command` are started and stopped by the node."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from infernet_kit.config import ConfigError
from infernet_kit.devstack.fake_models import generate
from infernet_kit.node.config import ContainerConfig
from infernet_kit.node.containers import ContainerProcesses, serve_arguments
from infernet_kit.node.store import CRASH_REASON
from infernet_kit.polling import wait_until
from infernet_kit.processes import free_port, kit_command, port_is_open
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.node_fixtures import NodeFactory, node_container, wait_for_job
from infernet_kit.testing.service_fixtures import DevBackendHandle, tgi_service_env


def run_node_cli(tmp_path: Path, config: Any) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return subprocess.run(
        kit_command("node", "--config", str(path), "--data-dir", str(tmp_path / "data")),
        capture_output=True,
        text=True,
        timeout=60,
    )


SECRET_KEY = "0x" + "5e" * 32


@pytest.mark.parametrize(
    ("config", "named"),
    [
        (
            {
                "containers": [{"id": "a", "port": "three"}],
                "chain": {"enabled": True, "rpc_url": "http://x", "wallet": {"private_key": SECRET_KEY}},
            },
            ["containers[0].port", "chain: enabled is true but registry_address missing"],
        ),
        (
            {"containers": [{"id": "tgi", "port": 3001, "command": "--bind=0.0.0.0:3002"}]},
            ["containers[id=tgi].command"],
        ),
        ('{"containers": [}', ["invalid JSON at line 1"]),
    ],
)
def test_bad_config_exits_with_a_message_naming_the_key(tmp_path: Path, config: Any, named: list[str]) -> None:
    result = run_node_cli(tmp_path, config)
    assert result.returncode == 2
    for text in named:
        assert text in result.stderr
    assert SECRET_KEY not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        (
            {"id": "x", "image": "ritualnetwork/other:latest", "port": 3001, "command": "--workers=1"},
            "containers[id=x].image",
        ),
        ({"id": "tgi", "port": 3001, "command": "--bind 0.0.0.0:3002"}, "--bind port 3002 differs"),
    ],
)
def test_unusable_commands_are_config_errors(entry: dict[str, Any], named: str) -> None:
    processes = ContainerProcesses(
        [ContainerConfig.model_validate(entry)], log_dir=Path("/nonexistent"), startup_wait=0
    )
    with pytest.raises(ConfigError, match=re.escape(named)):
        processes.plan()


def test_seed_commands_map_to_kit_services() -> None:
    seed_000 = ContainerConfig.model_validate(
        {
            "id": "tgi_client_inference_service",
            "image": "ritualnetwork/tgi_client_inference_service:latest",
            "port": "3000",
            "command": "--bind=0.0.0.0:3000 --workers=2",
        }
    )
    seed_001 = ContainerConfig.model_validate(
        {
            "id": "hf_inference_client_service",
            "image": "ritualnetwork/hf_inference_client_service:latest",
            "port": "3000",
            "command": "--bind=0.0.0.0:3000 --workers=2",
        }
    )
    seed_002 = ContainerConfig.model_validate(
        {
            "id": "tgi_client_inference_service",
            "image": "your_org/tgi_client_inference_service:latest",
            "port": "3000",
            "command": "--bind= --workers=2",
        }
    )
    assert serve_arguments(seed_000) == ["tgi", "--bind=0.0.0.0:3000", "--workers=2"]
    assert serve_arguments(seed_001) == ["hf", "--bind=0.0.0.0:3000", "--workers=2"]
    assert serve_arguments(seed_002) == ["tgi", "--bind=127.0.0.1:3000", "--workers=2"]


def test_missing_config_file(tmp_path: Path) -> None:
    result = subprocess.run(
        kit_command("node", "--config", str(tmp_path / "absent.json")), capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "node config not found" in result.stderr


def test_results_survive_restart_and_crashed_jobs_fail(infernet_node: NodeFactory, echo_container: str) -> None:
    config = {"containers": [node_container("echo", echo_container)], "log_path": "node.log"}
    first = infernet_node(config)
    done_id = httpx_calls.post(f"{first.url}/api/jobs", json={"containers": ["echo"], "data": {"keep": 1}}).json()["id"]
    done = wait_for_job(first.url, done_id)
    assert done["status"] == "success"
    slow_id = httpx_calls.post(f"{first.url}/api/jobs", json={"containers": ["echo"], "data": {"sleep": 30}}).json()[
        "id"
    ]
    assert httpx_calls.get(f"{first.url}/api/jobs", params={"pending": "true"}).json() == [slow_id]
    assert httpx_calls.get(f"{first.url}/info").json()["pending"]["offchain"] == 1
    first.kill()

    second = infernet_node(config, data_dir=first.data_dir, port=first.port)
    jobs = httpx_calls.get(f"{second.url}/api/jobs", params=[("id", done_id), ("id", slow_id)]).json()
    assert jobs[0] == done
    assert jobs[1] == {"id": slow_id, "status": "failed", "result": {"container": "echo", "error": CRASH_REASON}}
    assert httpx_calls.get(f"{second.url}/api/jobs", params={"pending": "false"}).json() == [done_id, slow_id]
    assert f"job {slow_id} failed: {CRASH_REASON}" in second.log_text()


def test_graceful_stop_fails_jobs_still_running(infernet_node: NodeFactory, echo_container: str) -> None:
    config = {"containers": [node_container("echo", echo_container)]}
    first = infernet_node(config)
    slow_id = httpx_calls.post(f"{first.url}/api/jobs", json={"containers": ["echo"], "data": {"sleep": 30}}).json()[
        "id"
    ]
    started = time.monotonic()
    first.stop()
    assert time.monotonic() - started < 12
    second = infernet_node(config, data_dir=first.data_dir)
    (job,) = httpx_calls.get(f"{second.url}/api/jobs", params={"id": slow_id}).json()
    assert job["status"] == "failed" and job["result"]["error"] == CRASH_REASON


def test_held_answers_are_given_when_the_node_stops(infernet_node: NodeFactory, echo_container: str) -> None:
    """A waiting POST and a waiting read answer at the stop with the running record: not a 500 and a traceback
    each once the server's grace for open requests ran out; the job still ends failed, as any a stop cut off."""
    config = {"containers": [node_container("echo", echo_container)]}
    first = infernet_node(config)
    body = json.dumps({"containers": ["echo"], "data": {"hold": "stopping-node"}}).encode()
    with (
        socket.create_connection(("127.0.0.1", first.port), timeout=30) as posted,
        socket.create_connection(("127.0.0.1", first.port), timeout=30) as read,
    ):
        head = f"POST /api/jobs?wait=30 HTTP/1.1\r\nHost: node\r\nContent-Length: {len(body)}\r\n\r\n"
        posted.sendall(head.encode() + body)
        (job_id,) = wait_until(
            lambda: httpx_calls.get(f"{first.url}/api/jobs", params={"pending": "true"}).json(),
            timeout=10,
            what="the held job to be running",
        )
        read.sendall(f"GET /api/jobs?id={job_id}&wait=30 HTTP/1.1\r\nHost: node\r\n\r\n".encode())
        first.stop()
        answers = [b"".join(iter(lambda s=s: s.recv(65536), b"")) for s in (posted, read)]
    running = {"id": job_id, "status": "running", "result": None}
    for answer, record in zip(answers, (running, [running]), strict=True):
        head_bytes, _, answer_body = answer.partition(b"\r\n\r\n")
        assert head_bytes.startswith(b"HTTP/1.1 200") and b"x-infernet-wait: 30" in head_bytes.lower(), answer
        assert json.loads(answer_body) == record
    log = first.log_text()
    assert "ERROR" not in log and "Traceback" not in log, log
    second = infernet_node(config, data_dir=first.data_dir)
    (job,) = httpx_calls.get(f"{second.url}/api/jobs", params={"id": job_id}).json()
    assert job["status"] == "failed" and job["result"]["error"] == CRASH_REASON


def test_command_containers_are_started_and_stopped(infernet_node: NodeFactory, dev_backend: DevBackendHandle) -> None:
    port = free_port()
    entry = {
        "id": "tgi_client_inference_service",
        "image": "ritualnetwork/tgi_client_inference_service:latest",
        "external": True,
        "port": str(port),
        "allowed_delegate_addresses": [],
        "allowed_addresses": [],
        "allowed_ips": [],
        "command": f"--bind=0.0.0.0:{port} --workers=2",
        "env": {"TGI_INF_TOKEN": "hf_secret_token_value", **tgi_service_env(dev_backend.url)},
    }
    node = infernet_node({"containers": [entry], "log_path": "node.log"})
    assert port_is_open(port)
    prompt = "Is the sky blue during a clear day?"
    job_id = httpx_calls.post(
        f"{node.url}/api/jobs", json={"containers": ["tgi_client_inference_service"], "data": {"text": prompt}}
    ).json()["id"]
    job = wait_for_job(node.url, job_id)
    assert job["result"] == {"container": "tgi_client_inference_service", "output": {"output": generate(prompt)}}
    node.stop()
    wait_until(lambda: not port_is_open(port), timeout=10, what=f"port {port} to close")
    log = node.log_text()
    assert "container tgi_client_inference_service: ready" in log
    assert "hf_secret_token_value" not in log


def test_taken_api_port_is_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_node_cli(tmp_path, {"server": {"port": port, "host": "127.0.0.1"}})
    assert result.returncode == 2
    assert f"server.port: cannot listen on 127.0.0.1:{port}" in result.stderr


def test_v14_log_path_key_is_honoured(infernet_node: NodeFactory, echo_container: str) -> None:
    """The reference node v1.4 spells it `"log": {"path": ...}` (relative to config.json, as `log_path`)."""
    node = infernet_node({"containers": [node_container("echo", echo_container)], "log": {"path": "logs/v14.log"}})
    job_id = httpx_calls.post(f"{node.url}/api/jobs", json={"containers": ["echo"], "data": {}}).json()["id"]
    assert wait_for_job(node.url, job_id)["status"] == "success"
    log_file = node.config_path.parent / "logs" / "v14.log"
    wait_until(lambda: log_file.exists() and f"job {job_id} success" in log_file.read_text(), what="the log file")
