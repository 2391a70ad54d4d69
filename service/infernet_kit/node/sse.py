"""The HTTP side of the event feed (`GET /api/events`): server-sent events, a `snapshot` first, then each
event of `node.events` as it happens, a comment line every `KEEPALIVE` seconds while nothing does.

The stream ends when the client goes away, when it fell too far behind (the feed cut it off: `EventSource`
reconnects to a fresh snapshot), or when the node stops; the reader leaves the feed in every case.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

from pydantic import BaseModel, Json
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from infernet_kit.node.chain.report import SubscriptionView
from infernet_kit.node.events import Event, EventFeed, Reader

KEEPALIVE = 15.0  # seconds; also how often a quiet stream notices that it was cut off
RETRY_MS = 1000  # what `EventSource` waits before reconnecting


class Snapshot(BaseModel):
    """The first event: the node, its subscriptions as `GET /api/subscriptions` tells them, the newest events."""

    node: str
    judged_block: int | None
    containers: list[str]
    subscriptions: list[SubscriptionView]
    events: list[Event]


class ServerSentEvent(BaseModel):
    """One event on the wire (its OpenAPI schema): `data` is the snapshot, or one `Event` named by `event`."""

    event: Literal["snapshot", "subscription", "compute", "job"]
    data: Json[Snapshot | Event]
    id: str | None = None
    retry: int | None = None


def frame(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One server-sent event (the JSON is one line: json.dumps never writes newlines by default)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class EventStream(Response):
    """The response to `GET /api/events`: `snapshot` is what the page draws first; `follow=False` ends there."""

    media_type = "text/event-stream"

    def __init__(self, feed: EventFeed, reader: Reader, snapshot: Snapshot, *, follow: bool) -> None:
        # Not Response.__init__: this response builds its own messages, like starlette's StreamingResponse.
        self.feed = feed
        self.reader = reader
        self.snapshot = snapshot
        self.follow = follow

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),
        ]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            first = f"retry: {RETRY_MS}\n\n".encode() + frame("snapshot", self.snapshot.model_dump(mode="json"))
            await send({"type": "http.response.body", "body": first, "more_body": self.follow})
            if self.follow:
                await self._follow(receive, send)
        finally:
            self.feed.leave(self.reader)

    async def _follow(self, receive: Receive, send: Send) -> None:
        """Send events until the feed ends this reader (then end the body) or the client leaves (send nothing)."""
        gone = asyncio.ensure_future(_disconnect(receive))
        pump = asyncio.ensure_future(self._pump(send))
        try:
            done, _ = await asyncio.wait({gone, pump}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            pump.cancel()
            await asyncio.gather(gone, pump, return_exceptions=True)
        if pump in done and gone not in done and pump.exception() is None:
            await send({"type": "http.response.body", "body": b""})

    async def _pump(self, send: Send) -> None:
        while True:
            try:
                async with asyncio.timeout(KEEPALIVE):
                    event = await self.reader.next()
            except TimeoutError:
                await send({"type": "http.response.body", "body": b": keepalive\n\n", "more_body": True})
                continue
            if event is None:
                return
            body = frame(event.kind, event.model_dump(mode="json"), event.seq)
            await send({"type": "http.response.body", "body": body, "more_body": True})


async def _disconnect(receive: Receive) -> Message:
    while (message := await receive())["type"] != "http.disconnect":
        pass
    return message
