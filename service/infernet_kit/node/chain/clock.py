"""Chain time as the node expects it when a transaction sent now is mined, from the heads it has seen.

A delivery mined after its interval closed reverts with `IntervalMismatch` and spends gas for nothing; one
that cannot land before the close is better not sent (a newer interval is then answered instead). The
estimate costs no RPC call: the newest head's timestamp, the chain's pace (its block time when recent blocks
came at one regular gap; else 1 s, so an automining chain that is quiet is not mistaken for a slow one), the
chain's offset from the local clock (for blocks made on demand), and how long the transactions already
waiting take at the rate ours were mined lately.
"""

from __future__ import annotations

import math
import time
from collections import deque

from infernet_kit.node.chain.rpc import Block

# Gaps between recent blocks kept to judge the chain's pace; fewer than PACE_MIN say nothing.
PACE_WINDOW = 8
PACE_MIN = 4
# Mined transactions of this node kept to judge how fast the chain takes them (local seconds).
RATE_WINDOW = 10.0


class ChainClock:
    """Estimates the timestamp of the block a transaction sent now lands in."""

    def __init__(self) -> None:
        self._head: Block | None = None
        self._offset = 0.0  # chain time minus local time when the head was seen
        self._gaps: deque[int] = deque(maxlen=PACE_WINDOW)
        self._mined: deque[tuple[float, int]] = deque()  # (local time, our transactions mined in a block)

    def reset(self) -> None:
        """Forget the chain seen so far (it was reset or replaced)."""
        self._head = None
        self._gaps.clear()
        self._mined.clear()

    def observe(self, block: Block, ours: int = 0, *, now: float | None = None) -> None:
        """A new head, with how many of this node's transactions it (and the blocks since the last) held."""
        now = time.time() if now is None else now
        if self._head is not None:
            if block.number <= self._head.number:
                return
            gap = (block.timestamp - self._head.timestamp) / (block.number - self._head.number)
            self._gaps.append(max(1, math.floor(gap)))
        self._head = block
        self._offset = block.timestamp - now
        if ours:
            self._mined.append((now, ours))
        while self._mined and self._mined[0][0] < now - RATE_WINDOW:
            self._mined.popleft()

    @property
    def pace(self) -> int:
        """Seconds of chain time between blocks: the block time of a chain mining at a regular pace, else 1."""
        if len(self._gaps) >= PACE_MIN and len(set(self._gaps)) == 1:
            return self._gaps[0]
        return 1

    def landing(self, backlog: int = 0, *, now: float | None = None) -> int | None:
        """Chain time of the block that takes a transaction sent now behind `backlog` others still waiting;
        None before the first head."""
        if self._head is None:
            return None
        now = time.time() if now is None else now
        next_block = max(self._head.timestamp + self.pace, math.ceil(now + self._offset))
        return next_block + math.ceil(self._queue_seconds(backlog, now))

    def _queue_seconds(self, backlog: int, now: float) -> float:
        """Local seconds beyond the next block the chain needs for `backlog` transactions, at the rate it mined
        ours lately (none known: assume the next block takes them all)."""
        if backlog == 0 or not self._mined:
            return 0.0
        span = max(now - self._mined[0][0], float(self.pace))
        rate = sum(count for _, count in self._mined) / span
        return max(0.0, backlog / rate - self.pace)
