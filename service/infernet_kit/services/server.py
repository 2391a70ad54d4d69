"""Serving an ASGI app factory on N worker processes (uvicorn workers on uvloop + httptools).

Each worker binds its own listening socket on the same address with SO_REUSEPORT, so the kernel spreads
connections evenly across workers; one shared socket let keep-alive load pile onto one worker (PROTOCOL.md
section 5). Workers ignore SIGPIPE (a client that disconnects mid-request must not kill a worker), the
listen backlog is large (a flood of new connections must not overflow it), and a worker that dies after
starting is replaced. The parent only supervises.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import signal
import socket
import sys
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType

from infernet_kit import collector
from infernet_kit.protocol.defaults import DEFAULT_BIND

log = logging.getLogger("infernet_kit.server")

BACKLOG = 4096
KEEP_ALIVE_SECONDS = 75
# A worker that exits with an error this soon after being started failed to start (bad config, import error):
# stop them all. One killed by a signal (a negative exit code: SIGKILL, the OOM killer) crashed: replace it.
STARTUP_GRACE_SECONDS = 20.0
_PR_SET_PDEATHSIG = 1


class BindError(ValueError):
    """A `--bind` value that is not `host:port`."""


@dataclass(frozen=True)
class Bind:
    host: str
    port: int

    @property
    def family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_bind(value: str) -> Bind:
    """`host:port`, `[v6]:port` or `:port` (all interfaces); empty means the default 0.0.0.0:3000."""
    text = value.strip() or DEFAULT_BIND
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise BindError(f"--bind must be host:port, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    try:
        port = int(port_text)
    except ValueError as exc:
        raise BindError(f"--bind port must be a number, got {port_text!r}") from exc
    if not 0 < port < 65536:
        raise BindError(f"--bind port must be 1-65535, got {port}")
    return Bind(host, port)


def listening_socket(bind: Bind) -> socket.socket:
    """A socket listening on `bind`, sharing the port with the other workers (SO_REUSEPORT)."""
    sock = socket.socket(bind.family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((bind.host, bind.port))
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock


def _address_in_use(bind: Bind) -> bool:
    """Whether something already answers on the port (SO_REUSEPORT alone would let us share it silently)."""
    probe_host = "127.0.0.1" if bind.host in ("0.0.0.0", "") else ("::1" if bind.host == "::" else bind.host)
    family = socket.AF_INET6 if ":" in probe_host else socket.AF_INET
    with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((probe_host, bind.port)) == 0


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s[%(process)d] %(message)s", stream=sys.stderr
    )


def _exit_with_parent() -> None:
    """Ask Linux to SIGTERM this worker when the supervisor dies, even by SIGKILL (no orphaned workers)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _preload(app: str) -> None:
    """Import what the workers run (uvicorn, the protocol, the factory's module) here, before they are forked: each
    starts with the modules loaded instead of importing them again (0.7 s of CPU per worker on the 2-core test
    machine, where the suite starts dozens of services). Each worker still builds its own app (the factory).

    Then settle the collector (`collector.settle`): frozen before the fork, what was imported is never scanned by a
    worker's own settling, which otherwise collected it all again in each (~60 ms of CPU per worker)."""
    import importlib

    # With what each worker's `Config.load()` imports (lifespan="on", ws="auto").
    import uvicorn.lifespan.on
    import uvicorn.protocols.websockets.auto  # noqa: F401

    import infernet_kit.http_protocol  # noqa: F401

    importlib.import_module(app.partition(":")[0])
    collector.settle()


def _worker(app: str, bind: Bind, log_level: str) -> None:
    """One worker process: its own SO_REUSEPORT socket, one event loop, the app built by its factory."""
    import uvicorn

    from infernet_kit.http_protocol import CoalescingHttpProtocol

    _exit_with_parent()
    _configure_logging(log_level)
    sock = listening_socket(bind)
    config = uvicorn.Config(
        app,
        factory=True,
        loop="uvloop",
        http=CoalescingHttpProtocol,
        lifespan="on",
        access_log=False,
        # No app served here reads a client's address from headers: uvicorn's proxy-header middleware would be a
        # layer on every request for nothing (and the dev backend's held ports must be the socket's).
        proxy_headers=False,
        log_level=log_level,
        backlog=BACKLOG,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_config=None,
        server_header=False,
        date_header=False,
    )
    config.load()
    collector.settle()  # the modules and the app, built: never scanned again
    # After the app and its libraries are imported: whatever they did to SIGPIPE, a broken connection must
    # surface as an error on that connection, never kill the worker.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(3)


class Supervisor:
    """Starts the workers, replaces ones that die, stops them all on SIGTERM/SIGINT."""

    def __init__(self, app: str, bind: Bind, workers: int, log_level: str) -> None:
        self.app = app
        self.bind = bind
        self.count = workers
        self.log_level = log_level
        self.context = multiprocessing.get_context("fork")
        self.workers: list[tuple[BaseProcess, float]] = []
        self.stopping = False

    def _spawn(self) -> tuple[BaseProcess, float]:
        process = self.context.Process(
            target=_worker, args=(self.app, self.bind, self.log_level), name="infernet-kit-worker", daemon=False
        )
        process.start()
        return process, time.monotonic()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        try:
            _preload(self.app)
        except Exception:
            log.exception("cannot load %s; stopping", self.app)
            return 1
        self.workers = [self._spawn() for _ in range(self.count)]
        log.info("serving %s on %s with %d worker(s)", self.app, self.bind, self.count)
        code = 0
        while not self.stopping:
            time.sleep(0.2)
            for index, (process, started) in enumerate(self.workers):
                if process.is_alive() or self.stopping:
                    continue
                if time.monotonic() - started < STARTUP_GRACE_SECONDS and (process.exitcode or 0) > 0:
                    log.error("worker %s failed to start (exit code %s); stopping", process.pid, process.exitcode)
                    self.stopping = True
                    code = 1
                    break
                log.warning("worker %s exited with code %s; starting a new one", process.pid, process.exitcode)
                self.workers[index] = self._spawn()
        self._shutdown()
        return code

    def _shutdown(self) -> None:
        for process, _ in self.workers:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
        deadline = time.monotonic() + 10
        for process, _ in self.workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def serve(app: str, *, bind: Bind, workers: int, log_level: str = "info") -> int:
    """Serve the factory `module:function` on `bind` with `workers` processes; the exit code."""
    _configure_logging(log_level)
    if _address_in_use(bind):
        log.error("cannot bind %s: the address is already in use", bind)
        return 1
    try:
        listening_socket(bind).close()
    except OSError as exc:
        log.error("cannot bind %s: %s", bind, exc.strerror or exc)
        return 1
    return Supervisor(app, bind, workers, log_level).run()
