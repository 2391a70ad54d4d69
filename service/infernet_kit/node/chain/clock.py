"""Chain time as the node expects it when a transaction sent now is mined, from the heads it has seen.

A delivery mined after its interval closed reverts with `IntervalMismatch` and spends gas for nothing; one
that cannot land before the close is better not sent (a newer interval is then answered instead). The
estimate costs no RPC call. The next block comes at the chain's pace after the newest head (its block time,
when recent blocks came at a steady gap), and never before the local clock plus the chain's offset from it
(automine makes blocks on demand, at the current time). While the chain takes ours as they come (each
mined in the block after it was signed), that is where a new one lands too. Once it leaves some behind (it
is full), a transaction sent behind `backlog` others of ours lands as many blocks later as the chain needs
for them, at the most of ours it mined per block lately. On an automining chain it lands at once.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque

from infernet_kit.node.chain.rpc import Block

# Recent blocks kept to judge the chain's pace and how many of ours a block takes; fewer than PACE_MIN gaps
# say nothing.
WINDOW = 16
PACE_MIN = 4


class ChainClock:
    """Estimates the timestamp of the block a transaction sent now lands in."""

    def __init__(self) -> None:
        self._head: Block | None = None
        self._offset = 0.0  # chain time minus local time when the head was seen
        self._gaps: deque[int] = deque(maxlen=WINDOW)
        self._ours: deque[int] = deque(maxlen=WINDOW)  # our transactions per block
        self._late: deque[tuple[int, int]] = deque()  # (head then, blocks a transaction of ours came late)

    def reset(self) -> None:
        """Forget the chain seen so far (it was reset or replaced)."""
        self._head = None
        self._gaps.clear()
        self._ours.clear()
        self._late.clear()

    @property
    def head(self) -> int | None:
        """The newest block number seen."""
        return None if self._head is None else self._head.number

    def landed(self, signed_at: int, mined_in: int) -> None:
        """One of ours, signed when `signed_at` was the newest block, was mined in `mined_in`."""
        self._late.append((mined_in, max(0, mined_in - signed_at - 1)))

    def observe(self, block: Block, ours: int = 0, *, now: float | None = None) -> None:
        """A new head, with how many of this node's transactions it (and the blocks since the last) held."""
        now = time.time() if now is None else now
        if self._head is not None:
            if block.number <= self._head.number:
                return
            blocks = block.number - self._head.number
            self._gaps.append((block.timestamp - self._head.timestamp) // blocks)
            self._ours.append(-(-ours // blocks))
        self._head = block
        self._offset = block.timestamp - now

    @property
    def pace(self) -> int | None:
        """The chain's block time when recent blocks came at a steady gap; None (automine, or not known yet)."""
        if len(self._gaps) < PACE_MIN:
            return None
        low, high = min(self._gaps), max(self._gaps)
        if low < 1 or high > 2 * low:
            return None
        return int(statistics.median_low(self._gaps))

    def landing(self, backlog: int = 0, *, now: float | None = None) -> int | None:
        """Chain time of the block that takes a transaction sent now behind `backlog` of ours still waiting
        (0: the next block); None before the first head."""
        if self._head is None:
            return None
        now = time.time() if now is None else now
        pace = self.pace
        next_block = max(self._head.timestamp + (pace or 1), math.ceil(now + self._offset))
        recent = self._head.number - WINDOW
        while self._late and self._late[0][0] < recent:
            self._late.popleft()
        capacity = max(self._ours, default=0)
        if pace is None or capacity == 0 or not any(late for _, late in self._late):
            return next_block
        return next_block + pace * (backlog // capacity)
