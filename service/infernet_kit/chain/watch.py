"""Waiting on the coordinator: which subscription a transaction created, and when it was fulfilled."""

from __future__ import annotations

from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import EventData, TxReceipt

from infernet_kit.polling import WaitTimeout, wait_until


class CallbackTimeout(TimeoutError):
    """Fewer deliveries than expected arrived in time."""


def created_subscription_id(coordinator: Contract, receipt: TxReceipt) -> int:
    """The id of the subscription a request transaction created (its `SubscriptionCreated` event)."""
    events = coordinator.events.SubscriptionCreated().process_receipt(receipt, errors=DISCARD)
    if not events:
        raise LookupError(f"transaction {receipt['transactionHash'].to_0x_hex()} created no subscription")
    return int(events[0]["args"]["id"])


def wait_for_fulfillments(
    coordinator: Contract,
    subscription_id: int,
    *,
    count: int = 1,
    from_block: int = 0,
    timeout: float = 30.0,
    poll_interval: float = 0.1,
) -> list[EventData]:
    """Block until `count` `SubscriptionFulfilled` events exist for `subscription_id`; oldest first."""
    event = coordinator.events.SubscriptionFulfilled()
    logs: list[EventData] = []

    def arrived() -> bool:
        logs[:] = event.get_logs(from_block=from_block, argument_filters={"id": subscription_id})
        return len(logs) >= count

    try:
        wait_until(
            arrived, timeout=timeout, interval=poll_interval, what=f"subscription {subscription_id}'s deliveries"
        )
    except WaitTimeout:
        raise CallbackTimeout(
            f"subscription {subscription_id}: {len(logs)} of {count} deliveries after {timeout:.0f}s"
        ) from None
    return sorted(logs, key=lambda log: (log["blockNumber"], log["logIndex"]))
