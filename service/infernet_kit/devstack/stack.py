"""The whole local Infernet stack as one object: anvil, contracts, dev backend, every registered service, N nodes.

`demo` starts it for one run on free ports; `up` starts it on the README's ports and leaves it running (its
processes live in their own sessions), recording what it started in the state dir's `stack.json` so `down`,
the scripts and the deploy commands can find it. Every listener binds `host` (127.0.0.1 unless asked).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from infernet_kit.chain.accounts import DEPLOYER, NODE_OPERATORS, USER, dev_account, dev_key
from infernet_kit.chain.deploy import Deployment, StackRecord, deploy
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.paths import stack_file
from infernet_kit.processes import ManagedProcess, free_port, kit_command, local_address
from infernet_kit.protocol import hf, tgi
from infernet_kit.protocol import registry as service_registry
from infernet_kit.protocol.service import ServiceEntry

Progress = Callable[[str], None]


class StackOptions(BaseModel):
    """What to start. Real endpoints replace the dev backend for the service they concern."""

    tgi_url: str | None = None
    hf_endpoint: str | None = None
    hf_token: SecretStr | None = None
    nodes: int = Field(default=2, ge=1, le=len(NODE_OPERATORS))
    block_time: float | None = None
    host: str = "127.0.0.1"
    rpc_port: int | None = None
    node_port: int | None = None
    backend_port: int | None = None
    service_ports: dict[str, int] = Field(default_factory=dict, description="by service kind")
    workers: int = 1

    def listening_ports(self) -> list[int]:
        """Every fixed port this stack will listen on (the others are picked free)."""
        nodes = range(self.node_port, self.node_port + self.nodes) if self.node_port else range(0)
        fixed = (self.rpc_port, *nodes, self.backend_port, *self.service_ports.values())
        return [port for port in fixed if port]


class NodeInfo(BaseModel):
    url: str
    address: str
    config_path: str


class StackInfo(StackRecord):
    """Everything a person or a script needs to use a running stack (no secrets but the public dev keys)."""

    deployment: Deployment
    nodes: list[NodeInfo]
    services: dict[str, str]
    backend_url: str | None
    user_address: str
    user_private_key: str = Field(description="anvil dev account #0: public, never use on a real network")
    pids: list[int] = Field(default_factory=list)


def chain_node_config(
    services: dict[str, str],
    *,
    rpc_url: str,
    registry: str,
    operator_key: str,
    port: int | None = None,
    host: str = "127.0.0.1",
) -> dict[str, Any]:
    """A config.json for a node serving `services` ({container id: url}) on and off chain."""
    proving = {entry.container_id for entry in service_registry.services().values() if entry.generates_proofs}
    config: dict[str, Any] = {
        "containers": [
            {
                "id": container,
                "url": url,
                "external": True,
                "description": f"{container} (infernet-kit)",
                **({"generates_proofs": True} if container in proving else {}),
            }
            for container, url in services.items()
        ],
        "chain": {
            "enabled": True,
            "rpc_url": rpc_url,
            "registry_address": registry,
            "trail_head_blocks": 0,
            "wallet": {"private_key": operator_key, "max_gas_limit": 5_000_000},
            "snapshot_sync": {"sleep": 0.1, "batch_size": 200},
        },
    }
    config["server"] = {"host": host} if port is None else {"host": host, "port": port}
    return config


class LocalStack:
    """Starts the stack's processes in dependency order and stops all of them, whatever happened."""

    def __init__(self, options: StackOptions, *, run_dir: Path, progress: Progress = lambda _: None) -> None:
        self.options = options
        self.run_dir = run_dir
        self.progress = progress
        self.processes: list[ManagedProcess] = []
        self.anvil: Anvil | None = None
        self.info: StackInfo | None = None
        self._ports: set[int] = set()

    def _spawn(self, name: str, command: list[str], *, env: dict[str, str] | None = None) -> ManagedProcess:
        process = ManagedProcess(name, command, log_path=self.run_dir / f"{name}.log", env=env)
        self.processes.append(process)
        return process.start()

    def start(self) -> StackInfo:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackInfo:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        options = self.options

        self.anvil = Anvil(
            log_path=self.run_dir / "anvil.log", port=options.rpc_port, block_time=options.block_time, host=options.host
        )
        self.processes.append(self.anvil.process)
        self.anvil.start()
        self.progress(f"anvil listening at {self.anvil.url}")

        deployment = deploy(self.anvil.w3, dev_account(DEPLOYER))
        deployment.save()
        self.progress(f"contracts deployed: Registry {deployment.registry}, Coordinator {deployment.coordinator}")

        # The backend and the services start together, then the nodes together (a node reaches the services):
        # each process spends its first seconds importing, and two cores take two at once.
        kinds = service_registry.services()
        endpoints = {kind: url for kind, url in ((tgi.KIND, options.tgi_url), (hf.KIND, options.hf_endpoint)) if url}
        backend_url = None
        backend = None
        if set(kinds) - set(endpoints):
            port = options.backend_port or self._free_port()
            backend = self._spawn(
                "backend", kit_command("backend", "--port", str(port), "--host", options.host, "--log-level", "info")
            )
            backend_url = self._url(port)
        services = {
            entry.container_id: self._spawn_service(kind, self._env(entry, endpoints.get(kind) or str(backend_url)))
            for kind, entry in kinds.items()
        }
        if backend is not None:
            backend.wait_for_http(f"{backend_url}/health")
            self.progress(f"dev backend (TGI + HF protocols) at {backend_url}")
        served = {container_id: self._ready_service(*service) for container_id, service in services.items()}

        starting = [self._spawn_node(index, served, deployment) for index in range(options.nodes)]
        nodes = [self._ready_node(*node) for node in starting]
        user = dev_account(USER)
        self.info = StackInfo(
            rpc_url=self.anvil.url,
            chain_id=deployment.chain_id,
            deployment=deployment,
            nodes=nodes,
            services=served,
            backend_url=backend_url,
            user_address=user.address,
            user_private_key=dev_key(USER),
            pids=[p.pid for p in self.processes if p.pid is not None],
        )
        return self.info

    def _env(self, entry: ServiceEntry, url: str) -> dict[str, str]:
        env = entry.dev_env(url)
        if entry.kind == hf.KIND and self.options.hf_token is not None:
            env[hf.TOKEN_ENV] = self.options.hf_token.get_secret_value()
        return env

    def _url(self, port: int) -> str:
        return f"http://{local_address(self.options.host)}:{port}"

    def _free_port(self) -> int:
        """A free port none of this stack's processes was given: they are all picked before any of them binds."""
        while (port := free_port()) in self._ports:
            continue
        self._ports.add(port)
        return port

    def _spawn_service(self, kind: str, env: dict[str, str]) -> tuple[str, ManagedProcess, str]:
        port = self.options.service_ports.get(kind) or self._free_port()
        bind = f"--bind={self.options.host}:{port}"
        process = self._spawn(
            f"{kind}-service", kit_command("serve", kind, bind, f"--workers={self.options.workers}"), env=env
        )
        return kind, process, self._url(port)

    def _ready_service(self, kind: str, process: ManagedProcess, url: str) -> str:
        process.wait_for_http(f"{url}/")
        self.progress(f"{kind} service at {url}")
        return url

    def _spawn_node(
        self, index: int, services: dict[str, str], deployment: Deployment
    ) -> tuple[str, ManagedProcess, NodeInfo]:
        assert self.anvil is not None
        operator = dev_account(NODE_OPERATORS[index])
        port = self.options.node_port + index if self.options.node_port else self._free_port()
        config = chain_node_config(
            services,
            rpc_url=self.anvil.url,
            registry=deployment.registry,
            operator_key=dev_key(NODE_OPERATORS[index]),
            port=port,
            host=self.options.host,
        )
        node_dir = self.run_dir / f"node{index + 1}"
        node_dir.mkdir(parents=True, exist_ok=True)
        config_path = node_dir / "config.json"
        config_path.write_text(json.dumps(config, indent=2))
        config_path.chmod(0o600)
        name = f"node{index + 1}"
        process = self._spawn(name, kit_command("node", "--config", str(config_path), "--data-dir", str(node_dir)))
        return name, process, NodeInfo(url=self._url(port), address=operator.address, config_path=str(config_path))

    def _ready_node(self, name: str, process: ManagedProcess, node: NodeInfo) -> NodeInfo:
        process.wait_for_http(f"{node.url}/health", timeout=60)
        self.progress(f"{name} at {node.url} (operator {node.address})")
        return node

    def stop(self) -> None:
        """Stop every process started, newest first; safe to call more than once."""
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_recorded_stack() -> list[int]:
    """Stop the processes an earlier `up` recorded; returns the process groups signalled."""
    path = stack_file()
    if not path.is_file():
        return []
    info = StackInfo.model_validate_json(path.read_text())
    stopped = []
    for pid in reversed(info.pids):
        if not _is_stack_process(pid):
            continue  # exited since `up`; the pid may belong to someone else by now
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
            stopped.append(pid)
    path.unlink()
    return stopped


def _is_stack_process(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"infernet_kit" in command or b"anvil" in command
