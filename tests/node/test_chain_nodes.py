"""Which nodes answer: the container firewall (`allowed_addresses`) and redundancy across several real nodes.

Every node here is started by its test: a node left running would answer the next test's subscriptions.
"""

from __future__ import annotations

from typing import Any

from eth_abi.abi import encode
from web3 import Web3
from web3.contract import Contract

from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.encoding import redundancy_key
from infernet_kit.chain.watch import wait_for_fulfillments
from infernet_kit.devstack import fake_models
from infernet_kit.polling import wait_until
from infernet_kit.testing.chain_node_fixtures import ChainNodeFactory, request_compute
from infernet_kit.testing.node_fixtures import node_container

TGI = "tgi_client_inference_service"
HF = "hf_inference_client_service"


def test_allowed_addresses_limit_which_consumers_are_served(
    chain_node: ChainNodeFactory, tgi_service: str, user: Web3, coordinator: Contract, infernet_deployment: Deployment
) -> None:
    recurring = infernet_deployment.contract(user, "RecurringConsumer")
    node = chain_node(containers=[node_container(TGI, tgi_service, allowed_addresses=[recurring.address])])
    callback = infernet_deployment.contract(user, "TGICallbackConsumer")

    refused, _ = request_compute(coordinator, callback.functions.chatWithLLM(encode(["string"], ["not for this node"])))
    allowed, block = request_compute(coordinator, recurring.functions.start("for this node", 1, 0, 1, False))
    wait_for_fulfillments(coordinator, allowed, from_block=block)

    wait_until(
        lambda: (
            f"not serving subscription={refused} owner={callback.address}: Container not allowed for address"
            in node.log_text()
        ),
        what="the node to refuse the callback consumer's subscription",
    )
    assert coordinator.functions.redundancyCount(redundancy_key(refused, 1)).call() == 0
    assert recurring.functions.outputs(allowed, 1).call() == fake_models.generate("for this node (interval 1)")
    assert node.sent() == 1


def test_redundancy_two_nodes_answer_once_each_and_a_third_sends_nothing(
    chain_node: ChainNodeFactory,
    containers: list[dict[str, Any]],
    user: Web3,
    coordinator: Contract,
    infernet_deployment: Deployment,
) -> None:
    first, second = chain_node(containers=containers), chain_node(containers=containers)
    recurring = infernet_deployment.contract(user, "RecurringConsumer")

    sub_id, block = request_compute(coordinator, recurring.functions.start("two nodes", 1, 0, 2, False))
    fulfilled = wait_for_fulfillments(coordinator, sub_id, count=2, from_block=block)
    assert {event["args"]["node"] for event in fulfilled} == {first.address, second.address}

    third = chain_node(containers=containers, chain_settings={"snapshot_sync": {"starting_sub_id": sub_id}})
    wait_until(
        lambda: f"skip subscription={sub_id} interval=1: redundancy full (2/2)" in third.log_text(),
        what="the third node to see the interval full",
    )
    assert recurring.functions.deliveries(sub_id).call() == 2
    assert (first.sent(), second.sent(), third.sent()) == (1, 1, 0)
