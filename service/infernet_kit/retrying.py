"""The one retry policy of the services and the node, on tenacity.

Each caller keeps its own idea of which failures are transient; this module owns the rest: how many attempts,
the wait after each failed one, and one log line per retry naming the ids. The first attempt runs bare:
tenacity's bookkeeping is only set up once it failed, which keeps the common path (one good attempt) cheap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` in all; `wait(n)` seconds after failed attempt `n` (1-based); only `transient` failures retry."""

    attempts: int
    wait: Callable[[int], float]
    transient: Callable[[Exception], bool]

    def retries(self, exc: BaseException) -> bool:
        return isinstance(exc, Exception) and self.transient(exc)


def exponential(first: float, *, factor: float = 2.0, cap: float | None = None) -> Callable[[int], float]:
    """Waits `first`, `first * factor`, ... after attempts 1, 2, ..., each capped at `cap` when given."""

    def wait(attempt: int) -> float:
        delay = first * factor ** (attempt - 1)
        return delay if cap is None else min(delay, cap)

    return wait


def _wait_after(policy: RetryPolicy, attempt: int) -> float:
    # tenacity asks for the wait before it checks the stop, so also after the last attempt: there is none.
    return policy.wait(attempt) if attempt < policy.attempts else 0.0


def describe(exc: BaseException) -> str:
    """A failure in one line: its message, or its type when it has none."""
    return str(exc) or type(exc).__name__


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    label: str,
    log: logging.Logger,
    reason: Callable[[BaseException], str] = describe,
    on_retry: Callable[[int, BaseException], Awaitable[None]] | None = None,
    done: int = 0,
) -> T:
    """Run `call` under `policy`; the last failure is raised as it is.

    `done` attempts were already made before (a delivery resumed after a restart): numbering goes on from there.
    Before each retry one warning line names `label` (the ids), the attempt and why it failed, and
    `on_retry(attempt, failure)` runs (e.g. to record the attempt).
    """

    async def before_retry(attempt: int, exc: BaseException) -> float:
        delay = policy.wait(attempt)
        log.warning(
            "%s: attempt %d of %d failed (%s); attempt %d of %d in %.2fs",
            label,
            attempt,
            policy.attempts,
            reason(exc),
            attempt + 1,
            policy.attempts,
            delay,
        )
        if on_retry is not None:
            await on_retry(attempt, exc)
        return delay

    first = done + 1
    try:
        return await call()
    except Exception as exc:
        if first >= policy.attempts or not policy.retries(exc):
            raise
        await asyncio.sleep(await before_retry(first, exc))

    async def before_sleep(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome is not None else None
        if failure is not None:
            await before_retry(first + state.attempt_number, failure)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts - first),
        wait=lambda state: _wait_after(policy, first + state.attempt_number),
        retry=retry_if_exception(policy.retries),
        before_sleep=before_sleep,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover
