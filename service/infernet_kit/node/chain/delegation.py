"""Delegated subscriptions: a signed subscription arrives over REST; the node checks it against the chain,
then creates it and delivers its first interval in one `deliverComputeDelegatee` transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from infernet_kit.chain.encoding import ZERO_ADDRESS, Signature, Subscription, interval_at, recover_delegate_signer
from infernet_kit.node.chain.listener import SubscriptionGuard
from infernet_kit.node.chain.lookup import ContainerLookup
from infernet_kit.node.chain.processor import OrchestratorLike, pack_output, run_with_retries
from infernet_kit.node.chain.rpc import ChainClient, Receipt
from infernet_kit.node.chain.store import (
    FINAL_STATUSES,
    ChainStore,
    DelegatedRecord,
    DelegatedRequest,
    DeliveryStatus,
)
from infernet_kit.node.chain.wallet import NodeWallet, Reverted
from infernet_kit.node.metrics import settled
from infernet_kit.node.proofs import requires_proof, verifies_payment
from infernet_kit.protocol import JobLocation

log = logging.getLogger(__name__)


class DelegationRejected(Exception):
    """A delegated subscription the node will not serve; `reason` and `params` go back to the client."""

    def __init__(self, reason: str, params: dict[str, Any] | None = None) -> None:
        self.reason = reason
        self.params = params or {}
        super().__init__(reason)


# The order of secp256k1. The coordinator recovers the signer with the `ecrecover` precompile, which answers
# the zero address (refused as `SignerMismatch`) unless v is 27 or 28 and r and s are in [1, n - 1]. It does
# not require a low s: a signature with s above n / 2 recovers the same signer and is accepted on chain.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def signature_problem(signature: Signature) -> DelegationRejected | None:
    """Why the coordinator's `ecrecover` would refuse `signature`'s v, r or s, or None if it takes them."""
    if signature.v not in (27, 28):
        return DelegationRejected("Invalid signature: v must be 27 or 28", {"v": signature.v})
    for name, value in (("r", signature.r), ("s", signature.s)):
        if not 1 <= value < SECP256K1_N:
            return DelegationRejected(
                f"Invalid signature: {name} out of range", {name: str(value), "detail": f"{name} must be in [1, n - 1]"}
            )
    return None


class DelegatedProcessor:
    """Validates delegated subscriptions and runs one task per accepted (owner, nonce)."""

    def __init__(
        self,
        client: ChainClient,
        wallet: NodeWallet,
        store: ChainStore,
        orchestrator: OrchestratorLike,
        lookup: ContainerLookup,
        guard: SubscriptionGuard,
        *,
        payment_address: str | None,
        allowed_sim_errors: Sequence[str],
        poll_period: float,
        on_delivered: Callable[[int, int, Receipt], Awaitable[None]],
    ) -> None:
        """`on_delivered(subscription_id, interval, receipt)`: the interval this node's `deliverComputeDelegatee`
        delivered, to be settled and reported like the processor's own deliveries."""
        self._client = client
        self._wallet = wallet
        self._store = store
        self._orchestrator = orchestrator
        self._lookup = lookup
        self._guard = guard
        self._payment_address = payment_address
        self._allowed_sim_errors = list(allowed_sim_errors)
        self._poll_period = poll_period
        self._on_delivered = on_delivered
        self._active: dict[tuple[str, int], asyncio.Task[None]] = {}

    def pending(self) -> int:
        return len(self._active)

    async def load(self) -> None:
        """Resume delegated subscriptions accepted before a restart and not yet delivered."""
        for record in await self._store.unfinished_delegated():
            self._spawn(record)

    async def stop(self) -> None:
        tasks = list(self._active.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- acceptance --------------------------------------------------------------------------------------

    async def submit(self, sub: Subscription, signature: Signature, data: Any) -> None:
        """Accept a delegated subscription or raise `DelegationRejected` saying why."""
        containers = self._lookup.containers(sub.container_id)
        if containers is None:
            raise DelegationRejected("Container not supported", {"containers": "0x" + sub.container_id.hex()})
        key = (sub.owner, signature.nonce)
        existing_id = await self._client.delegate_created_id(sub.owner, signature.nonce)
        if existing_id:
            await self._keep_existing(sub, signature, data, existing_id)
            return
        chain_time = (await self._client.block("latest")).timestamp
        if chain_time >= signature.expiry:
            raise DelegationRejected("Signature expired", {"expiry": signature.expiry, "chain_time": chain_time})
        if sub.redundancy == 0:
            # The coordinator refuses it too; saying so now beats a delivery that can only fail later.
            raise DelegationRejected("Invalid subscription", {"redundancy": 0, "detail": "redundancy must be >= 1"})
        if sub.frequency == 0 or (
            chain_time >= sub.active_at and interval_at(sub.active_at, sub.period, chain_time) > sub.frequency
        ):
            raise DelegationRejected(
                "Subscription completed",
                {
                    "active_at": sub.active_at,
                    "period": sub.period,
                    "frequency": sub.frequency,
                    "chain_time": chain_time,
                },
            )
        await self._check_signer(sub, signature)
        rejection = self._guard.judge_subscription(
            containers,
            sub.owner,
            delegated=True,
            payment_token=sub.payment_token,
            payment_amount=sub.payment_amount,
            verifier=sub.verifier,
        )
        if rejection is not None:
            raise DelegationRejected(
                rejection.error, {"owner": sub.owner, "containers": containers, **rejection.params}
            )
        if sub.payment_amount > 0 and self._payment_address is None:
            raise DelegationRejected(
                "Invalid payment", {"payment_amount": sub.payment_amount, "detail": "node has no payment_address"}
            )
        if verifies_payment(sub):
            # The stake escrow and a proof naming its interval need the subscription id, which a delegated
            # subscription has only once this delivery created it: create it on chain first (docs/PROOFS.md).
            raise DelegationRejected(
                "Verifier not supported for delegated subscriptions",
                {"verifier": sub.verifier, "payment_amount": sub.payment_amount},
            )
        if key in self._active:
            return
        previous = await self._store.delegated(sub.owner, signature.nonce)
        if previous is not None and previous.status is DeliveryStatus.DELIVERED:
            return
        record = DelegatedRecord(
            request=DelegatedRequest(subscription=sub, signature=signature, data=data), status=DeliveryStatus.RUNNING
        )
        await self._store.save_delegated(record)
        log.info(
            "accepted delegated subscription owner=%s nonce=%d containers=%s",
            sub.owner,
            signature.nonce,
            ",".join(containers),
        )
        self._spawn(record)

    async def _keep_existing(self, sub: Subscription, signature: Signature, data: Any, subscription_id: int) -> None:
        """`(owner, nonce)` is on chain already (another node created it, or the nonce is reused): the listener
        serves its intervals, from the data of the first request this node accepted for it."""
        previous = await self._store.delegated(sub.owner, signature.nonce)
        if previous is not None:
            if previous.subscription_id is None:
                await self._store.save_delegated(previous.model_copy(update={"subscription_id": subscription_id}))
            log.info(
                "delegated subscription owner=%s nonce=%d already exists as subscription=%d; this input was not used",
                sub.owner,
                signature.nonce,
                subscription_id,
            )
            return
        await self._check_signer(sub, signature)  # the owner's signer sent this struct (the data is never signed)
        request = DelegatedRequest(subscription=sub, signature=signature, data=data)
        error = f"created on chain as subscription {subscription_id} before this node saw it"
        record = DelegatedRecord(
            request=request, status=DeliveryStatus.SKIPPED, error=error, subscription_id=subscription_id
        )
        await self._store.save_delegated(record)
        log.info(
            "delegated subscription owner=%s nonce=%d already exists as subscription=%d; "
            "serving its intervals with this request's data",
            sub.owner,
            signature.nonce,
            subscription_id,
        )

    async def _check_signer(self, sub: Subscription, signature: Signature) -> None:
        """Recover the signer as the coordinator does, so that acceptance means the chain takes the signature."""
        if (problem := signature_problem(signature)) is not None:
            raise problem
        try:
            recovered = recover_delegate_signer(
                sub, signature, chain_id=self._client.chain_id, coordinator=self._client.coordinator
            )
        except Exception as exc:  # r is no point's x coordinate: ecrecover answers the zero address
            raise DelegationRejected(
                "Signer mismatch", {"owner": sub.owner, "detail": f"the signature recovers no address: {exc}"}
            ) from None
        expected = await self._client.delegate_signer(sub.owner)
        if expected is None:
            raise DelegationRejected(
                "Signer mismatch", {"owner": sub.owner, "detail": "owner has no getSigner() (not a Delegator)"}
            )
        if recovered != expected:
            raise DelegationRejected(
                "Signer mismatch",
                {
                    "owner": sub.owner,
                    "signer": expected,
                    "recovered": recovered,
                    "detail": f"signature does not match chain {self._client.chain_id} and coordinator "
                    f"{self._client.coordinator} for the owner's signer",
                },
            )

    # -- delivery ----------------------------------------------------------------------------------------

    def _spawn(self, record: DelegatedRecord) -> None:
        sub, signature = record.request.subscription, record.request.signature
        key = (sub.owner, signature.nonce)

        async def own() -> None:
            try:
                await self._run(record)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delegated subscription owner=%s nonce=%d crashed", *key)
            finally:
                self._active.pop(key, None)

        self._active[key] = asyncio.create_task(own(), name=f"delegated-{sub.owner}-{signature.nonce}")

    async def _run(self, record: DelegatedRecord) -> None:
        sub, signature = record.request.subscription, record.request.signature
        label = f"delegated owner={sub.owner} nonce={signature.nonce}"
        if record.status is DeliveryStatus.SENT and record.tx_hash:
            receipt = await self._wallet.watch(record.tx_hash)
            if receipt is not None and receipt.status == 1:
                await self._finish(record, DeliveryStatus.DELIVERED, receipt, None, label)
                return
        attempts_record = record

        async def attempt() -> Receipt:
            return await self._attempt(attempts_record)

        async def on_retry(attempts: int, error: str) -> None:
            await self._store.save_delegated(attempts_record.model_copy(update={"error": error}))

        outcome = await run_with_retries(attempt, label=label, attempts_done=0, on_retry=on_retry)
        await self._finish(record, outcome.status, outcome.receipt, outcome.error, label)

    async def _attempt(self, record: DelegatedRecord) -> Receipt:
        request = record.request
        sub, signature = request.subscription, request.signature
        containers = self._lookup.containers(sub.container_id) or []
        chain_time = await self._wait_until_active(sub, signature)
        outputs = await self._orchestrator.run(
            containers,
            request.data,
            source=JobLocation.OFFCHAIN,
            destination=JobLocation.ONCHAIN,
            requires_proof=requires_proof(sub),
            tag=f"delegated owner={sub.owner} nonce={signature.nonce}",
        )
        packed = pack_output(outputs)
        interval = interval_at(sub.active_at, sub.period, chain_time)
        call = self._client.deliver_compute_delegatee(
            sub,
            signature,
            interval,
            packed.input,
            packed.output,
            packed.proof,
            self._payment_address or ZERO_ADDRESS,
        )

        async def on_signed(tx_hash: str, nonce: int) -> None:
            await self._store.save_delegated(
                record.model_copy(update={"status": DeliveryStatus.SENT, "tx_hash": tx_hash})
            )
            log.info(
                "sending delegated owner=%s nonce=%d interval=%d tx=%s", sub.owner, signature.nonce, interval, tx_hash
            )

        return await self._wallet.transact(call, on_signed=on_signed, allowed_sim_errors=self._allowed_sim_errors)

    async def _wait_until_active(self, sub: Subscription, signature: Signature) -> int:
        """Chain time (the next block's) once the subscription is active; `Reverted` if it expires first."""
        while True:
            chain_time = await self._client.pending_timestamp()
            if chain_time >= sub.active_at:
                return chain_time
            if chain_time >= signature.expiry:
                raise Reverted("SignatureExpired")
            await asyncio.sleep(min(self._poll_period, sub.active_at - chain_time))

    async def _finish(
        self,
        record: DelegatedRecord,
        status: DeliveryStatus,
        receipt: Receipt | None,
        error: str | None,
        label: str,
    ) -> None:
        tx_hash = receipt.tx_hash if receipt is not None else record.tx_hash
        created = receipt.created_subscription(self._client.coordinator) if receipt is not None else None
        delivered = status is DeliveryStatus.DELIVERED and receipt is not None
        sub, nonce = record.request.subscription, record.request.signature.nonce
        sub_id = created or record.subscription_id
        if delivered and not sub_id:
            # No creation event: another node created it first and this transaction delivered to that one.
            sub_id = await self._client.delegate_created_id(sub.owner, nonce)
        await self._store.save_delegated(
            record.model_copy(update={"status": status, "tx_hash": tx_hash, "error": error, "subscription_id": sub_id})
        )
        settled(status.value, receipt.gas_used if delivered and receipt is not None else None)
        if delivered and receipt is not None and sub_id:
            mined = await self._client.block(receipt.block_number)
            interval = interval_at(sub.active_at, sub.period, mined.timestamp)
            await self._on_delivered(sub_id, interval, receipt)
            log.info(
                "delivered %s subscription=%d interval=%d tx=%s block=%d gas=%d",
                label,
                sub_id,
                interval,
                tx_hash,
                receipt.block_number,
                receipt.gas_used,
            )
        elif status in FINAL_STATUSES:
            log.log(
                logging.INFO if status is DeliveryStatus.SKIPPED else logging.ERROR,
                "%s not delivered: %s",
                label,
                error,
            )
