"""Chain time as the node expects it when a transaction sent now is mined, from the heads it has seen.

A delivery mined after its interval closed reverts with `IntervalMismatch` and spends gas for nothing; one
that cannot land before the close is better not sent (a newer interval is then answered instead). The
estimate costs no RPC call. The next block comes at the chain's pace after the newest head (its block time,
when recent blocks came at a steady gap), and never before the local clock plus the chain's offset from it
(automine makes blocks on demand, at the current time; a chain out of CPU makes them late, at the time they
are made). The offset is the largest of the recent heads': a node too busy to see a head at once would
otherwise take the chain to be behind. On an automining chain (blocks on demand, many in one second) a
transaction lands at once.

Behind a backlog of ours, how many of ours one block takes decides the wait: the blocks the backlog needs,
each as long as the recent mean gap, with a quarter more time. A block that took all of ours there were (none
waited in the node or the mempool) says only what we had, never what the chain and the node can do: it is no
bound (a burst that follows a few quiet deliveries must not be judged by them). Until a block takes ours while
more wait, a block takes as many of ours as its gas limit holds at the most gas one of ours used lately;
before either is known, the backlog is taken to fit in the next block. Once a block took ours while more
waited, the most of ours one recent block took is what they take: the chain, or the node itself (its CPU,
its mempool depth) on a loaded machine, where blocks still come on time. Once the chain leaves ours behind
(it is full: a block left some in the mempool, or one landed late), ours also land no sooner than at the
rate it mined ours lately in chain time, with a quarter more time and a block later for safety: a chain that
runs out of CPU makes its blocks late and uneven (gaps of 1, 3, 2 s at a 1-second block time), so a count
per block alone would say little, while ours per second of chain time is what it takes. Everything but the
local clock is worked out once per head: the estimate is asked for every delivery queued, at every send.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
from dataclasses import dataclass

from infernet_kit.node.chain.rpc import Block

# Recent blocks kept to judge the chain's pace and how fast it mines ours; fewer than PACE_MIN gaps say
# nothing about the pace.
WINDOW = 16
PACE_MIN = 4
# Time allowed for the transactions ahead on a full chain, against the rate it mined ours at lately.
RATE_MARGIN = 1.25
# A chain with at least 1 / AUTOMINE_SHARE of its recent gaps at 0 s makes its blocks on demand.
AUTOMINE_SHARE = 4
# A transaction of ours mined this many blocks after the one following its signing was left behind.
LATE_BLOCKS = 1


@dataclass(frozen=True)
class _Seen:
    seconds: int  # chain time since the previous head seen
    ours: int  # our transactions mined in this block and those since the previous head seen
    full: bool  # it left some of ours behind: it took what the chain could, not what we sent
    pressed: bool  # more of ours waited (in the node or the mempool): it took what chain and node could do


@dataclass(frozen=True)
class _Pace:
    """What the recent heads say, worked out once per head: `landing` is asked for every delivery queued."""

    pace: int | None = None  # the block time, when steady
    automine: bool = False
    mean_gap: float = 1.0
    offset: float = 0.0  # the largest chain-minus-local offset
    full: bool = False  # a recent block left ours behind
    pressed: bool = False  # a recent block took ours while more waited
    taken: int = 0  # the most of ours one recent block took


class ChainClock:
    """Estimates the timestamp of the block a transaction sent now lands in."""

    def __init__(self) -> None:
        self._head: Block | None = None
        # Chain time minus local time when each recent head was seen. A head seen late (the node was busy)
        # says the chain is behind the local clock by the delay: the largest is the one seen soonest.
        self._offsets: deque[float] = deque(maxlen=WINDOW)
        self._seen: deque[_Seen] = deque(maxlen=WINDOW)
        self._gaps: deque[int] = deque(maxlen=WINDOW)
        self._late_in: int | None = None  # the newest block that held one of ours it had left behind before
        self._rate: float | None = None
        self._per_block: deque[int] = deque(maxlen=WINDOW)  # ours mined per block, between the heads seen
        self._gas: deque[int] = deque(maxlen=WINDOW)  # gas used by each of ours that landed lately
        self._most_gas = 0  # the largest of those
        self._now = _Pace()

    def reset(self) -> None:
        """Forget the chain seen so far (it was reset or replaced)."""
        self._head = None
        self._offsets.clear()
        self._seen.clear()
        self._gaps.clear()
        self._late_in = None
        self._rate = None
        self._per_block.clear()
        self._gas.clear()
        self._most_gas = 0
        self._now = _Pace()

    @property
    def head(self) -> int | None:
        """The newest block number seen."""
        return None if self._head is None else self._head.number

    def landed(self, signed_at: int, mined_in: int, gas_used: int) -> None:
        """One of ours, signed when `signed_at` was the newest block, was mined in `mined_in` using `gas_used`."""
        self._gas.append(gas_used)
        self._most_gas = max(self._gas)
        if mined_in - signed_at - 1 >= LATE_BLOCKS:
            self._late_in = max(self._late_in or 0, mined_in)

    @property
    def head_time(self) -> int | None:
        """The newest head's timestamp: the earliest the next block can have (a chain may make two in one second)."""
        return None if self._head is None else self._head.timestamp

    @property
    def head_made_at(self) -> float:
        """Local time by which the newest head was made (0 before any): a transaction broadcast before it was
        there for the next block to take."""
        return 0.0 if self._head is None else self._head.timestamp - self._now.offset

    def observe(
        self, block: Block, ours: int = 0, *, left_behind: int = 0, waiting: int = 0, now: float | None = None
    ) -> None:
        """A new head, with how many of this node's transactions it (and the blocks since the last) held, how
        many it left behind (broadcast before the previous head was made, `head_made_at`, still waiting) and
        how many more were due and not sent yet (`waiting`: the node's own backlog)."""
        now = time.time() if now is None else now
        if self._head is not None:
            if block.number <= self._head.number:
                return
            seconds = block.timestamp - self._head.timestamp
            self._gaps.append(seconds // (block.number - self._head.number))
            self._per_block.append(ours // (block.number - self._head.number))
            pressed = ours > 0 and left_behind + waiting > 0
            self._seen.append(_Seen(seconds, ours, full=ours > 0 and left_behind > 0, pressed=pressed))
            self._rate = self._measured_rate() or self._rate
        self._head = block
        self._offsets.append(block.timestamp - now)
        self._now = self._pace()

    def _pace(self) -> _Pace:
        gaps = self._gaps
        steady = len(gaps) >= PACE_MIN and min(gaps) >= 1 and max(gaps) <= 2 * min(gaps)
        pace = int(statistics.median_low(gaps)) if steady else None
        return _Pace(
            pace=pace,
            automine=AUTOMINE_SHARE * sum(gap == 0 for gap in gaps) >= max(1, len(gaps)),
            mean_gap=max(statistics.fmean(gaps) if gaps else 1.0, float(pace or 1)),
            offset=max(self._offsets),
            full=any(seen.full for seen in self._seen),
            pressed=any(seen.pressed for seen in self._seen),
            taken=max(self._per_block, default=0),
        )

    @property
    def pace(self) -> int | None:
        """The chain's block time when recent blocks came at a steady gap; None (automine, or not known yet)."""
        return self._now.pace

    @property
    def rate(self) -> float | None:
        """Our transactions the chain mines per second of chain time when it has more of ours than it takes:
        measured over the recent full blocks, or the last such measure; None when not known, or when the chain
        often made several blocks in one second (automine, which mines each on arrival; a chain with a block
        time does it only now and then, catching up)."""
        return None if self._now.automine else self._rate

    @property
    def capacity(self) -> int | None:
        """How many of ours one block takes. Once a recent block took ours while more waited (or the chain is
        full), the most of ours one recent block took; otherwise as many as the block gas limit holds at the
        most gas one of ours used lately (never fewer than a recent block took). None when nothing bounds it: a
        backlog fits in the next block."""
        taken = self._now.taken
        if self._head is not None and (self._now.pressed or self._left_behind()):
            return taken or None
        gas_limit = None if self._head is None else self._head.gas_limit
        if gas_limit is None or not self._most_gas:
            return None
        return max(taken, gas_limit // self._most_gas, 1)

    def _measured_rate(self) -> float | None:
        full = [seen for seen in self._seen if seen.full]
        seconds = sum(seen.seconds for seen in full)
        return sum(seen.ours for seen in full) / seconds if seconds > 0 else None

    def _left_behind(self) -> bool:
        """Whether the chain left ours behind lately (it is full): a recent block did, or one of ours landed
        late (known only once its receipt is read)."""
        assert self._head is not None
        late = self._late_in is not None and self._late_in >= self._head.number - WINDOW
        return late or self._now.full

    def landing(self, backlog: int = 0, *, now: float | None = None) -> int | None:
        """Chain time of the block that takes a transaction sent now behind `backlog` of ours still waiting
        (0: the next block); None before the first head."""
        if self._head is None:
            return None
        now = time.time() if now is None else now
        pace = self._now.pace
        next_block = max(self._head.timestamp + (pace or 1), math.ceil(now + self._now.offset))
        if backlog == 0 or self._now.automine:
            return next_block
        landing = next_block
        if (capacity := self.capacity) is not None and (blocks := backlog // capacity):
            # Behind `blocks` blocks' worth of ours, each as long as the recent ones, with the same margin.
            landing = next_block + math.ceil(RATE_MARGIN * blocks * self._now.mean_gap)
        rate = self._rate
        if rate is None or not self._left_behind():
            return landing
        # A full chain takes ours at its rate, unevenly (its speed changes with its load): some time and one
        # block more, so that none lands just too late.
        return max(landing, next_block + math.ceil(RATE_MARGIN * backlog / rate) + (pace or 1))
