"""On-chain callbacks end to end: a consumer asks on anvil, a real node process runs the real service in front
of the dev backend and delivers; the decoded answer is read back from the consumer's storage."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode
from web3 import Web3
from web3.contract import Contract

from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.encoding import container_id
from infernet_kit.chain.watch import wait_for_fulfillments
from infernet_kit.devstack import fake_models
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.polling import wait_until
from infernet_kit.testing.chain_node_fixtures import ChainNode, ChainNodeFactory, request_compute
from infernet_kit.testing.node_fixtures import NodeLauncher

TGI = "tgi_client_inference_service"
HF = "hf_inference_client_service"


@pytest.fixture(scope="module")
def shared_node(
    node_launcher: NodeLauncher, anvil: Anvil, infernet_deployment: Deployment, containers: list[dict[str, Any]]
) -> ChainNode:
    """One node for the tests that only need a node serving both containers (node starts cost seconds)."""
    return ChainNodeFactory(node_launcher, anvil, infernet_deployment)(containers=containers)


def test_tgi_callback_answer_is_stored_by_the_consumer(
    shared_node: ChainNode, user: Web3, coordinator: Contract, infernet_deployment: Deployment
) -> None:
    node, sent = shared_node, shared_node.sent()
    consumer = infernet_deployment.contract(user, "TGICallbackConsumer")
    prompt = "Is the sky blue during a clear day?"

    sub_id, block = request_compute(coordinator, consumer.functions.chatWithLLM(encode(["string"], [prompt])))
    [fulfilled] = wait_for_fulfillments(coordinator, sub_id, from_block=block)

    assert fulfilled["args"]["node"] == node.address
    assert consumer.functions.outputs(sub_id).call() == fake_models.generate(prompt)
    assert node.sent() == sent + 1
    line = f"delivered subscription={sub_id} interval=1 tx={fulfilled['transactionHash'].to_0x_hex()}"
    wait_until(lambda: line in node.log_text(), what="the delivery's log line")
    assert node.account.key.hex().removeprefix("0x") not in node.log_text()


def test_hf_callbacks_for_every_task_are_decoded_in_storage(
    shared_node: ChainNode, user: Web3, coordinator: Contract, infernet_deployment: Deployment
) -> None:
    node, sent = shared_node, shared_node.sent()
    consumer = infernet_deployment.contract(user, "HFCallbackConsumer")
    prompt = "Alice met Bob in Paris. The weather was lovely, and they walked along the Seine all day."
    model = "acme/tiny-model"

    ids: dict[int, int] = {}
    first_block = user.eth.block_number
    for task in (1, 2, 3, 4):
        inputs = encode(["uint8", "string", "string"], [task, model if task == 1 else "", prompt])
        ids[task], _ = request_compute(coordinator, consumer.functions.requestTask(inputs))
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
    assert node.sent() == sent + 4


def test_lazy_subscription_output_goes_through_the_inbox(
    shared_node: ChainNode, user: Web3, coordinator: Contract, infernet_deployment: Deployment
) -> None:
    node, sent = shared_node, shared_node.sent()
    recurring = infernet_deployment.contract(user, "RecurringConsumer")
    inbox = infernet_deployment.contract(user, "Inbox")

    sub_id, block = request_compute(coordinator, recurring.functions.start("lazy answer", 1, 0, 1, True))
    [fulfilled] = wait_for_fulfillments(coordinator, sub_id, from_block=block)

    assert recurring.functions.outputs(sub_id, 1).call() == fake_models.generate("lazy answer (interval 1)")
    block = fulfilled["blockNumber"]
    [item] = inbox.events.NewInboxItem().get_logs(from_block=block, to_block=block)
    assert item["args"]["node"] == node.address
    assert item["args"]["containerId"] == container_id(TGI)
    assert node.sent() == sent + 1
