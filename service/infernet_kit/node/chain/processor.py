"""Answers due intervals: read the consumer's inputs, run the containers, deliver with `deliverCompute`.

Each (subscription, interval) is owned by exactly one task from dispatch until a final state, and every
state change is written to the store first, so after a restart a sent transaction is followed up rather
than sent again, and an interval that was only being computed is computed again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from infernet_kit.chain.encoding import Subscription, interval_at, pack_pair
from infernet_kit.node.chain.clock import ChainClock
from infernet_kit.node.chain.listener import Due
from infernet_kit.node.chain.report import IntervalReport, SubscriptionReport
from infernet_kit.node.chain.rpc import ChainClient, Receipt, use_lane
from infernet_kit.node.chain.slots import PrioritySlots, Slot
from infernet_kit.node.chain.store import (
    FINAL_STATUSES,
    ChainStore,
    DelegatedRequest,
    DeliveryRecord,
    DeliveryStatus,
)
from infernet_kit.node.chain.wallet import NodeWallet, Reverted, Shape
from infernet_kit.node.events import EventFeed, clipped, readable
from infernet_kit.node.metrics import REVERTS, settled
from infernet_kit.node.proofs import Escrow, EscrowRefused, proof_target, requires_proof
from infernet_kit.protocol import JobLocation, OnchainOutput, ProofTarget
from infernet_kit.retrying import RetryPolicy, call_with_retries, exponential

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# Deliveries reading inputs, running containers and simulating at once; the rest wait, newest interval first.
MAX_PREPARING = 256
REVERT_LABEL_CHARS = 64  # a revert string is the consumer's text: its metric label is cut short
RETRY_DELAY = 1.0
# Reverts that settle an interval for good: resending could only fail the same way.
FINAL_REVERTS = frozenset(
    {
        "IntervalMismatch",
        "IntervalCompleted",
        "NodeRespondedAlready",
        "SubscriptionCompleted",
        "SubscriptionNotFound",
        "SubscriptionNotActive",
        "SignatureExpired",
        "SignerMismatch",
    }
)
# Of those, the ones that mean the subscription itself is gone (cancelled or never existed).
GONE_REVERTS = frozenset({"SubscriptionNotFound", "SubscriptionNotActive"})


class ContainerOutputLike(Protocol):
    container: str
    output: Any


class ContainerCallLike(Protocol):
    def event(self) -> dict[str, Any]: ...


class OrchestratorLike(Protocol):
    async def run(
        self,
        containers: list[str],
        data: Any,
        *,
        source: JobLocation,
        destination: JobLocation,
        requires_proof: bool = False,
        proof_target: ProofTarget | None = None,
        tag: str | None = None,
        on_call: Callable[[ContainerCallLike], None] | None = None,
    ) -> Sequence[ContainerOutputLike]: ...


class BadOutput(Exception):
    """A container answered an on-chain job with something that is not the on-chain output shape."""


class IntervalClosing(Exception):
    """The interval will have closed before a delivery sent now could be mined: nothing is sent."""


class Cancelled(Exception):
    """The subscription was cancelled after its interval was found due: nothing is sent (deliveries of known
    shape are not simulated, so the chain would only find out by reverting)."""


@dataclass(frozen=True)
class Packed:
    input: bytes
    output: bytes
    proof: bytes
    answer: OnchainOutput


def pack_output(outputs: Sequence[ContainerOutputLike]) -> Packed:
    """The delivery's `input`, `output` and `proof` from the last container's on-chain answer."""
    if not outputs:
        raise BadOutput("the container chain produced no output")
    last = outputs[-1]
    try:
        answer = OnchainOutput.model_validate(last.output)
        return Packed(
            input=pack_pair(answer.raw_input, answer.processed_input),
            output=pack_pair(answer.raw_output, answer.processed_output),
            proof=bytes.fromhex(answer.proof.removeprefix("0x")),
            answer=answer,
        )
    except (ValidationError, ValueError) as exc:
        raise BadOutput(f"container {last.container} did not answer with on-chain output: {exc}") from None


def delivery_shape(sub: Subscription, interval: int, packed: Packed) -> Shape | None:
    """What decides a `deliverCompute`'s gas, for a free subscription without a verifier and with one node: the
    consumer and its mode, whether this is the first interval (its answer count shares the slot the
    subscription's creation paid for; a later interval's count takes a new slot, ~20,000 gas more), and the sizes
    of what is delivered in ABI words (copying and storing cost by the word; the bytes' values change the
    calldata's cost by far less than the wallet's margin). None for paid or verified ones (payments and verifiers
    run code whose cost the node cannot see in advance) and for redundancy above one (which node's answer opens
    the interval's count is a race), so each of those is simulated."""
    if sub.payment_amount or requires_proof(sub) or sub.redundancy > 1:
        return None
    words = tuple(-(-len(part) // 32) for part in (packed.input, packed.output, packed.proof))
    return (sub.owner, sub.lazy, interval == 1, *words)


@dataclass(frozen=True)
class Outcome:
    status: DeliveryStatus
    receipt: Receipt | None = None
    error: str | None = None
    passed: bool = False  # the interval closed (or would have before landing): a later one may be open


def describe_failure(exc: BaseException) -> str:
    """A failure's reason for logs and records: a container's own description when it has one."""
    description = getattr(exc, "description", None)
    container = getattr(exc, "container", None)
    if description:
        return f"container {container} failed: {description}" if container else str(description)
    if isinstance(exc, Reverted):
        return f"reverted: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def _worth_retrying(exc: Exception) -> bool:
    """Container failures, RPC trouble, a send the RPC refused, a receipt that never came: all may pass, and
    each attempt re-simulates first, so a retry never resends blindly. A final revert or a bad output cannot."""
    if isinstance(exc, Reverted):
        return exc.reason not in FINAL_REVERTS
    return not isinstance(exc, BadOutput | EscrowRefused | IntervalClosing | Cancelled)


DELIVERY_RETRIES = RetryPolicy(attempts=MAX_ATTEMPTS, wait=exponential(RETRY_DELAY), transient=_worth_retrying)


async def run_with_retries(
    attempt: Callable[[], Awaitable[Receipt]],
    *,
    label: str,
    attempts_done: int,
    on_retry: Callable[[int, str], Awaitable[None]],
) -> Outcome:
    """Call `attempt` until it delivers, hits a final revert, or `MAX_ATTEMPTS` attempts were made."""
    if attempts_done >= MAX_ATTEMPTS:
        return Outcome(DeliveryStatus.FAILED, error=f"gave up after {attempts_done} attempts")
    made = attempts_done

    async def counted() -> Receipt:
        nonlocal made
        made += 1
        return await attempt()

    async def record(attempts: int, exc: BaseException) -> None:
        await on_retry(attempts, describe_failure(exc))

    try:
        receipt = await call_with_retries(
            counted,
            DELIVERY_RETRIES,
            label=label,
            log=log,
            reason=describe_failure,
            on_retry=record,
            done=attempts_done,
        )
    except (BadOutput, EscrowRefused) as exc:
        return Outcome(DeliveryStatus.FAILED, error=str(exc))
    except IntervalClosing as exc:
        return Outcome(DeliveryStatus.SKIPPED, error=str(exc), passed=True)
    except Cancelled as exc:
        return Outcome(DeliveryStatus.SKIPPED, error=str(exc))
    except Exception as exc:
        if isinstance(exc, Reverted) and exc.reason in FINAL_REVERTS:
            return Outcome(DeliveryStatus.SKIPPED, error=exc.reason, passed=exc.reason == "IntervalMismatch")
        return Outcome(DeliveryStatus.FAILED, error=f"{describe_failure(exc)} (after {made} attempts)")
    return Outcome(DeliveryStatus.DELIVERED, receipt=receipt)


class DeliveryProcessor:
    """Runs one task per due (subscription, interval) and remembers which ones are settled."""

    def __init__(
        self,
        client: ChainClient,
        wallet: NodeWallet,
        store: ChainStore,
        orchestrator: OrchestratorLike,
        report: SubscriptionReport,
        escrow: Escrow,
        *,
        node_wallet: str,
        allowed_sim_errors: Sequence[str],
        clock: ChainClock,
        on_gone: Callable[[int], Awaitable[None]],
        on_passed: Callable[[Due], Awaitable[None]],
        events: EventFeed | None = None,
    ) -> None:
        self._client = client
        self._events = events if events is not None else EventFeed()
        self._wallet = wallet
        self._store = store
        self._orchestrator = orchestrator
        self._report = report
        self._escrow = escrow
        self._node_wallet = node_wallet
        self._allowed_sim_errors = list(allowed_sim_errors)
        self._clock = clock
        self._slots = PrioritySlots(MAX_PREPARING)
        self._on_gone = on_gone
        self._on_passed = on_passed
        self._active: dict[tuple[int, int], asyncio.Task[None]] = {}
        self._settled: dict[int, int] = {}  # highest interval settled per subscription
        self._cancelled: set[int] = set()  # subscriptions cancelled on chain while this node served them
        # Intervals with a record that is not final: attempts made before a restart. Any other is read from
        # nothing: the store is not asked per delivery.
        self._resumable: set[tuple[int, int]] = set()

    def pending(self) -> int:
        return len(self._active)

    @property
    def unsent(self) -> int:
        """Deliveries due and not signed yet: preparing, or waiting for a slot (a slot is given back at signing)."""
        return self._slots.waiting + self._slots.taken

    def handled(self, subscription_id: int, interval: int) -> bool:
        """In flight or settled: never dispatched again."""
        return (subscription_id, interval) in self._active or self.settled(subscription_id, interval)

    def settled(self, subscription_id: int, interval: int) -> bool:
        """Ended for good (delivered, skipped or failed): never in flight or proposed again."""
        return self._settled.get(subscription_id, 0) >= interval

    async def load(self) -> None:
        """Resume from the store: settled intervals stay settled; sent transactions are followed up."""
        for record in await self._store.deliveries():
            self._report.interval(record.subscription_id, _interval_report(record, None))
            key = (record.subscription_id, record.interval)
            if record.status in FINAL_STATUSES:
                self._mark_settled(record.subscription_id, record.interval)
                continue
            self._resumable.add(key)
            if record.status is DeliveryStatus.SENT and record.tx_hash:
                self._spawn(key, self._recover(record))

    async def settle(self, due: Due, reason: str) -> None:
        """Record that an interval needs nothing from this node (unless it was settled meanwhile: the delegation
        path may have recorded its own delivery while the listener was judging)."""
        if self.handled(due.subscription_id, due.interval):
            return
        self._mark_settled(due.subscription_id, due.interval)
        await self._store.save_delivery(
            DeliveryRecord(
                subscription_id=due.subscription_id,
                interval=due.interval,
                status=DeliveryStatus.SKIPPED,
                error=reason,
            )
        )
        self._report.interval(
            due.subscription_id, IntervalReport(interval=due.interval, status=DeliveryStatus.SKIPPED, error=reason)
        )
        log.info("skip subscription=%d interval=%d: %s", due.subscription_id, due.interval, reason)

    async def record_delegated(self, subscription_id: int, interval: int, receipt: Receipt) -> None:
        """An interval the delegation path delivered (`deliverComputeDelegatee`): settled, stored and reported as
        delivered, as if this processor had sent it (the listener would otherwise skip it as already answered)."""
        record = DeliveryRecord(
            subscription_id=subscription_id,
            interval=interval,
            status=DeliveryStatus.DELIVERED,
            attempts=1,
            tx_hash=receipt.tx_hash,
        )
        await self._store.save_delivery(record)
        self._mark_settled(subscription_id, interval)
        self._report.interval(subscription_id, _interval_report(record, receipt))

    def cancelled(self, subscription_ids: set[int]) -> None:
        """Subscriptions cancelled on chain (or found gone): their deliveries not yet signed are dropped, and
        none is dispatched again."""
        self._cancelled |= subscription_ids

    def dispatch(self, due: Due) -> None:
        key = (due.subscription_id, due.interval)
        if key not in self._active and due.subscription_id not in self._cancelled:
            self._spawn(key, self._deliver(due))

    async def stop(self) -> None:
        tasks = list(self._active.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def forget(self) -> None:
        """Stop every delivery and forget which intervals are settled: they were of a chain that is gone."""
        await self.stop()
        self._settled.clear()
        self._cancelled.clear()
        self._resumable.clear()

    def _spawn(self, key: tuple[int, int], work: Awaitable[None]) -> None:
        async def own() -> None:
            use_lane("work")  # dispatched from the head follower: its lane is not this task's
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery subscription=%d interval=%d crashed", *key)
                self._resumable.add(key)  # its record may say what was attempted
            finally:
                self._active.pop(key, None)

        self._active[key] = asyncio.create_task(own(), name=f"deliver-{key[0]}-{key[1]}")

    def _mark_settled(self, subscription_id: int, interval: int) -> None:
        self._settled[subscription_id] = max(self._settled.get(subscription_id, 0), interval)

    # -- one interval ------------------------------------------------------------------------------------

    async def _deliver(self, due: Due) -> None:
        sub_id, interval = due.subscription_id, due.interval
        label = f"subscription={sub_id} interval={interval}"
        resumed = (sub_id, interval) in self._resumable
        stored = await self._store.delivery(sub_id, interval) if resumed else None
        record = DeliveryRecord(subscription_id=sub_id, interval=interval, status=DeliveryStatus.RUNNING)
        if stored is not None:
            # Attempts made before a restart count. (A first attempt is not written until it signs: after a
            # crash before that, the listener finds the interval due again all the same.)
            record = stored.model_copy(update={"status": DeliveryStatus.RUNNING, "tx_hash": None, "nonce": None})
            await self._store.save_delivery(record)
        self._report.interval(sub_id, IntervalReport(interval=interval, status=DeliveryStatus.RUNNING))
        log.debug("computing %s containers=%s", label, ",".join(due.containers))

        async def attempt() -> Receipt:
            return await self._attempt(due, record)

        async def on_retry(attempts: int, error: str) -> None:
            nonlocal record
            record = record.model_copy(update={"status": DeliveryStatus.RUNNING, "attempts": attempts, "error": error})
            await self._store.save_delivery(record)
            self._report.interval(sub_id, IntervalReport(interval=interval, status=DeliveryStatus.RUNNING, error=error))

        outcome = await run_with_retries(attempt, label=label, attempts_done=record.attempts, on_retry=on_retry)
        await self._finish(due, record, outcome, label)

    async def _delegated_request(self, due: Due) -> DelegatedRequest | None:
        """The signed request `due`'s subscription was created from, if this node accepted one: its `data` is the
        input of every interval (the owner's `getContainerInputs` knows nothing of it)."""
        owner = due.subscription.owner
        for record in await self._store.delegated_for(owner):
            if record.subscription_id is None:
                created = await self._client.delegate_created_id(owner, record.request.signature.nonce)
                if not created:
                    continue
                record = record.model_copy(update={"subscription_id": created})
                await self._store.save_delegated(record)
            if record.subscription_id == due.subscription_id:
                return record.request
        return None

    def _refuse_if_closing(self, due: Due, ahead: int) -> int | None:
        """`IntervalClosing` when a delivery sent now behind `ahead` transactions of ours would be mined after
        `due`'s interval closed: it could only revert with `IntervalMismatch` and spend gas. `Cancelled` when
        the subscription was cancelled meanwhile. Otherwise the chain time it is expected to land at."""
        if due.subscription_id in self._cancelled:
            raise Cancelled(f"subscription {due.subscription_id} was cancelled on chain")
        sub = due.subscription
        landing = self._clock.landing(ahead)
        if sub.period == 0 or landing is None:
            return landing
        if (at := interval_at(sub.active_at, sub.period, landing)) > due.interval:
            closes = sub.active_at + due.interval * sub.period
            raise IntervalClosing(
                f"interval closes at {closes}, before a delivery sent now lands (chain time ~{landing}, "
                f"interval {at}; {ahead} transactions of this node ahead)"
            )
        return landing

    async def _attempt(self, due: Due, record: DeliveryRecord) -> Receipt:
        slot = await self._slots.acquire(priority=_opened(due))
        try:
            return await self._attempt_in_slot(due, record, slot)
        finally:
            slot.release()

    async def _attempt_in_slot(self, due: Due, record: DeliveryRecord, slot: Slot) -> Receipt:
        sub = due.subscription
        # Ahead of it: ours sent or queued, and the deliveries preparing in the other slots.
        self._refuse_if_closing(due, self._wallet.queued + self._slots.taken - 1)
        delegated = await self._delegated_request(due)
        if delegated is not None:
            source, data, shown = JobLocation.OFFCHAIN, delegated.data, delegated.data
        else:
            inputs = await self._client.container_inputs(
                sub.owner, due.subscription_id, due.interval, due.timestamp, self._wallet.address, due.block
            )
            source, data, shown = JobLocation.ONCHAIN, inputs.hex(), readable(inputs.hex())
        needs_proof = requires_proof(sub)
        started = time.perf_counter()
        calls: list[ContainerCallLike] = []
        outputs = await self._orchestrator.run(
            due.containers,
            data,
            source=source,
            destination=JobLocation.ONCHAIN,
            requires_proof=needs_proof,
            proof_target=proof_target(self._client.chain_id, due.subscription_id, due.interval, sub),
            tag=f"subscription={due.subscription_id} interval={due.interval}",
            on_call=calls.append,
        )
        packed = pack_output(outputs)
        if needs_proof and not packed.proof:
            raise BadOutput(f"container {outputs[-1].container} answered without the proof {sub.verifier} judges")
        ms, output = round((time.perf_counter() - started) * 1000, 1), packed.answer.raw_output
        self._events.publish_rendered(
            "compute",
            lambda: {
                "subscription": due.subscription_id,
                "interval": due.interval,
                "block_hash": due.block,
                "containers": due.containers,
                "input": clipped(shown),
                "output": clipped(readable(output)),
                "ms": ms,
                "calls": [call.event() for call in calls],
            },
        )
        call = self._client.deliver_compute(
            due.subscription_id, due.interval, packed.input, packed.output, packed.proof, self._node_wallet
        )

        signed_at: int | None = None
        expected: tuple[int, int | None] = (0, None)  # ours ahead, and the landing estimated, at signing

        def guard(ahead: int) -> None:
            nonlocal expected
            expected = (ahead, self._refuse_if_closing(due, ahead))

        def on_signed(tx_hash: str, nonce: int) -> Awaitable[None]:
            """The record of the send, committed when the returned future is done (a future, not a coroutine:
            the wallet awaits a whole batch's without a task each)."""
            nonlocal signed_at
            signed_at = self._clock.head
            slot.release()  # only the receipt is awaited from here: the next delivery may start
            sent = record.model_copy(update={"status": DeliveryStatus.SENT, "tx_hash": tx_hash, "nonce": nonce})
            log.debug(
                "sending subscription=%d interval=%d tx=%s nonce=%d", due.subscription_id, due.interval, tx_hash, nonce
            )
            saved = self._store.saving(sent)

            def reported(saved: asyncio.Future[None]) -> None:
                if not saved.cancelled() and saved.exception() is None:
                    view = IntervalReport(interval=due.interval, status=DeliveryStatus.SENT, tx_hash=tx_hash)
                    self._report.interval(due.subscription_id, view)

            saved.add_done_callback(reported)
            return saved

        try:
            async with self._escrow.held(due.subscription_id, sub):
                receipt = await self._wallet.transact(
                    call,
                    on_signed=on_signed,
                    allowed_sim_errors=self._allowed_sim_errors,
                    guard=guard,
                    shape=delivery_shape(sub, due.interval, packed) if record.attempts == 0 else None,
                    priority=_opened(due),
                )
        except Reverted as exc:
            REVERTS.labels(exc.reason[:REVERT_LABEL_CHARS]).inc()
            if exc.block is not None:
                log.warning(
                    "reverted on chain subscription=%d interval=%d tx=%s block=%d: signed at head %s behind %d of "
                    "ours, expected to land at chain time %s",
                    due.subscription_id,
                    due.interval,
                    exc.tx_hash,
                    exc.block,
                    signed_at,
                    *expected,
                )
            raise self._name_consumer(exc, sub.owner) from None
        if signed_at is not None:
            self._clock.landed(signed_at, receipt.block_number, receipt.gas_used)
        return receipt

    def _name_consumer(self, exc: Reverted, owner: str) -> Reverted:
        """A revert that is none of the coordinator's errors comes from the consumer's callback: say whose. (One
        mined without a reason is not named: the retry's simulation names it.)"""
        if exc.reason in self._client.selectors.values() or exc.tx_hash is not None:
            return exc
        return Reverted(f"the callback of consumer {owner} reverted: {exc.reason}", tx_hash=exc.tx_hash)

    async def _finish(self, due: Due, record: DeliveryRecord, outcome: Outcome, label: str) -> None:
        tx_hash = outcome.receipt.tx_hash if outcome.receipt else None
        final = record.model_copy(update={"status": outcome.status, "error": outcome.error, "tx_hash": tx_hash})
        await self._store.save_delivery(final)
        self._mark_settled(due.subscription_id, due.interval)
        self._resumable.discard((due.subscription_id, due.interval))
        self._report.interval(due.subscription_id, _interval_report(final, outcome.receipt))
        mined = outcome.status is DeliveryStatus.DELIVERED and outcome.receipt is not None
        settled(outcome.status.value, outcome.receipt.gas_used if mined and outcome.receipt else None)
        if outcome.status is DeliveryStatus.DELIVERED and outcome.receipt is not None:
            log.info(
                "delivered %s tx=%s block=%d gas=%d",
                label,
                tx_hash,
                outcome.receipt.block_number,
                outcome.receipt.gas_used,
            )
        elif outcome.status is DeliveryStatus.SKIPPED:
            log.info("not delivering %s: %s", label, outcome.error)
            if outcome.error in GONE_REVERTS:
                self._cancelled.add(due.subscription_id)
                await self._on_gone(due.subscription_id)
            elif outcome.passed:
                await self._on_passed(due)
        else:
            log.error("delivery failed %s: %s", label, outcome.error)

    async def _recover(self, record: DeliveryRecord) -> None:
        """A transaction sent before a restart: wait for its receipt instead of sending again."""
        label = f"subscription={record.subscription_id} interval={record.interval}"
        assert record.tx_hash is not None
        log.info("following up %s tx=%s sent before restart", label, record.tx_hash)
        try:
            receipt = await self._wallet.watch(record.tx_hash)
        except TimeoutError as exc:
            receipt, error = None, str(exc)
        else:
            error = "transaction never reached the chain" if receipt is None else "reverted on chain"
        if receipt is not None and receipt.status == 1:
            delivered = record.model_copy(update={"status": DeliveryStatus.DELIVERED})
            await self._store.save_delivery(delivered)
            self._report.interval(record.subscription_id, _interval_report(delivered, receipt))
            self._mark_settled(record.subscription_id, record.interval)
            log.info("delivered %s tx=%s block=%d (sent before restart)", label, record.tx_hash, receipt.block_number)
            return
        # Not delivered: count the attempt; the listener proposes the interval again while it is open.
        attempts = record.attempts + 1
        status = DeliveryStatus.FAILED if attempts >= MAX_ATTEMPTS else DeliveryStatus.RUNNING
        retried = record.model_copy(update={"status": status, "attempts": attempts, "error": error})
        await self._store.save_delivery(retried)
        self._resumable.add((record.subscription_id, record.interval))
        self._report.interval(record.subscription_id, _interval_report(retried, receipt))
        if status is DeliveryStatus.FAILED:
            self._mark_settled(record.subscription_id, record.interval)
        log.warning("%s tx=%s: %s", label, record.tx_hash, error)


def _opened(due: Due) -> int:
    """When `due`'s interval opened: the later, the more time it has left, the sooner it is served."""
    sub = due.subscription
    return sub.active_at + max(due.interval - 1, 0) * sub.period


def _interval_report(record: DeliveryRecord, receipt: Receipt | None) -> IntervalReport:
    """An interval's state for the report: the record's status and error, the receipt's block and gas."""
    mined = receipt is not None and receipt.status == 1
    return IntervalReport(
        interval=record.interval,
        status=record.status,
        tx_hash=record.tx_hash,
        block=receipt.block_number if mined and receipt else None,
        gas_used=receipt.gas_used if mined and receipt else None,
        error=record.error,
    )
