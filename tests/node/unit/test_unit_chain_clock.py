"""The chain clock's landing estimates and the delivery slots' order: the two judgements that decide, under
overload, which deliveries are sent and which are dropped before they could only revert."""

from __future__ import annotations

import asyncio

from infernet_kit.node.chain.clock import ChainClock
from infernet_kit.node.chain.rpc import Block
from infernet_kit.node.chain.slots import PrioritySlots

T0 = 1_800_000_000


GAS = 204_000  # one delivery of the benches' RecurringConsumer


def _block(number: int, timestamp: int, gas_limit: int | None = None) -> Block:
    return Block(
        number=number,
        timestamp=timestamp,
        hash=f"0x{number:064x}",
        transactions=frozenset(),
        base_fee=1,
        gas_limit=gas_limit,
    )


def _steady(
    clock: ChainClock,
    blocks: int,
    *,
    ours: int = 0,
    gap: int = 1,
    left: int = 0,
    first: int = 0,
    gas_limit: int | None = None,
) -> int:
    """`blocks` blocks `gap` seconds apart from block `first`, each seen as it is made, each holding `ours` of
    ours and leaving `left` behind; the last block's number."""
    for n in range(first, first + blocks):
        clock.observe(_block(n, T0 + gap * n, gas_limit), ours, left_behind=left, now=T0 + gap * n + 0.1)
    return first + blocks - 1


def test_before_any_head_there_is_no_estimate() -> None:
    assert ChainClock().landing() is None


def test_a_burst_after_a_few_deliveries_is_not_judged_by_them() -> None:
    """Subscriptions created 18 in one block and 1,982 in the next: the block that took the first 18 took all
    we had, which says nothing of what the chain takes. With a block gas limit of 10^9 and 204,000 gas per
    delivery a block holds 4,901 of ours: the 1,982 land in the next block, none is dropped as too late."""
    clock = ChainClock()
    last = _steady(clock, 8, gas_limit=10**9)
    last = _steady(clock, 1, ours=18, first=last + 1, gas_limit=10**9)
    for _ in range(18):
        clock.landed(signed_at=last - 1, mined_in=last, gas_used=GAS)
    assert clock.capacity == 4_901
    assert clock.landing(1_981, now=T0 + last + 0.2) == T0 + last + 1


def test_blocks_that_took_ours_while_more_waited_in_the_node_bound_a_backlog() -> None:
    """A loaded node (its own CPU, its mempool depth) gets 50 a block mined while hundreds wait to be sent, the
    blocks on time and nothing left in the mempool: 50 a block is what chain and node do together, whatever the
    gas limit holds, so the 1,000th waits for 20 blocks' worth (a quarter more time)."""
    clock = ChainClock()
    last = _steady(clock, 8, gas_limit=10**9)
    for n in range(last + 1, last + 9):
        clock.observe(_block(n, T0 + n, 10**9), 50, waiting=400, now=T0 + n + 0.1)
        clock.landed(signed_at=n - 1, mined_in=n, gas_used=GAS)
    last += 8
    assert clock.capacity == 50 and clock.rate is None  # the chain itself left none behind
    assert clock.landing(49, now=T0 + last + 0.2) == T0 + last + 1
    assert clock.landing(1_000, now=T0 + last + 0.2) == T0 + last + 1 + 25


def test_a_backlog_with_nothing_to_bound_it_is_taken_to_fit() -> None:
    """No gas facts yet (no receipt of ours, or a head without its gas limit) and no block that left ours
    behind: nothing says the chain cannot take the backlog."""
    clock = ChainClock()
    last = _steady(clock, 8, ours=50)
    clock.landed(signed_at=last - 1, mined_in=last, gas_used=GAS)
    assert clock.capacity is None
    assert clock.landing(1_000, now=T0 + last + 0.2) == T0 + last + 1


def test_a_chain_that_takes_ours_as_they_come_lands_a_backlog_in_the_blocks_its_gas_holds() -> None:
    """A 30M-gas block holds 147 deliveries: the 1,000th waits for 6 blocks' worth (a quarter more time), so
    it is not sent for an interval that closes sooner; 50 a block taken so far is no bound."""
    clock = ChainClock()
    last = _steady(clock, 8, ours=50, gas_limit=30_000_000)
    clock.landed(signed_at=last - 1, mined_in=last, gas_used=GAS)
    assert clock.pace == 1 and clock.capacity == 147
    assert clock.landing(0, now=T0 + last + 0.2) == T0 + last + 1
    assert clock.landing(146, now=T0 + last + 0.2) == T0 + last + 1
    assert clock.landing(147, now=T0 + last + 0.2) == T0 + last + 1 + 2
    assert clock.landing(1_000, now=T0 + last + 0.2) == T0 + last + 1 + 8


