"""Proofs: whether a job must come with one, and the place where generating and verifying them will go.

A subscription asks for a proof by naming a verifier contract; an off-chain request says `requires_proof`. The
node does not generate or check proofs itself: a container that `generates_proofs` returns the proof bytes in
its on-chain output, which the delivery passes to the coordinator, and the verifier judges them on chain.
"""

from __future__ import annotations

from infernet_kit.chain.encoding import Subscription
from infernet_kit.protocol.defaults import ZERO_ADDRESS


def requires_proof(subscription: Subscription) -> bool:
    """Whether deliveries of `subscription` need a proof: it names a verifier."""
    return subscription.verifier != ZERO_ADDRESS
