"""Wiring and lifecycle of a node: containers, job store, orchestrator, chain service, REST server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn

from infernet_kit import collector
from infernet_kit.config import ConfigError
from infernet_kit.http_protocol import CoalescingHttpProtocol
from infernet_kit.node.api import NodeApi
from infernet_kit.node.config import NodeConfig
from infernet_kit.node.containers import ContainerProcesses
from infernet_kit.node.events import EventFeed
from infernet_kit.node.guardian import Guardian
from infernet_kit.node.jobs import JobRunner
from infernet_kit.node.orchestrator import Orchestrator
from infernet_kit.node.store import JobStore, open_job_store

if TYPE_CHECKING:
    from infernet_kit.node.chain.service import ChainService

log = logging.getLogger("infernet_kit.node")

# How long a stopping node lets running off-chain jobs finish before failing them.
DRAIN_SECONDS = 5


class SecretMask(logging.Filter):
    """Replaces every configured secret (wallet key, tokens) in a record's final text with `***`."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        values = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in values), re.IGNORECASE) if values else None

    def mask(self, text: str) -> str:
        return self._pattern.sub("***", text) if self._pattern else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is not None:
            message = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.msg, record.args = self.mask(message), None
            if record.exc_text:
                record.exc_text = self.mask(record.exc_text)
        return True


class LineFormatter(logging.Formatter):
    """`asctime level name: message`, formatted once per record for all handlers (stderr and the log file get
    the same line) and with the date part of the time made once per second: a job's log line is on its hot path."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._second = -1
        self._date = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second, self._date = second, time.strftime(self.default_time_format, self.converter(second))
        return f"{self._date},{int(record.msecs):03d}"  # logging's default_msec_format

    def format(self, record: logging.LogRecord) -> str:
        line: str | None = record.__dict__.get("_line")
        if line is None:
            line = record.__dict__["_line"] = super().format(record)
        return line


def configure_logging(config: NodeConfig, *, base_dir: Path) -> None:
    """One line per event to stderr and, when `log_path` (or `log.path`) is set, to that file; secrets masked."""
    mask = SecretMask(config.secrets())
    formatter = LineFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if config.log_file:
        path = Path(config.log_file)
        path = path if path.is_absolute() else base_dir / path
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, encoding="utf-8"))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(mask)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    # No line shows a record's thread or process (`LineFormatter`): not looked up for each (a syscall each).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for noisy in ("httpx", "httpcore", "web3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _chain_service(
    config: NodeConfig, orchestrator: Orchestrator, guardian: Guardian, data_dir: Path, events: EventFeed
) -> ChainService | None:
    if not config.chain.enabled:
        return None
    from infernet_kit.node.chain.service import ChainService

    containers = {c.id: c for c in config.containers}
    return ChainService(config.chain, orchestrator, containers, guardian, data_dir, events)


class Node:
    """Everything a running node holds; `start()` then `stop()`."""

    def __init__(self, config: NodeConfig, data_dir: Path) -> None:
        self.config = config
        self.data_dir = data_dir
        containers = {c.id: c for c in config.containers}
        self.processes = ContainerProcesses(
            config.containers, log_dir=data_dir / "containers", startup_wait=config.startup_wait
        )
        self.guardian = Guardian(
            containers,
            chain_enabled=config.chain.enabled,
            rate_limit=config.server.rate_limit,
            max_containers=config.server.max_containers_per_job,
        )
        self.orchestrator = Orchestrator(containers)
        self.events = EventFeed()
        self.store: JobStore | None = None
        self.jobs: JobRunner | None = None
        self.chain: ChainService | None = None
        self.api: NodeApi | None = None

    async def start(self) -> NodeApi:
        self.processes.plan()  # raises ConfigError on an unusable command before anything starts
        _check_data_dir(self.data_dir)
        await self.processes.start()
        self.store = await open_job_store(self.data_dir, self.config.job_store, self.config.replica)
        self.jobs = JobRunner(self.store, self.orchestrator, self.guardian, self.events)
        self.chain = _chain_service(self.config, self.orchestrator, self.guardian, self.data_dir, self.events)
        if self.chain is not None:
            await self.chain.start()
            log.info("chain service started: node address %s", self.chain.address)
        self.api = NodeApi(
            self.config, self.store, self.jobs, self.orchestrator, self.guardian, self.chain, events=self.events
        )
        return self.api

    async def stop(self) -> None:
        self.events.close()
        if self.jobs is not None:
            await self.jobs.drain(DRAIN_SECONDS)
        if self.chain is not None:
            await self.chain.stop()
        await self.orchestrator.aclose()
        if self.store is not None:
            await self.store.close()
        await asyncio.to_thread(self.processes.stop)


def _listen_socket(host: str, port: int) -> socket.socket:
    """The API's socket, bound before any container starts so a taken or invalid address stops the node first.
    An IPv6 address listens dual-stack: `::` takes IPv4 clients too (uvicorn's own bind would be IPv6-only)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"server.port: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _check_data_dir(path: Path) -> None:
    """Stop the node at start, naming the path, when its data dir cannot be created or written (instead of
    SQLite's "unable to open database file" later, without the path)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(f"data dir {path}: cannot write there: {exc.strerror or exc}") from None


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal capture: `serve()` below owns SIGINT/SIGTERM so that the node
    always runs its shutdown (uvicorn would re-raise the signal and end the process before it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(config: NodeConfig, data_dir: Path) -> None:
    """Run a node until SIGINT/SIGTERM, then stop it gracefully (also when the signal comes during start-up)."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    server: _Server | None = None
    node = Node(config, data_dir)

    def on_signal(signum: int) -> None:
        log.info("node received %s", signal.Signals(signum).name)
        node.events.close()  # event streams end now: the server's shutdown waits on open responses
        if node.store is not None:
            node.store.release_waits()  # so do held answers: they answer now, with the records as they are
        if server is not None and server.started:
            server.should_exit = True
        elif main is not None:
            main.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    sock = _listen_socket(config.server.host, config.server.port)
    try:
        api = await node.start()
        server = _Server(
            uvicorn.Config(
                api.app(),
                http=CoalescingHttpProtocol,
                loop="none",
                lifespan="off",
                proxy_headers=False,  # the client's address is the socket's, never a header's
                access_log=False,
                log_config=None,
                server_header=False,
                backlog=4096,
                timeout_keep_alive=30,
                # Streams still open after this are cut off, and record their jobs failed (never left running).
                timeout_graceful_shutdown=DRAIN_SECONDS,
            )
        )
        collector.settle()  # what the node made while starting (the subscriptions it loaded too)
        log.info(
            "node serving the API on %s:%d with %d container(s), chain %s, data in %s",
            config.server.host,
            config.server.port,
            len(config.containers),
            "enabled" if config.chain.enabled else "disabled",
            data_dir,
        )
        await server.serve(sockets=[sock])
        if not server.started:
            raise ConfigError(f"server.port: cannot listen on {config.server.host}:{config.server.port}")
    except asyncio.CancelledError:
        log.info("node start-up interrupted")
    finally:
        sock.close()
        log.info("node stopping")
        await node.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        log.info("node stopped")


def run(config: NodeConfig, data_dir: Path) -> None:
    """Blocking entry point for the CLI: uvloop when available."""
    try:
        import uvloop

        uvloop.run(serve(config, data_dir))
    except ImportError:
        asyncio.run(serve(config, data_dir))
