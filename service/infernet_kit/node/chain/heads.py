"""When to look at the chain head: as soon as the RPC announces a block (`eth_subscribe` newHeads over a
WebSocket), or every `sync_period` when only HTTP answers.

Under anvil's automine a block is made the moment a request lands; polling every half second made each
callback wait for the next poll. The subscription only wakes the follower (the head itself is still read
over HTTP, with its transactions), so a lost or missing WebSocket costs latency, never correctness.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiohttp import ClientSession, ClientTimeout, WSMsgType

log = logging.getLogger(__name__)

# While subscribed, the head is still read this often in case an announcement was lost.
SUBSCRIBED_POLL = 5.0
# Between attempts to (re)open the WebSocket.
RECONNECT_DELAY = 10.0


class HeadSignal:
    """Wakes the head follower on each announced block, or after `poll_period` without a subscription."""

    def __init__(self, ws_url: str | None, *, poll_period: float) -> None:
        self._url = ws_url
        self._poll = poll_period
        self._event = asyncio.Event()
        self._subscribed = False
        self._task: asyncio.Task[None] | None = None

    @property
    def subscribed(self) -> bool:
        return self._subscribed

    def start(self) -> None:
        if self._url is not None and self._task is None:
            self._task = asyncio.create_task(self._run(self._url), name="chain-heads")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._subscribed = False

    async def wait(self) -> None:
        """Until a new block is announced, or the poll period (longer while subscribed) has passed."""
        timeout = max(SUBSCRIBED_POLL, self._poll) if self._subscribed else self._poll
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()

    async def _run(self, url: str) -> None:
        failing = False
        while True:
            try:
                await self._listen(url)
                reason = "closed by the RPC"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
            was_subscribed, self._subscribed = self._subscribed, False
            self._event.set()  # look at the head now: blocks may have come while the socket was down
            if was_subscribed or not failing:
                # One line per loss, not one per reconnection attempt.
                log.warning(
                    "no new-heads subscription at %s (%s); polling the head every %gs, retrying in %gs",
                    url,
                    reason,
                    self._poll,
                    RECONNECT_DELAY,
                )
            failing = True
            await asyncio.sleep(RECONNECT_DELAY)

    async def _listen(self, url: str) -> None:
        async with (
            ClientSession(timeout=ClientTimeout(total=None, connect=5)) as session,
            session.ws_connect(url, heartbeat=30) as ws,
        ):
            request = {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}
            await ws.send_str(json.dumps(request))
            answer = await ws.receive_json(timeout=10)
            if "result" not in answer:
                raise RuntimeError(f"eth_subscribe newHeads refused: {answer.get('error')}")
            self._subscribed = True
            self._event.set()
            log.info("following new heads over %s", url)
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    break
                if '"eth_subscription"' in message.data:
                    self._event.set()
