"""Learns subscriptions and judges, by chain time, which (subscription, interval) this node owes an answer.

New subscriptions come from the coordinator's `id` (one call per block) and the Reader in batches;
cancellations from `SubscriptionCancelled` logs; whether an interval is still open from the Reader's
redundancy counts (batched) and, for intervals some node answered, `nodeResponded`. Nothing is read per
subscription per block, and a block looks only at the subscriptions that may owe something at it: those whose
next interval opened since (kept in order of that time), and those whose last judgement left work open (new,
not yet answered, or still in flight, which may end unsettled and be proposed again). A settled interval stays
settled, so its subscription sleeps until its next interval opens.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from infernet_kit.chain.encoding import ZERO_ADDRESS, Subscription, interval_at
from infernet_kit.node.chain.config import SnapshotSyncConfig
from infernet_kit.node.chain.lookup import ContainerLookup
from infernet_kit.node.chain.report import SubscriptionReport
from infernet_kit.node.chain.rpc import Block, ChainClient
from infernet_kit.node.chain.store import ChainStore
from infernet_kit.node.guardian import Rejection
from infernet_kit.node.proofs import VerifierTerms, verifier_terms

log = logging.getLogger(__name__)


class SubscriptionGuard(Protocol):
    """The node's guardian, as far as subscriptions go: a rejection (reason and values), or None to serve."""

    def judge_subscription(
        self,
        containers: list[str],
        owner: str,
        *,
        delegated: bool,
        payment_token: str,
        payment_amount: int,
        verifier: str = ZERO_ADDRESS,
        verifier_fee: int = 0,
    ) -> Rejection | None: ...


@dataclass(frozen=True)
class Due:
    """An interval this node should answer, judged at block `block` (its hash; chain time `timestamp`)."""

    subscription_id: int
    interval: int
    subscription: Subscription
    containers: list[str]
    block: str
    timestamp: int


@dataclass
class Advance:
    due: list[Due] = field(default_factory=list)
    # Intervals that need no answer from this node, with the reason (already answered, redundancy full).
    settled: list[tuple[Due, str]] = field(default_factory=list)
    # Subscriptions cancelled since the last block judged.
    cancelled: set[int] = field(default_factory=set)


# (subscription, interval) -> whether the processor took it in hand (in flight or settled), or settled it.
Handled = Callable[[int, int], bool]


