"""How a node learns of new blocks: anvil's newHeads subscription wakes it (the WebSocket URL derived from
`rpc_url`); without a WebSocket it says so once and polls the head every `sync_period`. New subscriptions
beyond one `batch_size` are read a batch per `sleep`, judging in between, without waiting for a block."""

from __future__ import annotations

from eth_abi.abi import encode

from infernet_kit.chain.accounts import USER, dev_account
from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.transactions import connect
from infernet_kit.chain.watch import wait_for_fulfillments
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.polling import wait_until
from infernet_kit.processes import free_port
from infernet_kit.testing.chain_node_fixtures import ChainNode, ChainNodeFactory, request_compute
from infernet_kit.testing.node_fixtures import node_container

TGI = "tgi_client_inference_service"
# A poll this slow could not deliver within CALLBACK_TIMEOUT: only the subscription can.
SLOW_POLL = 60.0
CALLBACK_TIMEOUT = 15.0


def _callbacks(node: ChainNode, anvil: Anvil, deployment: Deployment, count: int = 1) -> None:
    """`count` TGI callbacks requested on `anvil` one after the other, each answered by `node` within
    CALLBACK_TIMEOUT."""
    user = connect(anvil.url, dev_account(USER).key.to_0x_hex())
    coordinator = deployment.contract(user, "EIP712Coordinator")
    consumer = deployment.contract(user, "TGICallbackConsumer")
    calls = [consumer.functions.chatWithLLM(encode(["string"], [f"Which block is this? ({i})"])) for i in range(count)]
    for sub_id, block in [request_compute(coordinator, call) for call in calls]:
        [fulfilled] = wait_for_fulfillments(coordinator, sub_id, from_block=block, timeout=CALLBACK_TIMEOUT)
        assert fulfilled["args"]["node"] == node.address


def test_new_heads_over_the_websocket_wake_the_node(
    chain_node: ChainNodeFactory, tgi_service: str, anvil: Anvil, infernet_deployment: Deployment
) -> None:
    snapshot = {"sync_period": SLOW_POLL, "batch_size": 2, "sleep": 0.2}
    node = chain_node(containers=[node_container(TGI, tgi_service)], chain_settings={"snapshot_sync": snapshot})
    ws_url = anvil.url.replace("http://", "ws://")
    wait_until(lambda: f"following new heads over {ws_url}" in node.log_text(), what="the subscription's log line")
    _callbacks(node, anvil, infernet_deployment, count=5)


def test_without_a_websocket_the_node_says_so_and_polls(
    chain_node: ChainNodeFactory, tgi_service: str, anvil: Anvil, infernet_deployment: Deployment
) -> None:
    dead = f"ws://127.0.0.1:{free_port()}"
    node = chain_node(
        containers=[node_container(TGI, tgi_service)],
        chain_settings={"ws_url": dead, "snapshot_sync": {"sync_period": 0.1}},
    )
    line = f"no new-heads subscription at {dead} (ClientConnectorError"
    wait_until(lambda: line in node.log_text(), what="the node's line about the missing WebSocket")
    _callbacks(node, anvil, infernet_deployment)
    assert "following new heads" not in node.log_text()
