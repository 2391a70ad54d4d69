"""Waiting on the coordinator: which subscription a transaction created, and when it was fulfilled; when it was
not, what the nodes say about it (their `GET /api/subscriptions?id=`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import EventData, TxReceipt

from infernet_kit.polling import WaitTimeout, wait_until
from infernet_kit.tls import tls_context

NODE_ASK_TIMEOUT = 5.0  # seconds to wait for a node's account of a subscription


class CallbackTimeout(TimeoutError):
    """Fewer deliveries than expected arrived in time; `reasons` holds each asked node's account of why."""

    def __init__(self, subscription_id: int, message: str, reasons: Sequence[str] = ()) -> None:
        self.subscription_id = subscription_id
        self.summary = message
        self.reasons = list(reasons)
        super().__init__("; ".join([message, *self.reasons]))

    def explained(self, nodes: Sequence[str]) -> CallbackTimeout:
        """This timeout with the accounts of `nodes` added (when it has none yet)."""
        if self.reasons or not nodes:
            return self
        return CallbackTimeout(self.subscription_id, self.summary, why_no_callback(nodes, self.subscription_id))


def why_no_callback(nodes: Sequence[str], subscription_id: int) -> list[str]:
    """One line per node URL: what that node says about `subscription_id` (skipped and why, each interval's last
    error, or that it has not seen it), or why it could not be asked."""
    return [f"node {url}: {_node_account(url.rstrip('/'), subscription_id)}" for url in nodes]


def _node_account(url: str, subscription_id: int) -> str:
    try:
        answer = httpx.get(
            f"{url}/api/subscriptions", params={"id": subscription_id}, timeout=NODE_ASK_TIMEOUT, verify=tls_context()
        )
        body: Any = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        return f"could not be asked ({type(exc).__name__}: {exc})"
    if answer.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        return f"answered {answer.status_code}: {error or answer.text[:200]}"
    views = body.get("subscriptions") or []
    if not views:
        return f"has not seen subscription {subscription_id} (judged up to block {body.get('judged_block')})"
    return _describe_view(views[0])


def _describe_view(view: dict[str, Any]) -> str:
    if view.get("status") == "skipped":
        return f"not serving subscription {view.get('id')}: {view.get('reason')}"
    intervals = view.get("intervals") or []
    if not intervals:
        return f"subscription {view.get('id')} {view.get('status')}, no interval handled yet"
    last = intervals[-1]
    text = f"subscription {view.get('id')} {view.get('status')}, interval {last.get('interval')} {last.get('status')}"
    if last.get("tx_hash"):
        text += f" tx {last['tx_hash']}"
    return f"{text}: {last['error']}" if last.get("error") else text


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
    nodes: Sequence[str] = (),
) -> list[EventData]:
    """Block until `count` `SubscriptionFulfilled` events exist for `subscription_id`; oldest first. On timeout,
    `CallbackTimeout` carries what each of `nodes` (their URLs) says about the subscription."""
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
        summary = f"subscription {subscription_id}: {len(logs)} of {count} deliveries after {timeout:.0f}s"
        raise CallbackTimeout(subscription_id, summary).explained(nodes) from None
    return sorted(logs, key=lambda log: (log["blockNumber"], log["logIndex"]))
