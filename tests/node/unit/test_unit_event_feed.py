"""The node's event feed never waits on a reader and stays bounded: a reader that falls behind is cut off, the
history keeps the newest events, readers beyond the limit are refused, and closing the feed ends every reader."""

from __future__ import annotations

import asyncio
import logging

import pytest

from infernet_kit.node.events import HISTORY, MAX_READERS, MAX_VALUE_CHARS, QUEUE_SIZE, EventFeed, clipped, readable
from infernet_kit.protocol.container import encode_string


async def test_a_reader_gets_events_in_order_until_it_falls_behind(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="infernet_kit.node.events")
    feed = EventFeed()
    slow, fast = feed.join(), feed.join()
    assert slow is not None and fast is not None
    feed.publish("job", id="a", status="running")
    first = await asyncio.wait_for(fast.next(), 1)
    assert first is not None and (first.seq, first.kind, first.data) == (1, "job", {"id": "a", "status": "running"})

    for number in range(QUEUE_SIZE + 5):  # `slow` never reads: it is cut off, publishing never blocks
        feed.publish("job", id=str(number), status="success")
    assert slow.cut_off and feed.readers == 0
    assert f"event feed reader cut off at seq={QUEUE_SIZE + 1}: {QUEUE_SIZE} events unread" in caplog.text
    assert [(await asyncio.wait_for(slow.next(), 1)) is not None for _ in range(QUEUE_SIZE)] == [True] * QUEUE_SIZE
    assert await asyncio.wait_for(slow.next(), 1) is None  # the end of its stream
    assert len(feed.history()) == HISTORY and feed.history()[-1].data["id"] == str(QUEUE_SIZE + 4)


async def test_readers_are_limited_and_closing_ends_them() -> None:
    feed = EventFeed()
    readers = [feed.join() for _ in range(MAX_READERS)]
    assert all(readers) and feed.join() is None
    feed.leave(readers[0])  # type: ignore[arg-type]
    assert feed.join() is not None
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(readers[1].next(), 0.01)  # type: ignore[union-attr]
    feed.close()
    assert await asyncio.wait_for(readers[1].next(), 1) is None  # type: ignore[union-attr]
    assert feed.join() is None and feed.readers == 0


def test_values_are_clipped_and_answers_decoded() -> None:
    assert clipped({"text": "short"}) == {"text": "short"}
    long = clipped({"text": "x" * MAX_VALUE_CHARS})
    assert (
        isinstance(long, str) and long.startswith('{"text": "xxx') and long.endswith(f"({MAX_VALUE_CHARS + 12} chars)")
    )
    assert readable(encode_string("the sky is blue").hex()) == "the sky is blue"
    assert readable("0x0102") == "0x0102"