class SubscriptionListener:
    """Keeps the set of live subscriptions this node serves, and turns each new block into due work."""

    def __init__(
        self,
        client: ChainClient,
        store: ChainStore,
        lookup: ContainerLookup,
        guard: SubscriptionGuard,
        report: SubscriptionReport,
        *,
        node_address: str,
        payment_address: str | None,
        snapshot: SnapshotSyncConfig,
    ) -> None:
        self._client = client
        self._store = store
        self._lookup = lookup
        self._guard = guard
        self._report = report
        self._node = node_address
        self._payment_address = payment_address
        self._snapshot = snapshot
        self._subs: dict[int, Subscription] = {}
        self._recheck: set[int] = set()  # judged again at the next block: new, unanswered or in flight
        self._wakes: list[tuple[int, int]] = []  # heap of (chain time its next interval opens, subscription)
        self._cursor = self._first_cursor  # highest subscription id already read
        self._last_block: int | None = None  # newest block whose cancellations were applied (the judged block)
        self._last_hash: str | None = None  # its hash: the node's state holds only while it is on the chain
        self.behind = False  # subscriptions below the coordinator's `id` are still to be read (see `_learn`)

    @property
    def tracked(self) -> int:
        return len(self._subs)

    @property
    def cursor(self) -> int:
        return self._cursor

    @property
    def _first_cursor(self) -> int:
        return max(self._snapshot.starting_sub_id, 1) - 1

    @property
    def judged(self) -> tuple[int, str] | None:
        """Number and hash of the newest block this listener's state was read at, if known."""
        if self._last_block is None or self._last_hash is None:
            return None
        return self._last_block, self._last_hash

    def reset(self) -> None:
        """Forget every subscription and cursor (the chain they were read from is gone); the store is the
        caller's to clear."""
        self._subs.clear()
        self._recheck.clear()
        self._wakes.clear()
        self._cursor = self._first_cursor
        self._last_block = self._last_hash = None
        self.behind = False

    async def load(self) -> None:
        """Resume from the store: tracked subscriptions (re-checked against today's config) and cursors."""
        if (cursor := await self._store.get_state("cursor")) is not None:
            self._cursor = max(self._cursor, int(cursor))
        if (last := await self._store.get_state("last_block")) is not None:
            self._last_block = int(last)
        self._last_hash = await self._store.get_state("last_block_hash")
        dropped = []
        for sub_id, sub in (await self._store.tracked()).items():
            if self._accept(sub_id, sub, await verifier_terms(self._client, sub)) is None:
                dropped.append(sub_id)
            else:
                self._subs[sub_id] = sub
                self._recheck.add(sub_id)
        if dropped:
            await self._store.untrack(dropped)
        log.info("chain listener resumed: %d subscriptions tracked, cursor %d", len(self._subs), self._cursor)

    async def advance(self, block: Block, handled: Handled, settled: Handled) -> Advance:
        """Everything that changed up to `block`, and what is due at its timestamp."""
        await self._learn(block)
        cancelled = await self._apply_cancellations(block)
        advance = await self._judge(block, handled, settled)
        advance.cancelled = cancelled
        return advance

    # -- learning ----------------------------------------------------------------------------------------

    async def _learn(self, block: Block) -> None:
        self.behind = False
        next_id = await self._client.next_subscription_id(block.hash)
        batch = self._snapshot.batch_size
        while self._cursor + 1 < next_id:
            start = self._cursor + 1
            end = min(start + batch, next_id)
            subs = await self._client.subscriptions(start, end, block.hash)
            # Every id below `id()` has an owner. A read that says otherwise is not the chain's state at that
            # block (an RPC answering from elsewhere): keep the cursor before it and read again next block.
            empty = next((i for i, sub in enumerate(subs) if sub.owner == ZERO_ADDRESS), None)
            if len(subs) != end - start or empty is not None:
                at = start + (empty if empty is not None else len(subs))
                log.warning(
                    "subscription=%d read as missing at block %d below id %d; retrying", at, block.number, next_id
                )
                subs, end = subs[: at - start], at
            accepted: dict[int, Subscription] = {}
            terms = await asyncio.gather(*(verifier_terms(self._client, sub) for sub in subs))
            for offset, (sub, sub_terms) in enumerate(zip(subs, terms, strict=True)):
                sub_id = start + offset
                if self._accept(sub_id, sub, sub_terms, seen_at=block.number) is not None:
                    accepted[sub_id] = sub
            self._subs.update(accepted)
            self._recheck.update(accepted)
            self._cursor = end - 1
            await self._store.track(accepted, cursor=self._cursor)
            if end < min(start + batch, next_id):
                return
            if self._snapshot.sleep > 0:
                # One batch per `sleep`: the caller judges what is known meanwhile and comes back for more.
                self.behind = self._cursor + 1 < next_id
                return

    def _accept(
        self, sub_id: int, sub: Subscription, terms: VerifierTerms, *, seen_at: int | None = None
    ) -> list[str] | None:
        """The container chain to serve `sub` with, or None; either way one log line and the report say so (this
        is called once per subscription: when it is learned, or resumed after a restart). `terms`: its verifier's
        fee in its payment token, read on the way in."""
        containers = self._lookup.containers(sub.container_id)
        reason = self._refusal(sub, containers, terms)
        self._report.seen(sub_id, sub, containers=containers, reason=reason)
        if reason is not None:
            block = "(resumed)" if seen_at is None else seen_at
            log.info("not serving subscription=%d owner=%s: %s (seen at block=%s)", sub_id, sub.owner, reason, block)
            return None
        assert containers is not None
        log.info(
            "tracking subscription=%d owner=%s block=%s containers=%s frequency=%d period=%d redundancy=%d",
            sub_id,
            sub.owner,
            "(resumed)" if seen_at is None else seen_at,
            ",".join(containers),
            sub.frequency,
            sub.period,
            sub.redundancy,
        )
        return containers

    def _refusal(self, sub: Subscription, containers: list[str] | None, terms: VerifierTerms) -> str | None:
        """Why this node will not serve `sub`, naming the values at fault; None to serve it."""
        if sub.cancelled:
            return "cancelled before this node saw it"
        if containers is None:
            # On chain only the hash of the container ids is visible: name it and what this node would match.
            return (
                f"container id not served: containerId 0x{sub.container_id.hex()} is no chain of this node's "
                f"containers; it serves {self._lookup.served()}"
            )
        rejection = self._guard.judge_subscription(
            containers,
            sub.owner,
            delegated=False,
            payment_token=sub.payment_token,
            payment_amount=sub.payment_amount,
            verifier=sub.verifier,
            verifier_fee=terms.fee,
        )
        if rejection is not None:
            return _describe(rejection)
        if sub.payment_amount > 0 and self._payment_address is None:
            return "Invalid payment: no wallet.payment_address configured"
        return terms.refusal

    async def _apply_cancellations(self, block: Block) -> set[int]:
        """The tracked subscriptions cancelled since the last block judged, dropped."""
        cancelled: set[int] = set()
        if self._last_block is not None:
            logs = await self._client.subscription_logs(self._last_block + 1, block.number)
            for sub_id, (tx_hash, number) in logs.created.items():
                self._report.requested(sub_id, tx_hash, number)
            for sub_id, node in logs.fulfilled:
                self._report.fulfilled(sub_id, node)
            cancelled = logs.cancelled & self._subs.keys()
            for sub_id in cancelled:
                log.info("subscription=%d cancelled; no further deliveries", sub_id)
                self._report.ended(sub_id, "cancelled")
            await self._drop(cancelled)
        self._last_block, self._last_hash = block.number, block.hash
        await self._store.set_state({"last_block": str(block.number), "last_block_hash": block.hash})
        return cancelled

    async def _drop(self, ids: set[int]) -> None:
        if ids:
            for sub_id in ids:
                self._subs.pop(sub_id, None)
                self._recheck.discard(sub_id)
            await self._store.untrack(ids)

    # -- judging -----------------------------------------------------------------------------------------

    def _awake(self, timestamp: int) -> list[int]:
        """The tracked subscriptions to judge at chain time `timestamp`, in id order (the order they were learned)."""
        awake, self._recheck = self._recheck, set()
        while self._wakes and self._wakes[0][0] <= timestamp:
            awake.add(heapq.heappop(self._wakes)[1])
        return sorted(awake & self._subs.keys())

    async def _judge(self, block: Block, handled: Handled, settled: Handled) -> Advance:
        candidates: list[Due] = []
        finished: set[int] = set()
        for sub_id in self._awake(block.timestamp):
            sub = self._subs[sub_id]
            if block.timestamp < sub.active_at:
                heapq.heappush(self._wakes, (sub.active_at, sub_id))
                continue
            interval = interval_at(sub.active_at, sub.period, block.timestamp)
            if interval > sub.frequency:
                finished.add(sub_id)
                self._report.ended(sub_id, "finished")
                continue
            if handled(sub_id, interval):
                # The last interval this node can ever answer is taken care of: stop tracking.
                if interval == sub.frequency or sub.period == 0:
                    finished.add(sub_id)
                    self._report.ended(sub_id, "finished")
                elif settled(sub_id, interval):
                    heapq.heappush(self._wakes, (sub.active_at + interval * sub.period, sub_id))
                else:
                    self._recheck.add(sub_id)
                continue
            self._recheck.add(sub_id)
            containers = self._lookup.containers(sub.container_id) or []
            candidates.append(Due(sub_id, interval, sub, containers, block.hash, block.timestamp))
        await self._drop(finished)
        advance = Advance()
        if not candidates:
            return advance
        pairs = [(due.subscription_id, due.interval) for due in candidates]
        counts = await self._client.redundancy_counts(pairs, block.hash)
        # Only where some node answered can it have been this one: no per-interval read for the rest.
        answered_by_someone = [pair for pair, count in zip(pairs, counts, strict=True) if count > 0]
        responded = dict(
            zip(
                answered_by_someone,
                await self._client.node_responded(answered_by_someone, self._node, block.hash),
                strict=True,
            )
        )
        for due, pair, count in zip(candidates, pairs, counts, strict=True):
            if responded.get(pair, False):
                advance.settled.append((due, "this node already responded"))
            elif count >= due.subscription.redundancy:
                advance.settled.append((due, f"redundancy full ({count}/{due.subscription.redundancy})"))
            else:
                advance.due.append(due)
        return advance

    async def forget(self, subscription_id: int) -> None:
        """Stop tracking a subscription the chain reported gone (cancelled, not found)."""
        self._report.ended(subscription_id, "cancelled")
        await self._drop({subscription_id})


def _describe(rejection: Rejection) -> str:
    """`Container not allowed for address (container=..., owner=...)`: the reference reason and its values."""
    values = ", ".join(f"{key}={value}" for key, value in rejection.params.items())
    return f"{rejection.error} ({values})" if values else rejection.error
