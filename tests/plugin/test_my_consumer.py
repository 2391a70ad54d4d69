"""How a user tests their own consumer end to end with the kit's pytest plugin (installed with the kit).

The fixtures start anvil, deploy the Infernet contracts, run the dev backend, both inference services and
a node; `wait_for_callback` sends the request and returns once the node has delivered.
"""

from __future__ import annotations

from pathlib import Path

from eth_abi.abi import decode

from infernet_kit.chain.accounts import USER, dev_key
from infernet_kit.chain.compiler import compile_file
from infernet_kit.chain.deploy import Deployment, deploy_artifact
from infernet_kit.chain.transactions import connect
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.devstack.fake_models import generate
from infernet_kit.polling import wait_until
from infernet_kit.testing.callback_fixtures import WaitForCallback

QUESTION = "Is the sky blue during a clear day?"


def test_my_consumer_receives_the_answer(
    anvil: Anvil, infernet_deployment: Deployment, wait_for_callback: WaitForCallback
) -> None:
    artifact = compile_file(Path(__file__).with_name("MyConsumer.sol"))["MyConsumer"]
    w3 = connect(anvil.url, dev_key(USER))
    consumer = deploy_artifact(w3, artifact, infernet_deployment.registry)

    callback = wait_for_callback(consumer.functions.ask(QUESTION))

    # The node delivered abi.encode(bytes raw, bytes processed); raw is abi.encode(string).
    (delivered,) = decode(["string"], callback.raw_output)
    assert delivered == generate(QUESTION)  # the dev backend's deterministic answer
    assert consumer.functions.answers(callback.subscription_id).call() == delivered
    assert callback.delivery_block > callback.request_block

    # console.log in _receiveCompute lands in anvil's log.
    line = f"Received output! {callback.subscription_id} {delivered}"
    wait_until(lambda: line in anvil.process.log_path.read_text(), timeout=10, what="the console line")
