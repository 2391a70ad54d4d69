"""Fixtures that put the whole loop together for end-to-end tests of a consumer contract.

- `inference_service` (session): both inference services on the dev backend, as `{container id: url}`.
- `infernet_chain_node` (module): a node serving them on and off chain for `infernet_deployment` on `anvil`; one
  per test module, so a node one module started never answers another module's subscriptions on the shared chain.
- `wait_for_callback`: send a consumer's request transaction and wait until a node has delivered; a `Callback`
  with the subscription id, both transactions and the delivered output decoded into `(raw, processed)`. When no
  delivery comes, its `CallbackTimeout` says what the node says about the subscription (e.g. why it skips it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pydantic import BaseModel, ConfigDict
from web3.contract.contract import ContractFunction

from infernet_kit.chain.accounts import NODE_OPERATORS, dev_key
from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.encoding import unpack_pair
from infernet_kit.chain.transactions import transact
from infernet_kit.chain.watch import created_subscription_id, wait_for_fulfillments
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.devstack.stack import chain_node_config
from infernet_kit.protocol import hf, tgi
from infernet_kit.testing.node_fixtures import NodeLauncher, RunningNode

__all__ = ["Callback", "inference_service", "infernet_chain_node", "wait_for_callback"]


class Callback(BaseModel):
    """One delivery of a node to a consumer."""

    model_config = ConfigDict(frozen=True)

    subscription_id: int
    request_tx: str
    request_block: int
    delivery_tx: str
    delivery_block: int
    node: str
    raw_output: bytes
    processed_output: bytes


@pytest.fixture(scope="session")
def inference_service(tgi_service: str, hf_service: str) -> dict[str, str]:
    """Both inference services (on the dev backend) by container id."""
    return {tgi.CONTAINER_ID: tgi_service, hf.CONTAINER_ID: hf_service}


@pytest.fixture(scope="module")
def infernet_chain_node(
    anvil: Anvil,
    infernet_deployment: Deployment,
    inference_service: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningNode]:
    """A node (operator: dev account #3) serving both services for the deployed coordinator."""
    launcher = NodeLauncher(tmp_path_factory)
    config = chain_node_config(
        inference_service,
        rpc_url=anvil.url,
        registry=infernet_deployment.registry,
        operator_key=dev_key(NODE_OPERATORS[0]),
    )
    yield launcher(config)
    launcher.stop_all()


WaitForCallback = Callable[..., Callback]


@pytest.fixture
def wait_for_callback(infernet_deployment: Deployment, infernet_chain_node: RunningNode) -> WaitForCallback:
    """`wait_for_callback(consumer.functions.request(...), timeout=30)`: send the request, return the delivery."""

    def send_and_wait(request: ContractFunction, *, timeout: float = 30.0) -> Callback:
        w3 = request.w3
        coordinator = infernet_deployment.contract(w3, "EIP712Coordinator")
        receipt = transact(request)
        subscription_id = created_subscription_id(coordinator, receipt)
        (event,) = wait_for_fulfillments(
            coordinator,
            subscription_id,
            from_block=receipt["blockNumber"],
            timeout=timeout,
            nodes=[infernet_chain_node.url],
        )[:1]
        delivery = w3.eth.get_transaction(event["transactionHash"])
        _, arguments = coordinator.decode_function_input(delivery["input"])
        raw, processed = unpack_pair(bytes(arguments["output"]))
        return Callback(
            subscription_id=subscription_id,
            request_tx=receipt["transactionHash"].to_0x_hex(),
            request_block=receipt["blockNumber"],
            delivery_tx=event["transactionHash"].to_0x_hex(),
            delivery_block=event["blockNumber"],
            node=event["args"]["node"],
            raw_output=raw,
            processed_output=processed,
        )

    return send_and_wait
