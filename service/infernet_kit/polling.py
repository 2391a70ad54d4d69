"""The one polling helper: wait for a positive condition, with a deadline and a message naming what was awaited.

A sleep never proves that something did (or did not) happen; these poll for the condition that shows it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError, AssertionError):
    """The condition did not hold in time (an AssertionError too, so a test reports it as a failure)."""


def _timed_out(what: str, timeout: float, last: object) -> WaitTimeout:
    return WaitTimeout(f"timed out after {timeout:g}s waiting for {what} (last seen: {repr(last)[:200]})")


def wait_until(predicate: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.05, what: str) -> T:
    """Call `predicate` until it returns something truthy and return that; `WaitTimeout` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, value)
        time.sleep(interval)


async def wait_until_async(
    predicate: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 30.0,  # noqa: ASYNC109 (the twin of `wait_until`: same arguments, same error)
    interval: float = 0.05,
    what: str,
) -> T:
    """The asynchronous twin of `wait_until`: `predicate` is awaited, the waits do not block the loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, value)
        await asyncio.sleep(interval)
