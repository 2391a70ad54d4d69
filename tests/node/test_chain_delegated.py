"""Delegated subscriptions over the node's REST API: checked against the chain before acceptance, created and
delivered in one `deliverComputeDelegatee` transaction, and refused with a 4xx naming the reason."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from eth_abi.abi import decode
from eth_account import Account

from infernet_kit.chain.accounts import DEPLOYER, dev_account
from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.encoding import (
    ZERO_ADDRESS,
    Signature,
    Subscription,
    container_id,
    delegate_key,
    sign_delegate_subscription,
)
from infernet_kit.chain.watch import wait_for_fulfillments
from infernet_kit.devstack import fake_models
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.polling import wait_until
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.chain_node_fixtures import ChainNode, ChainNodeFactory
from infernet_kit.testing.node_fixtures import NodeLauncher, node_container

TGI = "tgi_client_inference_service"
# The example DelegateConsumer's signer is its deployer.
SIGNER_KEY = dev_account(DEPLOYER).key.to_0x_hex()


def _subscription(owner: str, chain_time: int, **fields: Any) -> Subscription:
    values: dict[str, Any] = {
        "owner": owner,
        "active_at": chain_time,
        "period": 0,
        "frequency": 1,
        "redundancy": 1,
        "container_id": container_id(TGI),
    }
    return Subscription(**{**values, **fields})


def _body(sub: Subscription, signature: Signature, data: dict[str, Any]) -> dict[str, Any]:
    """The REST form of a delegated subscription (PROTOCOL.md section 3)."""
    return {
        "subscription": {
            "owner": sub.owner,
            "active_at": sub.active_at,
            "period": sub.period,
            "frequency": sub.frequency,
            "redundancy": sub.redundancy,
            "containers": "0x" + sub.container_id.hex(),
            "lazy": sub.lazy,
            "verifier": sub.verifier,
            "payment_amount": sub.payment_amount,
            "payment_token": sub.payment_token,
            "wallet": sub.wallet,
        },
        "signature": signature.model_dump(),
        "data": data,
    }


def _sign(sub: Subscription, deployment: Deployment, *, expiry: int, key: str = SIGNER_KEY, **kw: Any) -> Signature:
    return sign_delegate_subscription(
        sub,
        nonce=kw.get("nonce", secrets.randbelow(2**32)),
        expiry=expiry,
        chain_id=kw.get("chain_id", deployment.chain_id),
        coordinator=kw.get("coordinator", deployment.coordinator),
        private_key=key,
    )


def _intervals(node: ChainNode, sub_id: int) -> list[dict[str, Any]]:
    """The intervals of `sub_id` in the node's `GET /api/subscriptions?id=` (none before it has seen it)."""
    answer = httpx_calls.get(f"{node.url}/api/subscriptions", params={"id": sub_id}, timeout=5)
    assert answer.status_code == 200, answer.text
    views = answer.json()["subscriptions"]
    return list(views[0]["intervals"]) if views else []


@pytest.fixture(scope="module")
def node(node_launcher: NodeLauncher, anvil: Anvil, infernet_deployment: Deployment, tgi_service: str) -> ChainNode:
    """One node for the tests of this module that need no special configuration."""
    return ChainNodeFactory(node_launcher, anvil, infernet_deployment)(containers=[node_container(TGI, tgi_service)])


