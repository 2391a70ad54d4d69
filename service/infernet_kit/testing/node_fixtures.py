"""Fixtures for the node part of the local stack.

- `infernet_node`: a factory `start(config, *, data_dir=None, port=None) -> RunningNode` that writes `config`
  (a config.json dict) to a file, runs `infernet-kit node` as a real process on a free port (unless the config
  or `port` names one), waits for `/health` and returns a `RunningNode` (`.url`, `.port`, `.data_dir`,
  `.stop()`, `.kill()`, `.log_tail()`); every node still running is stopped at teardown.
  Start a node again on the same `data_dir` to test restarts.
- `node_launcher` (module scope): the same factory as a `NodeLauncher`, for a node shared by a test module.
- `node_container(id, url, **fields)`: a container entry for such a config.
- `wait_for_job(url, job_id, intermediate=False)`: poll `GET /api/jobs` until the job is done; its record.
- `echo_container` (session): the echo container (`infernet_kit.testing.echo_container`); yields its URL.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from infernet_kit.polling import wait_until
from infernet_kit.processes import ManagedProcess, free_port, kit_command
from infernet_kit.tls import tls_context

__all__ = [
    "NodeFactory",
    "NodeLauncher",
    "RunningNode",
    "echo_container",
    "infernet_node",
    "node_container",
    "node_launcher",
    "wait_for_job",
]


def wait_for_job(url: str, job_id: str, *, intermediate: bool = False, timeout: float = 30.0) -> dict[str, Any]:
    """Poll the node at `url` until job `job_id` is no longer running; its `GET /api/jobs` record."""
    params = {"id": job_id, **({"intermediate": "true"} if intermediate else {})}

    def finished() -> dict[str, Any] | None:
        response = httpx.get(f"{url}/api/jobs", params=params, timeout=5, verify=tls_context())
        response.raise_for_status()
        records = response.json()
        if len(records) != 1:
            raise AssertionError(f"node does not know job {job_id}: {records}")
        return None if records[0]["status"] == "running" else dict(records[0])

    return wait_until(finished, timeout=timeout, interval=0.02, what=f"job {job_id} to finish")


def node_container(container_id: str, url: str, **fields: Any) -> dict[str, Any]:
    """A config.json container entry reached at `url` (an already running service)."""
    return {"id": container_id, "image": f"infernet-kit/{container_id}", "url": url, "external": True, **fields}


@dataclass
class RunningNode:
    """A node process started by `infernet_node`."""

    url: str
    port: int
    config_path: Path
    data_dir: Path
    process: ManagedProcess

    def stop(self) -> None:
        """Graceful stop (SIGTERM), as a user's Ctrl-C."""
        self.process.stop(timeout=15)

    def kill(self) -> None:
        """SIGKILL the node at once, as a crash would."""
        pid = self.process.pid
        if pid is not None and self.process.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.process.stop(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        return self.process.log_tail(lines)

    def log_text(self) -> str:
        return self.process.log_path.read_text(errors="replace")

    def pending(self) -> dict[str, int]:
        """`/info`'s pending counts: `{"offchain": n, "onchain": m}`."""
        return dict(httpx.get(f"{self.url}/info", timeout=5, verify=tls_context()).json()["pending"])


class NodeFactory(Protocol):
    def __call__(
        self, config: dict[str, Any], *, data_dir: Path | None = None, port: int | None = None
    ) -> RunningNode: ...


class NodeLauncher:
    """Starts node processes from config dicts and stops them all at the end."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self.started: list[RunningNode] = []

    def __call__(self, config: dict[str, Any], *, data_dir: Path | None = None, port: int | None = None) -> RunningNode:
        config = copy.deepcopy(config)
        server = config.setdefault("server", {})
        chosen = port or server.get("port") or free_port()
        server["port"] = chosen
        directory = self._tmp.mktemp("node")
        config_path = directory / "config.json"
        config_path.write_text(json.dumps(config, indent=2))
        data = data_dir or directory / "data"
        command = kit_command("node", "--config", str(config_path), "--data-dir", str(data))
        process = ManagedProcess(f"node :{chosen}", command, log_path=directory / "node.log")
        process.start()
        node = RunningNode(
            url=f"http://127.0.0.1:{chosen}", port=chosen, config_path=config_path, data_dir=data, process=process
        )
        self.started.append(node)
        process.wait_for_http(f"{node.url}/health", timeout=90)
        return node

    def stop_all(self) -> None:
        for node in self.started:
            node.stop()
        self.started.clear()


@pytest.fixture
def infernet_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeFactory]:
    """Start `infernet-kit node` processes from config dicts; all are stopped at teardown."""
    launcher = NodeLauncher(tmp_path_factory)
    yield launcher
    launcher.stop_all()


@pytest.fixture(scope="module")
def node_launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeLauncher]:
    """`infernet_node` for nodes shared by the tests of one module."""
    launcher = NodeLauncher(tmp_path_factory)
    yield launcher
    launcher.stop_all()


@pytest.fixture(scope="session")
def echo_container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The echo container on a free port; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "infernet_kit.testing.echo_container", str(port)]
    log_path = tmp_path_factory.mktemp("echo-container") / "echo.log"
    with ManagedProcess("echo container", command, log_path=log_path) as process:
        url = f"http://127.0.0.1:{port}"
        process.wait_for_http(f"{url}/", timeout=60)
        yield url
