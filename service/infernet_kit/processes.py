"""The one way the kit starts, watches and stops local processes (anvil, services, nodes, backend)."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from infernet_kit.polling import WaitTimeout, wait_until


class ProcessError(RuntimeError):
    """A managed process died or never became ready; the message carries its log tail."""


# Ports handed out below the kernel's ephemeral range: one from inside it may be taken by any outgoing
# connection between the check and the server's own bind.
LOWEST_CHOSEN_PORT = 10_000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# The operating system's randomness: the `random` module's state can be seeded alike in every test worker (by a
# test or a library under test), and then the workers all pick the same ports.
_PORT_PICKER = random.SystemRandom()


def _ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0  # unknown: let the kernel choose


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now, outside the ephemeral range where it can be."""
    start = _ephemeral_start()
    for _ in range(100 if start > LOWEST_CHOSEN_PORT else 0):
        with socket.socket() as sock:
            try:
                sock.bind((host, _PORT_PICKER.randrange(LOWEST_CHOSEN_PORT, start)))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket()) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def local_address(host: str) -> str:
    """Where this machine reaches a listener bound to `host` (a wildcard bind is reached on loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def kit_command(*args: str) -> list[str]:
    """The `infernet-kit` CLI run by this interpreter, so children use the same environment."""
    return [sys.executable, "-m", "infernet_kit", *args]


class ManagedProcess:
    """A child process in its own session, logging to a file, stopped with its whole process group."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _check_alive(self) -> None:
        if not self.running():
            code = self._process.returncode if self._process else None
            raise ProcessError(f"{self.name} exited with code {code}; last log lines:\n{self.log_tail()}")

    def _alive_and(self, probe: Callable[[], bool]) -> bool:
        self._check_alive()
        return probe()

    def wait_for_port(self, port: int, *, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
        """Wait until `port` accepts connections; fail at once with the log tail if the process dies."""
        try:
            wait_until(lambda: self._alive_and(lambda: port_is_open(port, host)), timeout=timeout, what="the port")
        except WaitTimeout:
            raise ProcessError(f"{self.name} did not open port {port} within {timeout:.0f}s") from None

    def wait_for_http(self, url: str, *, timeout: float = 30.0) -> None:
        """Wait until `url` answers 2xx; fail at once with the log tail if the process dies."""
        try:
            wait_until(lambda: self._alive_and(lambda: _answers(url)), timeout=timeout, what=url)
        except WaitTimeout:
            raise ProcessError(f"{self.name} did not answer {url} within {timeout:.0f}s") from None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after `timeout`."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _answers(url: str) -> bool:
    """Whether `url` answers 2xx now."""
    # Imported here: httpx imports its command line's libraries (click, rich, pygments: ~0.14 s of CPU) with
    # itself, and the node, which imports this module for its command containers, never needs it otherwise.
    import httpx

    from infernet_kit.tls import tls_context

    try:
        return httpx.get(url, timeout=1.0, verify=tls_context()).is_success
    except httpx.HTTPError:
        return False