def test_delegated_subscription_is_created_and_delivered(
    node: ChainNode, anvil: Anvil, infernet_deployment: Deployment
) -> None:
    sent = node.sent()
    consumer = infernet_deployment.contract(anvil.w3, "DelegateConsumer")
    coordinator = infernet_deployment.contract(anvil.w3, "EIP712Coordinator")
    prompt = "What is a delegated subscription?"
    sub = _subscription(consumer.address, anvil.timestamp())
    signature = _sign(sub, infernet_deployment, expiry=anvil.timestamp() + 300)
    start_block = anvil.w3.eth.block_number

    response = httpx_calls.post(f"{node.url}/api/jobs", json=_body(sub, signature, {"text": prompt}), timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {}

    key = delegate_key(sub.owner, signature.nonce)
    sub_id = wait_until(lambda: coordinator.functions.delegateCreatedIds(key).call(), what="the subscription")
    [fulfilled] = wait_for_fulfillments(coordinator, sub_id, from_block=start_block)
    assert fulfilled["args"]["node"] == node.address
    (text,) = decode(["string"], consumer.functions.outputs(sub_id, 1).call())
    assert text == fake_models.generate(prompt)
    # The node's report holds that first interval as delivered by it, with the receipt's facts.
    receipt = anvil.w3.eth.get_transaction_receipt(fulfilled["transactionHash"])
    delivered = {
        "interval": 1,
        "status": "delivered",
        "tx_hash": receipt["transactionHash"].to_0x_hex(),
        "block": receipt["blockNumber"],
        "gas_used": receipt["gasUsed"],
        "error": None,
    }
    assert wait_until(lambda: _intervals(node, sub_id), what="the node's report of the subscription") == [delivered]

    # The same signed subscription again: already on chain, accepted, and not delivered twice.
    again = httpx_calls.post(f"{node.url}/api/jobs", json=_body(sub, signature, {"text": prompt}), timeout=10)
    assert again.status_code == 200, again.text
    already = (
        f"delegated subscription owner={sub.owner} nonce={signature.nonce} already exists as subscription={sub_id}"
    )
    wait_until(lambda: already in node.log_text(), what="the node to find the subscription already on chain")
    node.wait_settled()
    assert consumer.functions.deliveries(sub_id).call() == 1
    assert node.sent() == sent + 1
    assert _intervals(node, sub_id) == [delivered]  # not later turned into "skipped: already responded"
    assert f"skip subscription={sub_id} " not in node.log_text()


def test_bad_delegations_are_refused_with_the_reason(
    node: ChainNode, anvil: Anvil, infernet_deployment: Deployment
) -> None:
    sent = node.sent()
    owner = infernet_deployment.contract(anvil.w3, "DelegateConsumer").address
    now = anvil.timestamp()
    sub = _subscription(owner, now)
    data = {"text": "never delivered"}
    stranger = Account.create().key.to_0x_hex()
    cases: list[tuple[Subscription, Signature, str]] = [
        (sub, _sign(sub, infernet_deployment, expiry=now - 1), "Signature expired"),
        (sub, _sign(sub, infernet_deployment, expiry=now + 300, chain_id=1), "Signer mismatch"),
        (
            sub,
            _sign(sub, infernet_deployment, expiry=now + 300, key=stranger),
            "Signer mismatch",
        ),
        (
            sub,
            _sign(sub, infernet_deployment, expiry=now + 300, coordinator=infernet_deployment.inbox),
            "Signer mismatch",
        ),
        (
            _subscription(owner, now - 100, period=10, frequency=2),
            _sign(_subscription(owner, now - 100, period=10, frequency=2), infernet_deployment, expiry=now + 300),
            "Subscription completed",
        ),
        (
            _subscription(infernet_deployment.registry, now),
            _sign(_subscription(infernet_deployment.registry, now), infernet_deployment, expiry=now + 300),
            "Signer mismatch",
        ),
    ]
    for bad_sub, signature, reason in cases:
        response = httpx_calls.post(f"{node.url}/api/jobs", json=_body(bad_sub, signature, data), timeout=10)
        assert 400 <= response.status_code < 500, (reason, response.status_code, response.text)
        assert response.json()["error"] == reason, response.text

    never_served = _subscription(owner, now, redundancy=0)
    response = httpx_calls.post(
        f"{node.url}/api/jobs",
        json=_body(never_served, _sign(never_served, infernet_deployment, expiry=now + 300), data),
        timeout=10,
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"] == "Invalid subscription", response.text

    tampered = _sign(sub, infernet_deployment, expiry=now + 300).model_copy(update={"s": 12345})
    response = httpx_calls.post(f"{node.url}/api/jobs", json=_body(sub, tampered, data), timeout=10)
    assert 400 <= response.status_code < 500, response.text

    unknown = _subscription(owner, now, container_id=container_id("not-on-this-node"))
    response = httpx_calls.post(
        f"{node.url}/api/jobs", json=_body(unknown, _sign(unknown, infernet_deployment, expiry=now + 300), data)
    )
    assert 400 <= response.status_code < 500, response.text
    assert node.sent() == sent


def test_allowed_delegate_addresses_are_enforced(
    chain_node: ChainNodeFactory, tgi_service: str, anvil: Anvil, infernet_deployment: Deployment
) -> None:
    node = chain_node(containers=[node_container(TGI, tgi_service, allowed_delegate_addresses=[ZERO_ADDRESS])])
    owner = infernet_deployment.contract(anvil.w3, "DelegateConsumer").address
    sub = _subscription(owner, anvil.timestamp())
    signature = _sign(sub, infernet_deployment, expiry=anvil.timestamp() + 300)

    response = httpx_calls.post(f"{node.url}/api/jobs", json=_body(sub, signature, {"text": "x"}), timeout=10)

    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"] == "Container not allowed for address"
    assert node.sent() == 0
