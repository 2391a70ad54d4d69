"""Starts the containers that have a `command` as local `infernet-kit serve` processes (there is no Docker here).

A container whose port already answers is left alone (someone else runs it); those the node started are
stopped when the node stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from infernet_kit.config import ConfigError
from infernet_kit.node.config import ContainerConfig
from infernet_kit.processes import ManagedProcess, ProcessError, kit_command, port_is_open
from infernet_kit.protocol.registry import UnknownService, services

log = logging.getLogger(__name__)


def service_kind(container: ContainerConfig) -> str:
    """Which registered service an entry stands for: its command's first word, else what its image or id names."""
    try:
        registered = services()
    except UnknownService as exc:
        raise ConfigError(str(exc)) from exc
    args = container.command_args
    if args and args[0] in registered:
        return args[0]
    for text in (container.image.lower(), container.id.lower()):
        for entry in registered.values():
            if entry.names(text):
                return entry.kind
    kinds = " or ".join(registered)
    raise ConfigError(
        f"containers[id={container.id}].image: cannot tell which service to run for {container.image or container.id!r}"
        f" (the image or id must name {kinds}, or the command must start with one of them)"
    )


def serve_arguments(container: ContainerConfig) -> list[str]:
    """`serve <kind> ...` arguments: the entry's command, with `--bind` filled in or checked against `port`."""
    kind = service_kind(container)
    args = container.command_args
    if args and args[0] == kind:
        args = args[1:]
    result: list[str] = []
    bound = False
    skip_next = False
    for index, arg in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        value: str | None = None
        if arg.startswith("--bind="):
            value = arg.split("=", 1)[1]
        elif arg in ("--bind", "-b"):
            value = args[index + 1] if index + 1 < len(args) else ""
            skip_next = True
        if value is None:
            result.append(arg)
            continue
        bound = True
        result.append(f"--bind={_checked_bind(container, value)}")
    if not bound:
        result.append(f"--bind=127.0.0.1:{container.port}")
    return [kind, *result]


def _checked_bind(container: ContainerConfig, value: str) -> str:
    # Seed 002 writes `--bind=` with the address left out; the entry's port says where to serve.
    if not value:
        return f"127.0.0.1:{container.port}"
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        return f"{value}:{container.port}"
    if int(port) != container.port:
        raise ConfigError(
            f"containers[id={container.id}].command: --bind port {port} differs from the entry's port {container.port}"
        )
    return f"{host or '127.0.0.1'}:{port}"


class ContainerProcesses:
    """The service processes this node started."""

    def __init__(self, containers: Sequence[ContainerConfig], *, log_dir: Path, startup_wait: float) -> None:
        self._containers = [c for c in containers if c.command is not None]
        self._log_dir = log_dir
        self._startup_wait = startup_wait
        self._processes: list[tuple[ContainerConfig, ManagedProcess]] = []

    def plan(self) -> list[tuple[ContainerConfig, list[str]]]:
        """The command of every entry with a `command`; raises ConfigError before anything starts."""
        return [(container, kit_command("serve", *serve_arguments(container))) for container in self._containers]

    async def start(self) -> None:
        """Start what is not already answering, then wait until each answers `GET /`."""
        for container, command in self.plan():
            assert container.port is not None  # a command requires a port (config validation)
            if port_is_open(container.port):
                log.info("container %s: port %d already answers, not starting it", container.id, container.port)
                continue
            process = ManagedProcess(
                f"container {container.id}",
                command,
                log_path=self._log_dir / f"{container.id}.log",
                env=container.env,
            )
            process.start()
            self._processes.append((container, process))
            log.info("container %s: started `%s` (pid %s)", container.id, " ".join(command[2:]), process.pid)
        timeout = max(self._startup_wait, 60.0)
        try:
            await asyncio.gather(
                *(
                    asyncio.to_thread(process.wait_for_http, f"http://127.0.0.1:{container.port}/", timeout=timeout)
                    for container, process in self._processes
                )
            )
        except ProcessError:
            self.stop()
            raise
        for container, _ in self._processes:
            log.info("container %s: ready on port %d", container.id, container.port)

    def stop(self) -> None:
        for container, process in reversed(self._processes):
            process.stop()
            log.info("container %s: stopped", container.id)
        self._processes.clear()
