"""Who may run what: the reference node's admission rules, by real peer address and subscription owner.

Messages are the reference's strings (PROTOCOL.md section 3) so clients that match on them keep working.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infernet_kit.node.config import DEFAULT_MAX_CONTAINERS_PER_JOB, ContainerConfig, RateLimitConfig
from infernet_kit.protocol.defaults import ZERO_ADDRESS

NO_CONTAINERS = "No containers specified"
NOT_SUPPORTED = "Container not supported"
NOT_EXTERNAL = "First container must be external"
NO_PROOFS = "Container does not generate proof"
NOT_ALLOWED = "Container not allowed for address"
CHAIN_DISABLED = "Chain not enabled"
INVALID_PAYMENT = "Invalid payment"
RATE_LIMITED = "Rate limit exceeded"
TOO_MANY_CONTAINERS = "Too many containers"


@dataclass(frozen=True)
class Rejection:
    """Why a request is refused: the HTTP status, the reference message and the details."""

    status: int
    error: str
    params: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "params": self.params}


class RateLimiter:
    """A token bucket per client address: `num_requests` per `period` seconds, refilled continuously."""

    def __init__(self, config: RateLimitConfig) -> None:
        self.capacity = float(config.num_requests)
        self.period = config.period
        self._rate = config.num_requests / config.period
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            return False
        self._buckets[client] = (tokens - 1.0, now)
        if len(self._buckets) > 10_000:
            self._forget_idle(now)
        return True

    def retry_after(self, client: str) -> float:
        tokens, _ = self._buckets.get(client, (self.capacity, 0.0))
        return max(0.0, (1.0 - tokens) / self._rate)

    def _forget_idle(self, now: float) -> None:
        """Drop clients whose bucket has refilled: they are indistinguishable from new ones."""
        full = [c for c, (tokens, last) in self._buckets.items() if tokens + (now - last) * self._rate >= self.capacity]
        for client in full:
            del self._buckets[client]


class Guardian:
    """Admission checks for off-chain jobs, subscriptions and delegated subscriptions."""

    def __init__(
        self,
        containers: Mapping[str, ContainerConfig],
        *,
        chain_enabled: bool,
        rate_limit: RateLimitConfig | None = None,
        max_containers: int = DEFAULT_MAX_CONTAINERS_PER_JOB,
    ) -> None:
        self.containers = dict(containers)
        self.chain_enabled = chain_enabled
        self.rate_limiter = RateLimiter(rate_limit or RateLimitConfig())
        self.max_containers = max_containers

    def _unsupported(self, containers: Sequence[str]) -> Rejection | None:
        if not containers:
            return Rejection(400, NO_CONTAINERS)
        if len(containers) > self.max_containers:
            return Rejection(400, TOO_MANY_CONTAINERS, {"limit": self.max_containers, "containers": len(containers)})
        for container in containers:
            if container not in self.containers:
                return Rejection(404, NOT_SUPPORTED, {"container": container})
        first = containers[0]
        if not self.containers[first].external:
            return Rejection(403, NOT_EXTERNAL, {"container": first})
        return None

    def check_offchain(self, containers: Sequence[str], *, client_ip: str, requires_proof: bool) -> Rejection | None:
        """An off-chain (or streamed) job from the peer at `client_ip` (the socket's address, never the body's)."""
        if rejection := self._unsupported(containers):
            return rejection
        for container in containers:
            if not self.containers[container].allows_ip(client_ip):
                return Rejection(403, NOT_ALLOWED, {"container": container, "address": client_ip})
        if requires_proof and not self.containers[containers[-1]].generates_proofs:
            # The proof comes with the last container's answer (as the reference node judges it).
            return Rejection(400, NO_PROOFS, {"container": containers[-1]})
        return None

    def judge_subscription(
        self,
        containers: Sequence[str],
        owner: str,
        *,
        delegated: bool,
        payment_token: str,
        payment_amount: int,
        verifier: str = ZERO_ADDRESS,
        verifier_fee: int = 0,
    ) -> Rejection | None:
        """Why a subscription (on-chain or delegated) must not be served by this node, with the values at fault.

        `allowed_addresses` limits on-chain subscription owners, `allowed_delegate_addresses` delegated ones;
        every container with `accepted_payments` must accept `payment_token`, and `payment_amount` less the
        verifier's fee (`verifier_fee`, paid out of it) must cover the sum of their minimums; a verifier needs its
        proof from the last container, which must generate proofs (as the reference node).
        """
        if rejection := self._unsupported(containers):
            return rejection
        from eth_utils.address import is_address, to_checksum_address  # here: off-chain nodes never need it

        owner_key = to_checksum_address(owner) if is_address(owner) else owner
        token = to_checksum_address(payment_token) if is_address(payment_token) else payment_token
        required = 0
        for container_id in containers:
            config = self.containers[container_id]
            key = "allowed_delegate_addresses" if delegated else "allowed_addresses"
            allowed = config.allowed_delegate_addresses if delegated else config.allowed_addresses
            if allowed and owner_key not in allowed:
                return Rejection(403, NOT_ALLOWED, {"container": container_id, "owner": owner_key, key: allowed})
            if config.accepted_payments:
                if token not in config.accepted_payments:
                    params = {
                        "container": container_id,
                        "payment_token": token,
                        "accepted_payments": config.accepted_payments,
                    }
                    return Rejection(402, INVALID_PAYMENT, params)
                required += config.accepted_payments[token]
        last = containers[-1]
        if verifier != ZERO_ADDRESS and not self.containers[last].generates_proofs:
            return Rejection(400, NO_PROOFS, {"container": last, "verifier": verifier})
        if payment_amount - verifier_fee < required:
            fee: dict[str, Any] = {"verifier_fee": verifier_fee} if verifier_fee else {}
            short = {"payment_amount": payment_amount, "required": required, "payment_token": token, **fee}
            return Rejection(402, INVALID_PAYMENT, short)
        return None

    def allow_request(self, client: str) -> Rejection | None:
        """The per-client rate limit (server.rate_limit): one token per request, and per job of a batch."""
        if self.rate_limiter.allow(client):
            return None
        return Rejection(
            429,
            RATE_LIMITED,
            {
                "limit": int(self.rate_limiter.capacity),
                "period": self.rate_limiter.period,
                "retry_after": round(self.rate_limiter.retry_after(client), 3),
            },
        )
