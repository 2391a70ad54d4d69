"""Proofs: whether a job must come with one, whether a verifier's terms let the node serve it, and the escrow.

A subscription asks for a proof by naming a verifier contract; an off-chain request says `requires_proof`. The
node does not generate or check proofs itself: a container that `generates_proofs` returns the proof bytes in
its on-chain output (`proof`), the delivery passes them to the coordinator, and the verifier judges them on chain.

A paid subscription with a verifier costs the node a stake (SDK v1.1): at delivery the coordinator locks
`paymentAmount` in the node's payment wallet (`Wallet.cLock(node, token, amount)`, which spends the wallet's
allowance for the node's address) until the verifier finalizes: a valid proof unlocks it (and the allowance comes
back), an invalid one sends it to the consumer's wallet. `Escrow` makes sure the allowance covers every delivery
in flight before each is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass

from eth_abi.exceptions import DecodingError

from infernet_kit.chain.encoding import Subscription
from infernet_kit.node.chain.rpc import ChainClient, RpcError
from infernet_kit.node.chain.wallet import NodeWallet, Reverted
from infernet_kit.protocol import ProofTarget
from infernet_kit.protocol.defaults import ZERO_ADDRESS

log = logging.getLogger(__name__)


def requires_proof(subscription: Subscription) -> bool:
    """Whether deliveries of `subscription` need a proof: it names a verifier."""
    return subscription.verifier != ZERO_ADDRESS


def proof_target(chain_id: int, subscription_id: int, interval: int, subscription: Subscription) -> ProofTarget | None:
    """What the proof of this delivery must name, for the container that generates it; None without a verifier."""
    if not requires_proof(subscription):
        return None
    return ProofTarget(
        chain_id=chain_id, verifier=subscription.verifier, subscription_id=subscription_id, interval=interval
    )


def verifies_payment(subscription: Subscription) -> bool:
    """Whether the coordinator holds the payment until the verifier judges the proof (a verifier and a price)."""
    return requires_proof(subscription) and subscription.payment_amount > 0


@dataclass(frozen=True)
class VerifierTerms:
    """What a verifier asks of a subscription's payment token: `refusal` when it cannot be paid in it."""

    fee: int = 0
    refusal: str | None = None


async def verifier_terms(client: ChainClient, subscription: Subscription) -> VerifierTerms:
    """The verifier's fee in the subscription's token (0 without a paid verifier), or why it cannot be served."""
    if not verifies_payment(subscription):
        return VerifierTerms()
    verifier, token = subscription.verifier, subscription.payment_token
    try:
        supported, fee = await client.verifier_terms(verifier, token)
    except (RpcError, ValueError, DecodingError) as exc:
        return VerifierTerms(refusal=f"verifier {verifier} does not answer as an IVerifier: {exc}")
    if not supported:
        return VerifierTerms(refusal=f"verifier {verifier} does not accept payment token {token}")
    return VerifierTerms(fee=fee)


class EscrowRefused(Exception):
    """The node's payment wallet cannot give the coordinator the allowance a delivery with a verifier needs."""


class Escrow:
    """Keeps the payment wallet's allowance for the node's address at least the stake of every verified
    delivery in flight (the reference node approves each delivery's amount; concurrent deliveries would then
    overwrite each other's approval). Allowance left over is harmless: only the coordinator spends it, and only
    for this node's deliveries."""

    def __init__(self, client: ChainClient, wallet: NodeWallet, payment_wallet: str | None) -> None:
        self._client = client
        self._wallet = wallet
        self._payment_wallet = payment_wallet
        self._held: dict[str, int] = {}  # stake of the deliveries in flight, per token
        self._lock = asyncio.Lock()

    def held(self, subscription_id: int, subscription: Subscription) -> AbstractAsyncContextManager[None]:
        """Around one delivery: the allowance covers its stake (an `approve` first if needed) until it is done.
        (Nothing to hold for most deliveries: they skip the generator's cost.)"""
        if not verifies_payment(subscription):
            return nullcontext()
        return self._holding(subscription_id, subscription)

    @asynccontextmanager
    async def _holding(self, subscription_id: int, subscription: Subscription) -> AsyncIterator[None]:
        token, stake = subscription.payment_token, subscription.payment_amount
        async with self._lock:
            needed = self._held.get(token, 0) + stake
            await self._cover(subscription_id, token, needed)
            self._held[token] = needed
        try:
            yield
        finally:
            self._held[token] -= stake
            if not self._held[token]:
                del self._held[token]

    async def _cover(self, subscription_id: int, token: str, needed: int) -> None:
        wallet, node = self._payment_wallet, self._wallet.address
        if wallet is None:
            raise EscrowRefused("no wallet.payment_address configured to escrow the verifier's stake")
        allowance = await self._client.wallet_allowance(wallet, node, token)
        if allowance >= needed:
            return
        call = self._client.wallet_approve(wallet, node, token, needed)

        async def on_signed(tx_hash: str, nonce: int) -> None:
            log.info(
                "escrow: subscription=%d payment wallet %s approves node %s for %d of token %s tx=%s nonce=%d",
                subscription_id,
                wallet,
                node,
                needed,
                token,
                tx_hash,
                nonce,
            )

        try:
            await self._wallet.transact(call, on_signed=on_signed)
        except Reverted as exc:
            raise EscrowRefused(
                f"payment wallet {wallet} refused approve({node}, {token}, {needed}): {exc.reason} "
                "(the node's key must own its payment wallet)"
            ) from None
