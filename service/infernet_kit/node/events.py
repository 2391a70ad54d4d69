"""The node's live event feed (what the dashboard and `GET /api/events` show): what the chain side and the job
runner did, as small JSON events, published without ever waiting on a reader.

Bounded everywhere: the newest `HISTORY` events are kept for readers that join later; each reader has a queue of
`QUEUE_SIZE` events, and a reader that falls that far behind is cut off (its stream ends and the browser's
`EventSource` reconnects to a fresh snapshot) instead of holding memory or slowing a job; at most `MAX_READERS`
read at once. No HTTP here: `node.sse` writes a reader's events to a response.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import to_json

from infernet_kit.protocol.container import decode_string

log = logging.getLogger(__name__)

HISTORY = 100
QUEUE_SIZE = 256
MAX_READERS = 16
MAX_VALUE_CHARS = 1000  # publishers clip free-form values (inputs, outputs) to this (`clipped`)

# Compact UTF-8 JSON this long or shorter is surely within `MAX_VALUE_CHARS` as `json.dumps` writes it: at most
# one space per separator byte, at most 3 characters (`\uXXXX`) per byte of a non-ASCII character.
_SURELY_SHORT = MAX_VALUE_CHARS // 3

EventKind = Literal["subscription", "compute", "job"]


class Event(BaseModel):
    """One thing that happened: `seq` orders events (and tells a reader what it missed), `at` is unix time."""

    seq: int
    at: float
    kind: EventKind
    data: dict[str, Any]


class _Published:
    """An event as published: its data is rendered on first read (most events are never read: only the newest
    `HISTORY` are kept, and a node often has no reader), from values that do not change after publishing."""

    __slots__ = ("_event", "at", "kind", "render", "seq")

    def __init__(self, seq: int, at: float, kind: EventKind, render: Callable[[], dict[str, Any]]) -> None:
        self.seq, self.at, self.kind, self.render = seq, at, kind, render
        self._event: Event | None = None

    def event(self) -> Event:
        if self._event is None:
            # Known-good values (typed fields, a fresh dict): no validation.
            self._event = Event.model_construct(seq=self.seq, at=self.at, kind=self.kind, data=self.render())
        return self._event


class Reader:
    """One reader's queue; `next()` returns None once the reader was cut off or the feed closed."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[_Published | None] = asyncio.Queue(QUEUE_SIZE + 1)
        self.cut_off = False

    def offer(self, event: _Published | None) -> None:
        if self.cut_off:
            return
        if event is not None and self._queue.qsize() >= QUEUE_SIZE:
            self.cut_off = True
            event = None
        self._queue.put_nowait(event)

    async def next(self) -> Event | None:
        """The next event (None: the stream ends)."""
        published = await self._queue.get()
        return None if published is None else published.event()


class EventFeed:
    """Publish from anywhere in the node's loop; read with `join()` / `leave()`."""

    def __init__(self) -> None:
        self._history: deque[_Published] = deque(maxlen=HISTORY)
        self._readers: set[Reader] = set()
        self._seq = 0
        self.closed = False

    def publish(self, kind: EventKind, /, **data: Any) -> None:
        """Record an event and hand it to every reader; never blocks."""
        self.publish_rendered(kind, lambda: data)

    def publish_rendered(self, kind: EventKind, render: Callable[[], dict[str, Any]]) -> None:
        """`publish`, with the data made by `render` when first read: it must depend only on values that do not
        change after this call (it may run much later, or never)."""
        self._seq += 1
        event = _Published(self._seq, time.time(), kind, render)
        self._history.append(event)
        for reader in list(self._readers):
            reader.offer(event)
            if reader.cut_off:
                self._readers.discard(reader)
                log.info("event feed reader cut off at seq=%d: %d events unread", event.seq, QUEUE_SIZE)

    def history(self) -> list[Event]:
        return [published.event() for published in self._history]

    @property
    def readers(self) -> int:
        return len(self._readers)

    def join(self) -> Reader | None:
        """A new reader, or None when `MAX_READERS` already read (or the feed is closed)."""
        if self.closed or len(self._readers) >= MAX_READERS:
            return None
        reader = Reader()
        self._readers.add(reader)
        return reader

    def leave(self, reader: Reader) -> None:
        self._readers.discard(reader)

    def close(self) -> None:
        """The node is stopping: every reader's stream ends now, so none holds the server's shutdown."""
        self.closed = True
        for reader in self._readers:
            reader.offer(None)
        self._readers.clear()


def clipped(value: Any) -> Any:
    """`value`, or the start of its JSON text when that is longer than `MAX_VALUE_CHARS` (bounded history)."""
    if isinstance(value, int | float | bool) or value is None:
        return value
    if not isinstance(value, str) and len(to_json(value, fallback=str)) <= _SURELY_SHORT:
        return value  # every job's input and result: skip `json.dumps`, the slow way to a length
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) <= MAX_VALUE_CHARS:
        return value
    return f"{text[:MAX_VALUE_CHARS]}… ({len(text)} chars)"


def readable(hex_bytes: str) -> str:
    """An on-chain value for people: the text of an `abi.encode(string)` (the services' text inputs and answers),
    else the 0x-hex bytes."""
    raw = bytes.fromhex(hex_bytes.removeprefix("0x"))
    try:
        return decode_string(raw)
    except Exception:
        return "0x" + raw.hex()
