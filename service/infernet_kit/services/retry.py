"""Retry parameters of both services (PROTOCOL.md section 2.3) and what they count as transient.

`tries` total attempts; after a failed attempt wait `delay`, then `delay = delay * backoff + jitter`
(a `[low, high]` jitter adds `uniform(low, high)`, a number is added as is), capped at `max_delay` when set.
Only transient failures are retried: connection errors, timeouts, HTTP 429 and 5xx, TGI "overloaded".
A request the backend rejected as invalid (other 4xx, TGI validation errors) fails at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx2
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError, OverloadedError, TextGenerationError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from infernet_kit import retrying
from infernet_kit.retrying import RetryPolicy, describe

T = TypeVar("T")
log = logging.getLogger("infernet_kit.services")


class RetryParams(BaseModel):
    """The `retry_params` object of the seeds, with the reference defaults."""

    model_config = ConfigDict(extra="forbid")

    tries: int = Field(default=3, ge=1)
    delay: float = Field(default=3.0, ge=0)
    backoff: float = Field(default=2.0, ge=0)
    max_delay: float | None = Field(default=None, ge=0)
    jitter: float | tuple[float, float] = (0.5, 1.5)

    @field_validator("jitter")
    @classmethod
    def _ordered(cls, value: float | tuple[float, float]) -> float | tuple[float, float]:
        if isinstance(value, tuple) and value[0] > value[1]:
            raise ValueError("jitter [low, high] needs low <= high")
        return value

    def delays(self) -> list[float]:
        """The waits between attempts, in order (`tries - 1` of them); random jitter is drawn anew each call."""
        waits: list[float] = []
        delay = self.delay
        for _ in range(self.tries - 1):
            waits.append(delay)
            jitter = random.uniform(*self.jitter) if isinstance(self.jitter, tuple) else self.jitter
            delay = delay * self.backoff + jitter
            if self.max_delay is not None:
                delay = min(delay, self.max_delay)
        return waits


def http_status(exc: BaseException) -> int | None:
    """The backend's HTTP status behind an error, following `raise ... from` chains."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, HfHubHTTPError):
            return int(seen.response.status_code)
        seen = seen.__cause__
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt may succeed: connection trouble, timeouts, 429, 5xx, an overloaded server."""
    if isinstance(exc, OverloadedError | InferenceTimeoutError | TimeoutError | asyncio.TimeoutError):
        return True
    status = http_status(exc)
    if status is not None:
        return status == 429 or status >= 500
    if isinstance(exc, TextGenerationError):
        return False
    return isinstance(exc, httpx2.TransportError | ConnectionError)


class Attempts:
    """How many attempts one call took (for logs and error messages)."""

    def __init__(self) -> None:
        self.count = 0


async def call_with_retries(
    params: RetryParams,
    call: Callable[[], Awaitable[T]],
    attempts: Attempts | None = None,
    *,
    what: str = "backend call",
    reason: Callable[[BaseException], str] = describe,
) -> T:
    """Run `call` under `params` (the kit's one retry policy, with `is_transient` deciding); the last failure is
    raised as it is. `reason` words a failure for the retry log line: it must not reveal credentials."""
    counter = attempts or Attempts()
    delays: list[float] = []  # drawn on the first failure only: the common path never needs them

    def wait(attempt: int) -> float:
        if not delays:
            delays.extend(params.delays())
        return delays[attempt - 1]

    async def counted() -> T:
        counter.count += 1
        return await call()

    policy = RetryPolicy(attempts=params.tries, wait=wait, transient=is_transient)
    return await retrying.call_with_retries(counted, policy, label=what, log=log, reason=reason)
