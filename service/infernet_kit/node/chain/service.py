"""The node's chain side as one service the app starts and stops: it follows the chain head, hands new
blocks to the listener, due intervals to the processor, and delegated subscriptions to their processor.

Everything the node remembers was read at the block it last judged. When that block is no longer on the chain
(anvil restarted or reset, a reorg, another chain behind the same RPC URL), the state is dropped and read
again from the chain as it now is: one log line says so, with the old and new identity and heights.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from infernet_kit.chain.encoding import Signature, Subscription, interval_at
from infernet_kit.node.chain.clock import ChainClock
from infernet_kit.node.chain.config import ChainConfig
from infernet_kit.node.chain.delegation import DelegatedProcessor, DelegationRejected
from infernet_kit.node.chain.heads import HeadSignal
from infernet_kit.node.chain.listener import Due, SubscriptionGuard, SubscriptionListener
from infernet_kit.node.chain.lookup import ContainerLookup
from infernet_kit.node.chain.processor import DeliveryProcessor, OrchestratorLike
from infernet_kit.node.chain.report import SubscriptionReport, SubscriptionView
from infernet_kit.node.chain.rpc import Block, ChainClient, use_lane
from infernet_kit.node.chain.store import ChainStore
from infernet_kit.node.chain.wallet import NodeWallet
from infernet_kit.node.events import EventFeed
from infernet_kit.node.metrics import HEAD, SYNC_LAG
from infernet_kit.node.proofs import Escrow

__all__ = ["ChainService", "DelegationRejected"]

log = logging.getLogger(__name__)

STORE_FILE = "chain.sqlite"
# Beyond this many blocks behind, receipts are looked up directly rather than by scanning each block.
MAX_BLOCK_SCAN = 32


class ChainService:
    """Serves subscriptions for the configured containers from the wallet in `config`."""

    def __init__(
        self,
        config: ChainConfig,
        orchestrator: OrchestratorLike,
        containers: Mapping[str, Any],
        guardian: SubscriptionGuard,
        data_dir: Path,
        events: EventFeed | None = None,
    ) -> None:
        if not config.enabled or not config.rpc_url or not config.registry_address or not config.wallet.private_key:
            raise ValueError("ChainService needs an enabled chain config with rpc_url, registry_address and a key")
        self._config = config
        self._client = ChainClient(config.rpc_url, config.registry_address)
        self._wallet = NodeWallet(self._client, config.wallet.private_key, max_gas_limit=config.wallet.max_gas_limit)
        self._store = ChainStore(Path(data_dir) / STORE_FILE)
        self._lookup = ContainerLookup(containers.keys())
        payment_address = config.wallet.payment_address
        events = events if events is not None else EventFeed()
        self._report = SubscriptionReport(
            on_change=lambda view: events.publish_rendered("subscription", view.rendered_later())
        )
        self._listener = SubscriptionListener(
            self._client,
            self._store,
            self._lookup,
            guardian,
            self._report,
            node_address=self._wallet.address,
            payment_address=payment_address,
            snapshot=config.snapshot_sync,
        )
        self._clock = ChainClock()
        self._processor = DeliveryProcessor(
            self._client,
            self._wallet,
            self._store,
            orchestrator,
            self._report,
            Escrow(self._client, self._wallet, payment_address),
            node_wallet=config.wallet.node_wallet,
            allowed_sim_errors=config.wallet.allowed_sim_errors,
            clock=self._clock,
            on_gone=self._listener.forget,
            on_passed=self._catch_up,
            events=events,
        )
        self._delegated = DelegatedProcessor(
            self._client,
            self._wallet,
            self._store,
            orchestrator,
            self._lookup,
            guardian,
            payment_address=payment_address,
            allowed_sim_errors=config.wallet.allowed_sim_errors,
            poll_period=config.snapshot_sync.sync_period,
            on_delivered=self._processor.record_delegated,
        )
        self._heads = HeadSignal(config.heads_url, poll_period=config.snapshot_sync.sync_period)
        self._task: asyncio.Task[None] | None = None
        self._head: int | None = None
        self._judged: int | None = None
        self._failing = False
        self._identified = True  # False after a resync: the new chain's identity and contracts are read first

    @property
    def address(self) -> str:
        """The node's wallet address (the `node` that coordinators record as having answered)."""
        return self._wallet.address

    @property
    def judged_block(self) -> int | None:
        """The newest block whose due intervals were dispatched and cancellations applied (None before the first)."""
        return self._judged

    def subscriptions(self, ids: list[int] | None = None) -> list[SubscriptionView]:
        """What this node knows of the subscriptions `ids` (all it remembers when None): tracked, or skipped with
        the reason, and how each interval it handled ended."""
        return self._report.get(ids)

    def pending_count(self) -> int:
        """On-chain work in flight: due intervals being answered plus accepted delegated subscriptions."""
        return self._processor.pending() + self._delegated.pending()

    async def start(self) -> None:
        await self._store.open()
        try:
            await self._client.connect()
        except Exception as exc:
            await self._store.close()
            raise RuntimeError(f"chain: cannot use chain.rpc_url / chain.registry_address: {exc}") from None
        await self._check_identity()
        await self._listener.load()
        await self._head_unless_diverged()
        await self._processor.load()
        await self._delegated.load()
        self._heads.start()
        self._task = asyncio.create_task(self._follow(), name="chain-follow")
        log.info(
            "chain service started node=%s chain_id=%d coordinator=%s containers=%d chains",
            self.address,
            self._client.chain_id,
            self._client.coordinator,
            len(self._lookup),
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._heads.stop()
        await self._processor.stop()
        await self._delegated.stop()
        self._wallet.cancel_waiters()
        await self._store.close()
        await self._client.close()
        log.info("chain service stopped")

    async def submit_delegated(self, subscription: Subscription, signature: Signature, data: Any) -> None:
        """Accept a delegated subscription (delivered in the background) or raise `DelegationRejected`."""
        await self._delegated.submit(subscription, signature, data)

    def _identity(self) -> dict[str, str]:
        return {
            "chain_id": str(self._client.chain_id),
            "genesis": self._client.genesis_hash,
            "registry": self._client.registry_address,
        }

    async def _check_identity(self) -> None:
        """State from another chain or registry (e.g. a restarted anvil) would skip subscriptions: drop it."""
        identity = self._identity()
        stored = {key: await self._store.get_state(key) for key in identity}
        if any(value is not None for value in stored.values()) and stored != identity:
            log.warning(
                "chain reset: the state in %s belongs to chain_id=%s genesis=%s registry=%s, the RPC serves "
                "chain_id=%s genesis=%s registry=%s; starting over",
                self._store.path,
                stored["chain_id"],
                stored["genesis"],
                stored["registry"],
                identity["chain_id"],
                identity["genesis"],
                identity["registry"],
            )
            await self._store.reset()
        await self._store.set_state(identity)

    async def _head_unless_diverged(self) -> Block | None:
        """The chain head; None after a resync, when the block the node's state was read at is no longer on
        the chain (its number is above the head, or it has another hash there now)."""
        judged = self._listener.judged
        if judged is None:
            return await self._client.block("latest")
        number, known_hash = judged
        head, now = await asyncio.gather(self._client.block("latest"), self._client.find_block(number))
        if now is not None and now.hash == known_hash:
            return head
        if now is None:
            what = f"head {head.number} is below block {number} the node last judged"
        else:
            what = f"block {number} the node last judged changed hash {known_hash} -> {now.hash}"
        await self._resync(what, head)
        return None

    async def _resync(self, what: str, head: Block) -> None:
        """Drop every cursor, tracked subscription and in-flight delivery of the chain that is gone."""
        chain_id, genesis = await asyncio.gather(self._client.request("eth_chainId", []), self._client.block(0))
        in_flight, tracked, cursor = self.pending_count(), self._listener.tracked, self._listener.cursor
        await self._processor.forget()
        await self._delegated.stop()
        self._wallet.forget_chain()
        self._clock.reset()
        await self._store.reset()
        self._listener.reset()
        self._report.clear()
        self._head = self._judged = None
        self._identified = False
        log.warning(
            "chain reset: %s (head %d %s; chain_id %d -> %d, genesis %s -> %s); dropped cursor subscription=%d, "
            "%d tracked subscriptions, %d in-flight deliveries; resyncing from subscription=%d",
            what,
            head.number,
            head.hash,
            self._client.chain_id,
            int(chain_id, 16),
            self._client.genesis_hash,
            genesis.hash,
            cursor,
            tracked,
            in_flight,
            self._listener.cursor + 1,
        )

    # -- following the head ------------------------------------------------------------------------------

    async def _follow(self) -> None:
        use_lane("head")
        while True:
            try:
                await self._step()
                if self._failing:
                    log.info("chain sync recovered at block %s", "(resyncing)" if self._head is None else self._head)
                self._failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # One line when the RPC goes away, not one per poll.
                if not self._failing:
                    log.warning("chain sync failed: %s: %s", type(exc).__name__, exc)
                self._failing = True
            if self._listener.behind and not self._failing:
                await asyncio.sleep(self._config.snapshot_sync.sleep)  # the next batch of new subscriptions
            else:
                await self._heads.wait()

    async def _step(self) -> None:
        # Nothing is signed from the moment the node looks at the head until it has taken the head in: what the
        # head cancels is known before the room it makes is filled, and a delivery that became ready while the
        # head was being read (a round trip to a busy RPC) is not sent for a subscription that head cancelled.
        with self._wallet.holding():
            if not self._identified:
                await self._client.identify()
                await self._store.set_state(self._identity())
                self._identified = True
            head = await self._head_unless_diverged()
            if head is None:
                return
            await self._take_in(head)

    async def _take_in(self, head: Block) -> None:
        learning = self._listener.behind  # more new subscriptions to read: judge again even without a new block
        if self._head is None or head.number > self._head:
            await self._scan_receipts(head)
            self._head = head.number
            HEAD.set(head.number)
        elif not learning:
            return
        target = head.number - self._config.trail_head_blocks
        if target < 0 or (self._judged is not None and target < self._judged):
            return
        if target == self._judged and not learning:
            return
        block = head if target == head.number else await self._client.block(target)
        advance = await self._listener.advance(block, self._processor.handled, self._processor.settled)
        self._processor.cancelled(advance.cancelled)
        for due, reason in advance.settled:
            await self._processor.settle(due, reason)
        for due in advance.due:
            self._processor.dispatch(due)
        self._judged = target
        SYNC_LAG.set(head.number - target)
        # A line when the block asked for something; quiet blocks only at debug level (`/info` has the block).
        level = logging.INFO if advance.due or advance.settled else logging.DEBUG
        log.log(level, "judged block=%d due=%d settled=%d", target, len(advance.due), len(advance.settled))

    async def _catch_up(self, due: Due) -> None:
        """The interval closed (or would have, before the delivery could land). If the newest head is in a later
        interval, answer that one now rather than when the listener judges the next block. Never one the head is
        not in yet, though the delivery may be estimated to land there: the next block may come in the same
        second as the head (anvil does so when it catches up), and a delivery for an interval that has not
        opened in it reverts with `IntervalMismatch` (or is simulated to, and skipped for good)."""
        sub = due.subscription
        chain_time = self._clock.head_time
        if sub.period == 0 or chain_time is None:
            return
        interval = interval_at(sub.active_at, sub.period, chain_time)
        if interval <= due.interval or interval > sub.frequency:
            return
        if not self._processor.handled(due.subscription_id, interval):
            self._processor.dispatch(replace(due, interval=interval, timestamp=chain_time))

    async def _scan_receipts(self, head: Block) -> None:
        """Resolve our transactions mined up to `head`, and tell the clock about the head."""
        mined = await self._mined_until(head)
        left_behind = self._wallet.left_behind(self._clock.head_made_at)
        self._clock.observe(head, mined, left_behind=left_behind, waiting=self._processor.unsent)

    async def _mined_until(self, head: Block) -> int:
        if not self._wallet.waiting:
            return await self._wallet.on_blocks([head])
        start = head.number if self._head is None else self._head + 1
        if head.number - start >= MAX_BLOCK_SCAN:
            return await self._wallet.on_blocks([head]) + await self._wallet.poll_waiters()
        blocks = await asyncio.gather(*(self._client.block(number) for number in range(start, head.number)))
        return await self._wallet.on_blocks([*blocks, head])
