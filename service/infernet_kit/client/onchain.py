"""On-chain flows of the client: delegated subscriptions as the seeds run them, and reading them back."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import ValidationError

from infernet_kit.chain.encoding import delegate_key
from infernet_kit.client.chain_utils import RPC, Subscription
from infernet_kit.config import ConfigError

SUBSCRIPTION_PARAM_NAMES = (
    "owner",
    "active_at",
    "period",
    "frequency",
    "redundancy",
    "containers",
    "lazy",
    "verifier",
    "payment_amount",
    "payment_token",
    "wallet",
)


def subscription_from_params(params: dict[str, Any], source: str = "params") -> Subscription:
    """A `Subscription` from the seeds' params.json object (keys as printed there)."""
    unknown = sorted(set(params) - set(SUBSCRIPTION_PARAM_NAMES))
    if unknown:
        raise ConfigError(f"{source}: unknown subscription field(s) {', '.join(unknown)}")
    missing = [
        name for name in ("owner", "active_at", "period", "frequency", "redundancy", "containers") if name not in params
    ]
    if missing:
        raise ConfigError(f"{source}: missing subscription field(s) {', '.join(missing)}")
    containers = params["containers"]
    if isinstance(containers, str):
        containers = [name.strip() for name in containers.split(",") if name.strip()]
    try:
        return Subscription(**{**params, "containers": containers})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "value"
        raise ConfigError(f"{source}: {field}: {error['msg']}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


async def wait_for_delegated_subscription(
    rpc: RPC, coordinator: str, *, owner: str, nonce: int, wait: float = 30.0, poll: float = 0.2
) -> int:
    """The id the coordinator gave the delegated subscription `(owner, nonce)`, once it exists on chain."""
    from infernet_kit.client.contracts import coordinator_contract

    contract = coordinator_contract(rpc, coordinator)
    key = delegate_key(owner, nonce)
    deadline = time.monotonic() + wait
    while True:
        subscription_id = int(await rpc.reachable(contract.functions.delegateCreatedIds(key).call()))
        if subscription_id:
            return subscription_id
        if time.monotonic() > deadline:
            raise TimeoutError(f"no subscription for owner {owner} nonce {nonce} on chain after {wait:g}s")
        await asyncio.sleep(poll)
