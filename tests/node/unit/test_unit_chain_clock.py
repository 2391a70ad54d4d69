"""The chain clock's landing estimates and the delivery slots' order: the two judgements that decide, under
overload, which deliveries are sent and which are dropped before they could only revert."""

from __future__ import annotations

import asyncio

from infernet_kit.node.chain.clock import ChainClock
from infernet_kit.node.chain.rpc import Block
from infernet_kit.node.chain.slots import PrioritySlots

T0 = 1_800_000_000


def _block(number: int, timestamp: int) -> Block:
    return Block(number=number, timestamp=timestamp, hash=f"0x{number:064x}", transactions=frozenset(), base_fee=1)


def _steady(clock: ChainClock, blocks: int, *, ours: int = 0, gap: int = 1) -> int:
    """`blocks` blocks `gap` seconds apart, each seen as it is made; the last block's number."""
    for n in range(blocks):
        clock.observe(_block(n, T0 + gap * n), ours, now=T0 + gap * n + 0.1)
    return blocks - 1


def test_before_any_head_there_is_no_estimate() -> None:
    assert ChainClock().landing() is None


def test_a_chain_that_takes_ours_as_they_come_lands_them_in_the_next_block_whatever_the_backlog() -> None:
    clock = ChainClock()
    last = _steady(clock, 8, ours=50)
    clock.landed(signed_at=last - 1, mined_in=last)
    assert clock.pace == 1
    assert clock.landing(0, now=T0 + last + 0.2) == T0 + last + 1
    assert clock.landing(1_000, now=T0 + last + 0.2) == T0 + last + 1


def test_a_full_chain_lands_a_transaction_behind_the_backlog_at_the_rate_it_mined_ours() -> None:
    clock = ChainClock()
    last = _steady(clock, 8, ours=100, gap=2)
    clock.landed(signed_at=last - 3, mined_in=last)  # two blocks late: the chain left ours behind
    assert clock.pace == 2
    now = T0 + 2 * last + 0.2
    assert clock.landing(99, now=now) == T0 + 2 * last + 2
    assert clock.landing(250, now=now) == T0 + 2 * last + 2 + 2 * 2


def test_an_automining_chain_has_no_pace_and_lands_at_the_local_clock() -> None:
    clock = ChainClock()
    for n, timestamp in enumerate((T0, T0, T0 + 1, T0 + 9, T0 + 9, T0 + 30)):
        clock.observe(_block(n, timestamp), 1, now=timestamp + 0.05)
    clock.landed(signed_at=0, mined_in=5)
    assert clock.pace is None
    # Seen at T0+30; 12.5 s later a block made on demand carries the local time (plus the chain's offset).
    assert clock.landing(500, now=T0 + 30.05 + 12.5) == T0 + 43


async def test_freed_slots_go_to_the_newest_interval_first() -> None:
    slots = PrioritySlots(1)
    held = await slots.acquire(priority=0)
    order: list[int] = []

    async def deliver(priority: int) -> None:
        slot = await slots.acquire(priority=priority)
        order.append(priority)
        slot.release()

    tasks = [asyncio.create_task(deliver(p)) for p in (10, 30, 20)]
    cancelled = asyncio.create_task(deliver(40))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    assert slots.waiting == 4  # the cancelled one is passed over when a slot frees
    held.release()
    held.release()  # idempotent: one slot is given back once
    await asyncio.gather(*tasks)
    assert order == [30, 20, 10]
    assert await asyncio.wait_for(slots.acquire(priority=0), 1) is not None
