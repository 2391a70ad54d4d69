"""Calling the inference backend: retries (section 2.3) and the backend's failures in the services' error model."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

from huggingface_hub.errors import HfHubHTTPError, TextGenerationError

from infernet_kit.protocol.container import BackendCall
from infernet_kit.services.errors import ServiceFailure
from infernet_kit.services.retry import Attempts, RetryParams, call_with_retries, http_status, is_transient

T = TypeVar("T")
log = logging.getLogger("infernet_kit.services")

# The backend calls made while serving one request, set per request by the service app: its answer names them
# in a Server-Timing header (`protocol.container.backend_server_timing`).
backend_calls: ContextVar[list[BackendCall] | None] = ContextVar("backend_calls", default=None)


def _backend_message(exc: BaseException) -> str:
    """What the backend said, without the request URL noise; never includes request headers (tokens)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, HfHubHTTPError):
            detail = seen.server_message or seen.response.text[:500]
            return (
                f"HTTP {seen.response.status_code}: {detail.strip()}" if detail else f"HTTP {seen.response.status_code}"
            )
        if isinstance(seen, TextGenerationError):
            return f"{type(seen).__name__}: {seen}"
        seen = seen.__cause__
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def backend_failure(exc: BaseException, attempts: int) -> ServiceFailure:
    """The error answer for a backend call that failed after `attempts` attempts."""
    message = _backend_message(exc)
    status = http_status(exc)
    if is_transient(exc):
        timeout = isinstance(exc, TimeoutError) or "timeout" in type(exc).__name__.lower()
        return ServiceFailure(
            504 if timeout else 502,
            "BackendTimeout" if timeout else "BackendUnavailable",
            f"inference backend failed after {attempts} attempt(s): {message}",
        )
    if status is not None and status in (401, 403):
        return ServiceFailure(
            502, "BackendAuthFailed", f"inference backend refused the service's credentials: {message}"
        )
    if status is not None and 400 <= status < 500:
        return ServiceFailure(status, "BackendRejectedRequest", f"inference backend rejected the request: {message}")
    if isinstance(exc, TextGenerationError):
        return ServiceFailure(422, "BackendRejectedRequest", f"inference backend rejected the request: {message}")
    return ServiceFailure(502, "BackendError", f"inference backend call failed: {message}")


async def call_backend(params: RetryParams, call: Callable[[], Awaitable[T]], what: str) -> T:
    """Run one backend call under the retry policy; any failure becomes a `ServiceFailure`. Its time, retries
    included, is added to the request's `backend_calls`."""
    attempts = Attempts()
    started = time.perf_counter()
    try:
        return await call_with_retries(params, call, attempts, what=what, reason=_backend_message)
    except ServiceFailure:
        raise
    except Exception as exc:
        failure = backend_failure(exc, attempts.count)
        log.warning("%s failed attempts=%d status=%d: %s", what, attempts.count, failure.status, failure.description)
        raise failure from exc
    finally:
        if (calls := backend_calls.get()) is not None:
            calls.append(BackendCall(what=what, ms=(time.perf_counter() - started) * 1000))
