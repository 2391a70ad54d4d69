"""A bounded number of deliveries between dispatch and signing, newest intervals first.

With more due intervals than the chain takes, thousands of deliveries all reading inputs and running
containers at once starve the node's event loop (it then sees new blocks late) and send the oldest work
first. Slots bound that stretch; a freed slot goes to the waiting delivery whose interval opened last (it
has the most time left), and a slot is given back as soon as its transaction is signed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools


class Slot:
    """One taken slot; `release` is idempotent (called on signing, and again when the delivery ends)."""

    def __init__(self, owner: PrioritySlots) -> None:
        self._owner: PrioritySlots | None = owner

    def release(self) -> None:
        if self._owner is not None:
            owner, self._owner = self._owner, None
            owner._release()


class PrioritySlots:
    """`size` slots; waiters with the highest `priority` get the next free one (ties: first come)."""

    def __init__(self, size: int) -> None:
        self._size = self._free = size
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def taken(self) -> int:
        return self._size - self._free

    async def acquire(self, priority: int) -> Slot:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return Slot(self)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (-priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # handed a slot at the moment of cancellation: pass it on
            raise
        return Slot(self)

    def _release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)
                return
        self._free += 1
