"""A delegated subscription is accepted only with a signature the coordinator's `ecrecover` takes.

Before, v = 0/1 (which eth-account normalises, the precompile does not) was answered 200 `{}` and then refused
on chain with `SignerMismatch`: "accepted" and never delivered. Against a real node and anvil: each bad v, r
or s is a 400 naming the problem and leaves nothing pending and nothing sent; a valid signature, and its
high-s twin (which `ecrecover` accepts too), are delivered on chain.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from eth_abi.abi import decode

from infernet_kit.chain.accounts import DEPLOYER, dev_key
from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.encoding import Signature, delegate_key
from infernet_kit.chain.watch import wait_for_fulfillments
from infernet_kit.client.chain_utils import Subscription
from infernet_kit.devstack import fake_models
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.node.chain.delegation import SECP256K1_N
from infernet_kit.polling import wait_until
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.chain_node_fixtures import ChainNode, ChainNodeFactory
from infernet_kit.testing.node_fixtures import node_container

TGI = "tgi_client_inference_service"
# The example DelegateConsumer's signer is its deployer.
SIGNER_KEY = dev_key(DEPLOYER)


@pytest.fixture
def node(chain_node: ChainNodeFactory, tgi_service: str) -> ChainNode:
    return chain_node(containers=[node_container(TGI, tgi_service)])


def _signed(anvil: Anvil, deployment: Deployment) -> tuple[Subscription, Signature]:
    owner = deployment.contract(anvil.w3, "DelegateConsumer").address
    sub = Subscription(owner=owner, active_at=anvil.timestamp(), period=0, frequency=1, redundancy=1, containers=[TGI])
    signature = sub.sign(
        nonce=secrets.randbelow(2**32),
        expiry=anvil.timestamp() + 300,
        chain_id=deployment.chain_id,
        coordinator=deployment.coordinator,
        private_key=SIGNER_KEY,
    )
    return sub, signature


def _post(node: ChainNode, sub: Subscription, signature: Signature, prompt: str) -> httpx.Response:
    body = {"subscription": sub.serialized, "signature": signature.model_dump(), "data": {"text": prompt}}
    return httpx_calls.post(f"{node.url}/api/jobs", json=body, timeout=10)


def _assert_delivered(node: ChainNode, anvil: Anvil, deployment: Deployment, sub: Subscription, nonce: int) -> None:
    consumer = deployment.contract(anvil.w3, "DelegateConsumer")
    coordinator = deployment.contract(anvil.w3, "EIP712Coordinator")
    key = delegate_key(sub.owner, nonce)
    sub_id = wait_until(lambda: coordinator.functions.delegateCreatedIds(key).call(), what="the subscription")
    [fulfilled] = wait_for_fulfillments(coordinator, sub_id, from_block=0)
    assert fulfilled["args"]["node"] == node.address
    assert consumer.functions.deliveries(sub_id).call() == 1


def test_bad_v_r_s_are_refused_before_acceptance(
    node: ChainNode, anvil: Anvil, infernet_deployment: Deployment
) -> None:
    sub, good = _signed(anvil, infernet_deployment)
    flipped = 55 - good.v  # the other recovery id: recovers another address
    cases: list[tuple[dict[str, int], str, dict[str, Any]]] = [
        ({"v": good.v - 27}, "Invalid signature: v must be 27 or 28", {"v": good.v - 27}),
        ({"v": flipped - 27}, "Invalid signature: v must be 27 or 28", {"v": flipped - 27}),
        ({"v": 29}, "Invalid signature: v must be 27 or 28", {"v": 29}),
        ({"v": 300}, "Invalid signature: v must be 27 or 28", {"v": 300}),
        ({"r": 0}, "Invalid signature: r out of range", {"r": "0"}),
        ({"s": 0}, "Invalid signature: s out of range", {"s": "0"}),
        ({"r": SECP256K1_N}, "Invalid signature: r out of range", {"r": str(SECP256K1_N)}),
        ({"s": SECP256K1_N + good.s}, "Invalid signature: s out of range", {"s": str(SECP256K1_N + good.s)}),
        ({"v": flipped}, "Signer mismatch", {"owner": sub.owner}),
    ]
    for change, error, params in cases:
        response = _post(node, sub, good.model_copy(update=change), "never delivered")
        assert response.status_code == 400, (change, response.status_code, response.text)
        body = response.json()
        assert body["error"] == error, (change, body)
        assert params.items() <= body["params"].items(), (change, body)
        assert node.node.pending() == {"offchain": 0, "onchain": 0}, change
    assert node.sent() == 0
    # Nothing of the refused ones reached the chain, and the node still serves the same subscription when
    # it comes with its valid signature.
    assert httpx_calls.get(f"{node.url}/health", timeout=5).json() == {"status": "healthy"}
    response = _post(node, sub, good, "the valid one")
    assert response.status_code == 200, response.text
    _assert_delivered(node, anvil, infernet_deployment, sub, good.nonce)
    consumer = infernet_deployment.contract(anvil.w3, "DelegateConsumer")
    coordinator = infernet_deployment.contract(anvil.w3, "EIP712Coordinator")
    sub_id = coordinator.functions.delegateCreatedIds(delegate_key(sub.owner, good.nonce)).call()
    (text,) = decode(["string"], consumer.functions.outputs(sub_id, 1).call())
    assert text == fake_models.generate("the valid one")
    wait_until(lambda: node.node.pending() == {"offchain": 0, "onchain": 0}, timeout=10, what="no pending work")
    assert node.sent() == 1


def test_a_high_s_signature_is_accepted_as_the_chain_accepts_it(
    node: ChainNode, anvil: Anvil, infernet_deployment: Deployment
) -> None:
    """`ecrecover` does not require a low s: the malleated twin of a valid signature recovers the same signer,
    so refusing it would refuse what the chain takes."""
    sub, good = _signed(anvil, infernet_deployment)
    twin = good.model_copy(update={"v": 55 - good.v, "s": SECP256K1_N - good.s})
    assert twin.s > SECP256K1_N // 2 or good.s > SECP256K1_N // 2

    response = _post(node, sub, twin, "high s")

    assert response.status_code == 200, response.text
    _assert_delivered(node, anvil, infernet_deployment, sub, twin.nonce)
    wait_until(lambda: node.node.pending() == {"offchain": 0, "onchain": 0}, timeout=10, what="no pending work")
    assert node.sent() == 1
