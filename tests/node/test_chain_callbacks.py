"""On-chain callbacks end to end: a consumer asks on anvil, a real node process runs the real service in front
of the dev backend and delivers; the decoded answer is read back from the consumer's storage."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode
from web3 import Web3

from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.encoding import container_id, redundancy_key
from infernet_kit.chain.transactions import connect, transact
from infernet_kit.chain.watch import created_subscription_id, wait_for_fulfillments
from infernet_kit.devstack import fake_models
from infernet_kit.devstack.accounts import USER, dev_account
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.testing.chain_node_fixtures import ChainNodeFactory, wait_until
from infernet_kit.testing.node_fixtures import node_container

TGI = "tgi_client_inference_service"
HF = "hf_inference_client_service"


@pytest.fixture
def containers(tgi_service: str, hf_service: str) -> list[dict[str, Any]]:
    return [node_container(TGI, tgi_service), node_container(HF, hf_service)]


@pytest.fixture
def user(anvil: Anvil) -> Web3:
    return connect(anvil.url, dev_account(USER).key.to_0x_hex())


def test_tgi_callback_answer_is_stored_by_the_consumer(
    chain_node: ChainNodeFactory, containers: list[dict[str, Any]], user: Web3, infernet_deployment: Deployment
) -> None:
    node = chain_node(containers=containers)
    consumer = infernet_deployment.contract(user, "TGICallbackConsumer")
    coordinator = infernet_deployment.contract(user, "EIP712Coordinator")
    prompt = "Is the sky blue during a clear day?"

    receipt = transact(consumer.functions.chatWithLLM(encode(["string"], [prompt])))
    sub_id = created_subscription_id(coordinator, receipt)
    [fulfilled] = wait_for_fulfillments(coordinator, sub_id, from_block=receipt["blockNumber"])

    assert fulfilled["args"]["node"] == node.address
    assert consumer.functions.outputs(sub_id).call() == fake_models.generate(prompt)
    assert node.sent() == 1
    line = f"delivered subscription={sub_id} interval=1 tx={fulfilled['transactionHash'].to_0x_hex()}"
    wait_until(lambda: line in node.log_text(), what="the delivery's log line")
    assert node.account.key.hex().removeprefix("0x") not in node.log_text()


def test_hf_callbacks_for_every_task_are_decoded_in_storage(
    chain_node: ChainNodeFactory, containers: list[dict[str, Any]], user: Web3, infernet_deployment: Deployment
) -> None:
    node = chain_node(containers=containers)
    consumer = infernet_deployment.contract(user, "HFCallbackConsumer")
    coordinator = infernet_deployment.contract(user, "EIP712Coordinator")
    prompt = "Alice met Bob in Paris. The weather was lovely, and they walked along the Seine all day."
    model = "acme/tiny-model"

    ids: dict[int, int] = {}
    first_block = user.eth.block_number
    for task in (1, 2, 3, 4):
        inputs = encode(["uint8", "string", "string"], [task, model if task == 1 else "", prompt])
        receipt = transact(consumer.functions.requestTask(inputs))
        ids[task] = created_subscription_id(coordinator, receipt)
    for sub_id in ids.values():
        wait_for_fulfillments(coordinator, sub_id, from_block=first_block)

    assert consumer.functions.generatedText(ids[1]).call() == fake_models.generate(prompt, model=model)
    expected_labels = fake_models.classify(prompt)
    assert consumer.functions.classification(ids[2]).call() == [
        [item["label"] for item in expected_labels],
        [round(item["score"] * 1e6) for item in expected_labels],
    ]
    entities = fake_models.token_classify(prompt)
    assert consumer.functions.tokenClassification(ids[3]).call() == [
        [item["entity_group"] for item in entities],
        [round(item["score"] * 1e6) for item in entities],
    ]
    assert consumer.functions.summary(ids[4]).call() == fake_models.summarize(prompt)["summary_text"]
    assert node.sent() == 4


def test_allowed_addresses_limit_which_consumers_are_served(
    chain_node: ChainNodeFactory, tgi_service: str, user: Web3, infernet_deployment: Deployment
) -> None:
    recurring = infernet_deployment.contract(user, "RecurringConsumer")
    only_recurring = [node_container(TGI, tgi_service, allowed_addresses=[recurring.address])]
    node = chain_node(containers=only_recurring)
    callback = infernet_deployment.contract(user, "TGICallbackConsumer")
    coordinator = infernet_deployment.contract(user, "EIP712Coordinator")

    refused = created_subscription_id(
        coordinator, transact(callback.functions.chatWithLLM(encode(["string"], ["not for this node"])))
    )
    receipt = transact(recurring.functions.start("for this node", 1, 0, 1, False))
    allowed = created_subscription_id(coordinator, receipt)
    wait_for_fulfillments(coordinator, allowed, from_block=receipt["blockNumber"])

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
    chain_node: ChainNodeFactory, containers: list[dict[str, Any]], user: Web3, infernet_deployment: Deployment
) -> None:
    first, second = chain_node(containers=containers), chain_node(containers=containers)
    recurring = infernet_deployment.contract(user, "RecurringConsumer")
    coordinator = infernet_deployment.contract(user, "EIP712Coordinator")

    receipt = transact(recurring.functions.start("two nodes", 1, 0, 2, False))
    sub_id = created_subscription_id(coordinator, receipt)
    fulfilled = wait_for_fulfillments(coordinator, sub_id, count=2, from_block=receipt["blockNumber"])
    assert {event["args"]["node"] for event in fulfilled} == {first.address, second.address}

    third = chain_node(containers=containers, chain_settings={"snapshot_sync": {"starting_sub_id": sub_id}})
    wait_until(
        lambda: f"skip subscription={sub_id} interval=1: redundancy full (2/2)" in third.log_text(),
        what="the third node to see the interval full",
    )
    assert recurring.functions.deliveries(sub_id).call() == 2
    assert (first.sent(), second.sent(), third.sent()) == (1, 1, 0)


def test_lazy_subscription_output_goes_through_the_inbox(
    chain_node: ChainNodeFactory, containers: list[dict[str, Any]], user: Web3, infernet_deployment: Deployment
) -> None:
    node = chain_node(containers=containers)
    recurring = infernet_deployment.contract(user, "RecurringConsumer")
    coordinator = infernet_deployment.contract(user, "EIP712Coordinator")
    inbox = infernet_deployment.contract(user, "Inbox")

    receipt = transact(recurring.functions.start("lazy answer", 1, 0, 1, True))
    sub_id = created_subscription_id(coordinator, receipt)
    [fulfilled] = wait_for_fulfillments(coordinator, sub_id, from_block=receipt["blockNumber"])

    expected = fake_models.generate("lazy answer (interval 1)")
    assert recurring.functions.outputs(sub_id, 1).call() == expected
    [item] = inbox.events.NewInboxItem().get_logs(
        from_block=fulfilled["blockNumber"], to_block=fulfilled["blockNumber"]
    )
    assert item["args"]["node"] == node.address
    assert item["args"]["containerId"] == container_id(TGI)
    assert node.sent() == 1
