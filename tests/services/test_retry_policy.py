"""The one retry policy (`infernet_kit.retrying`) and the one polling helper (`infernet_kit.polling`) on their own."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import pytest

from infernet_kit.polling import WaitTimeout, wait_until, wait_until_async
from infernet_kit.retrying import RetryPolicy, call_with_retries, exponential

log = logging.getLogger("test_retry_policy")


class Transient(Exception):
    pass


class Final(Exception):
    pass


def _policy(attempts: int) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, wait=lambda _: 0.0, transient=lambda exc: isinstance(exc, Transient))


def _failing(failures: list[Exception]) -> tuple[list[int], Callable[[], Awaitable[str]]]:
    calls: list[int] = []

    async def call() -> str:
        calls.append(len(calls) + 1)
        if failures:
            raise failures.pop(0)
        return "done"

    return calls, call


async def test_transient_failures_are_retried_with_one_line_each(caplog: pytest.LogCaptureFixture) -> None:
    calls, call = _failing([Transient("busy"), Transient("still busy")])
    retried: list[tuple[int, str]] = []

    async def on_retry(attempt: int, exc: BaseException) -> None:
        retried.append((attempt, str(exc)))

    with caplog.at_level(logging.WARNING, logger=log.name):
        result = await call_with_retries(call, _policy(3), label="job=7", log=log, on_retry=on_retry)

    assert result == "done"
    assert calls == [1, 2, 3]
    assert retried == [(1, "busy"), (2, "still busy")]
    lines = [r.getMessage() for r in caplog.records if r.name == log.name]
    assert lines == [
        "job=7: attempt 1 of 3 failed (busy); attempt 2 of 3 in 0.00s",
        "job=7: attempt 2 of 3 failed (still busy); attempt 3 of 3 in 0.00s",
    ]


async def test_a_failure_that_is_not_transient_is_raised_at_once() -> None:
    calls, call = _failing([Final("bad request")])
    with pytest.raises(Final):
        await call_with_retries(call, _policy(3), label="job=8", log=log)
    assert calls == [1]


async def test_the_last_failure_is_raised_after_all_attempts() -> None:
    calls, call = _failing([Transient("1"), Transient("2"), Transient("3"), Transient("4")])
    with pytest.raises(Transient, match=r"^3$"):
        await call_with_retries(call, _policy(3), label="job=9", log=log)
    assert calls == [1, 2, 3]


async def test_attempts_made_before_a_restart_count() -> None:
    calls, call = _failing([Transient("1"), Transient("2")])
    with pytest.raises(Transient, match=r"^2$"):
        await call_with_retries(call, _policy(3), label="job=10", log=log, done=1)
    assert calls == [1, 2]


async def test_the_waits_are_taken_between_attempts() -> None:
    _, call = _failing([Transient("1"), Transient("2")])
    policy = RetryPolicy(attempts=3, wait=exponential(0.05), transient=lambda exc: isinstance(exc, Transient))
    started = time.monotonic()
    await call_with_retries(call, policy, label="job=11", log=log)
    assert time.monotonic() - started >= 0.05 + 0.1


def test_exponential_waits_double_up_to_the_cap() -> None:
    assert [exponential(0.05, cap=0.15)(n) for n in (1, 2, 3, 4)] == [0.05, 0.1, 0.15, 0.15]


def test_wait_until_returns_the_first_truthy_value() -> None:
    values = iter([None, 0, {"id": 1}])
    assert wait_until(lambda: next(values), timeout=5, interval=0.001, what="a record") == {"id": 1}


def test_wait_until_names_what_it_waited_for() -> None:
    with pytest.raises(WaitTimeout, match=r"timed out after 0.05s waiting for the answer \(last seen: False\)"):
        wait_until(lambda: False, timeout=0.05, interval=0.01, what="the answer")


async def test_wait_until_async_awaits_the_predicate_without_blocking_the_loop() -> None:
    ticks: list[int] = []

    async def ticker() -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0.005)

    async def enough() -> bool:
        return len(ticks) >= 5

    task = asyncio.create_task(ticker())
    try:
        assert await wait_until_async(enough, timeout=5, interval=0.005, what="five ticks") is True
    finally:
        task.cancel()
    with pytest.raises(WaitTimeout, match="waiting for nothing"):
        await wait_until_async(lambda: asyncio.sleep(0, result=None), timeout=0.02, interval=0.005, what="nothing")