def test_a_backlog_waits_longer_on_a_chain_whose_blocks_come_late() -> None:
    clock = ChainClock()
    timestamp = T0
    for n, gap in enumerate((0, 2, 2, 1, 3, 2)):  # a mean gap of 2 s at a 1-second block time
        timestamp += gap
        clock.observe(_block(n, timestamp, 30_000_000), 100, now=timestamp + 0.1)
    clock.landed(signed_at=4, mined_in=5, gas_used=GAS)
    assert clock.landing(300, now=timestamp + 0.2) == timestamp + 1 + 5


def test_a_full_chain_lands_a_transaction_behind_the_backlog_at_the_rate_it_mined_ours() -> None:
    """Once blocks leave ours behind, what they took bounds the wait, however much their gas limit holds."""
    clock = ChainClock()
    last = _steady(clock, 8, ours=100, gap=2, left=30, gas_limit=10**9)  # 50 of ours per second of chain time
    clock.landed(signed_at=last - 3, mined_in=last, gas_used=GAS)  # two blocks late: the chain left ours behind
    assert clock.pace == 2 and clock.capacity == 100
    now = T0 + 2 * last + 0.2
    assert clock.landing(0, now=now) == T0 + 2 * last + 2
    # Behind the backlog at its rate (a quarter more time), and a block later, for safety.
    assert clock.landing(99, now=now) == T0 + 2 * last + 2 + 3 + 2
    assert clock.landing(250, now=now) == T0 + 2 * last + 2 + 7 + 2


def test_a_chain_out_of_cpu_makes_uneven_blocks_and_is_judged_by_its_rate_in_chain_time() -> None:
    """Gaps of 1 to 3 s at a 1-second block time: no steady pace, but ours per second still bound the wait."""
    clock = ChainClock()
    timestamp = T0
    for n, gap in enumerate((0, 1, 3, 1, 2, 3, 1, 2, 3)):
        timestamp += gap
        clock.observe(_block(n, timestamp), 170 * gap, left_behind=500, now=timestamp + 0.1)
    clock.landed(signed_at=6, mined_in=8, gas_used=GAS)
    assert clock.pace is None
    assert clock.rate == 170
    assert clock.landing(1_700, now=timestamp + 0.2) == timestamp + 1 + 13 + 1


def test_the_rate_counts_only_blocks_that_left_ours_behind_and_outlasts_quiet_ones() -> None:
    """Blocks that took all we sent say what we sent, not what the chain takes: they neither lower the rate
    at the start of a burst nor make it forgotten once the burst is over."""
    clock = ChainClock()
    last = _steady(clock, 12, ours=5)  # a quiet chain: all of ours mined as sent
    assert clock.rate is None
    last = _steady(clock, 3, ours=150, left=400, first=last + 1)
    assert clock.rate == 150
    last = _steady(clock, 20, ours=0, first=last + 1)
    assert clock.rate == 150
    assert clock.landing(300, now=T0 + last + 0.2) == T0 + last + 1  # the chain takes all again
    clock.landed(signed_at=last - 3, mined_in=last, gas_used=GAS)
    assert clock.landing(300, now=T0 + last + 0.2) == T0 + last + 1 + 3 + 1


def test_a_block_that_leaves_ours_behind_shows_a_full_chain_before_any_late_receipt() -> None:
    """The first burst of a fresh node: the head that left some behind says so at once, not a block or two
    later when the receipt of one that landed late is read."""
    clock = ChainClock()
    last = _steady(clock, 6)
    assert clock.landing(1_000, now=T0 + last + 0.2) == T0 + last + 1
    last = _steady(clock, 1, ours=250, left=700, first=last + 1)
    assert clock.landing(1_000, now=T0 + last + 0.2) == T0 + last + 1 + 5 + 1


def test_a_head_seen_late_by_a_busy_node_does_not_make_the_chain_seem_behind() -> None:
    clock = ChainClock()
    last = _steady(clock, 8)
    head = last + 1
    clock.observe(_block(head, T0 + head), now=T0 + head + 3.0)  # three seconds late
    # Blocks kept coming meanwhile, at the local clock: the next one is not the head's successor.
    assert clock.landing(0, now=T0 + head + 3.1) == T0 + head + 3


def test_an_automining_chain_has_no_pace_and_lands_at_the_local_clock() -> None:
    clock = ChainClock()
    for n, timestamp in enumerate((T0, T0, T0 + 1, T0 + 9, T0 + 9, T0 + 30)):
        clock.observe(_block(n, timestamp), 1, now=timestamp + 0.05)
    clock.landed(signed_at=0, mined_in=5, gas_used=GAS)
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
