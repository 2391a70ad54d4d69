"""Fixtures for the service part of the local stack: the dev backend and the inference services.

- `dev_backend` (session): `infernet-kit backend` on a free port; a `DevBackendHandle` with `.url`,
  `.inject(fail_next=..., status=..., latency_ms=..., token_delay_ms=...)`, `.stats()` and `.reset()`.
- `tgi_service`, `hf_service` (session): `infernet-kit serve tgi|hf --workers=2` on a free port, configured
  by environment to use the dev backend, with short retry delays; each yields the service's base URL.

Expected answers are computed with `infernet_kit.devstack.fake_models`. To run a service with another
configuration, or any registered kind (`infernet_kit.protocol.registry`; its entry's `dev_env(url)` points it at
the dev backend), use `run_service(kind, env, log_dir)` (a context manager yielding a `RunningService`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from infernet_kit.processes import ManagedProcess, free_port, kit_command
from infernet_kit.protocol import hf, tgi
from infernet_kit.tls import tls_context

__all__ = [
    "DevBackendHandle",
    "RunningService",
    "dev_backend",
    "fast_retry_params",
    "hf_service",
    "hf_service_env",
    "run_service",
    "tgi_service",
    "tgi_service_env",
]

# Retries as the seeds configure them, but with delays small enough for tests.
fast_retry_params: dict[str, Any] = {"tries": 3, "delay": 0.05, "backoff": 2, "max_delay": 0.2, "jitter": [0, 0.01]}


@dataclass
class DevBackendHandle:
    """A running dev backend: its URL and its control endpoint."""

    url: str
    process: ManagedProcess
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=5, trust_env=False, verify=tls_context()))

    def inject(
        self,
        *,
        fail_next: int = 0,
        status: int = 503,
        error: str = "injected fault",
        error_type: str | None = None,
        latency_ms: float = 0.0,
        token_delay_ms: float = 0.0,
    ) -> None:
        """Fail the next `fail_next` inference requests with `status` and/or delay every one by `latency_ms`
        and/or every streamed token after the first by `token_delay_ms`."""
        spec = {
            "fail_next": fail_next,
            "status": status,
            "error": error,
            "latency_ms": latency_ms,
            "token_delay_ms": token_delay_ms,
        }
        if error_type is not None:
            spec["error_type"] = error_type
        self.http.post(f"{self.url}/_control/faults", json=spec).raise_for_status()

    def stats(self) -> dict[str, Any]:
        """`{"requests": n, "failed": n, "by_path": {path: n}, "peak_held": n}` since the last reset (the last:
        the most requests an injected latency held at once), and `held_ports`: the client ports of the requests
        an injected latency holds now."""
        response = self.http.get(f"{self.url}/_control/stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def reset(self) -> None:
        """Clear injected faults and counters."""
        self.http.post(f"{self.url}/_control/reset").raise_for_status()


def tgi_service_env(backend_url: str, **kw_args: Any) -> dict[str, str]:
    """Environment for a TGI service using `backend_url`, fast retries, plus generation `kw_args`."""
    return tgi.service_env(backend_url, timeout=10, retry=fast_retry_params, **kw_args)


def hf_service_env(backend_url: str) -> dict[str, str]:
    """Environment for an HF service using `backend_url` as its HF-compatible endpoint, fast retries."""
    return hf.service_env(backend_url, timeout=10, retry=fast_retry_params)


@dataclass
class RunningService:
    """A service started by `run_service`: its base URL and its supervisor process."""

    url: str
    process: ManagedProcess


@contextmanager
def run_service(kind: str, env: Mapping[str, str], log_dir: Path, *, workers: int = 2) -> Iterator[RunningService]:
    """Run `infernet-kit serve <kind>` with `env` on a free port until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = kit_command("serve", kind, f"--bind=127.0.0.1:{port}", f"--workers={workers}", "--log-level=warning")
    process = ManagedProcess(f"{kind} service", command, log_path=log_dir / f"{kind}-{port}.log", env=dict(env))
    with process:
        process.wait_for_http(f"{url}/", timeout=60)
        yield RunningService(url=url, process=process)


@pytest.fixture(scope="session")
def dev_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevBackendHandle]:
    """The dev backend (`infernet-kit backend`) for the whole session."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("dev-backend") / "backend.log"
    with ManagedProcess("dev backend", kit_command("backend", f"--port={port}"), log_path=log_path) as process:
        process.wait_for_http(f"{url}/health", timeout=60)
        handle = DevBackendHandle(url=url, process=process)
        yield handle
        handle.http.close()


@pytest.fixture(scope="session")
def tgi_service(dev_backend: DevBackendHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The TGI client service (2 workers) in front of the dev backend; yields its base URL."""
    with run_service(tgi.KIND, tgi_service_env(dev_backend.url), tmp_path_factory.mktemp("tgi-service")) as running:
        yield running.url


@pytest.fixture(scope="session")
def hf_service(dev_backend: DevBackendHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The HF inference client service (2 workers) using the dev backend as its endpoint; yields its base URL."""
    with run_service(hf.KIND, hf_service_env(dev_backend.url), tmp_path_factory.mktemp("hf-service")) as running:
        yield running.url
