"""A node that says why: every subscription it sees and does not serve gets one log line with the reason, the
same reason over `GET /api/subscriptions?id=`, and the pytest helper's timeout names it. Real anvil, real node
processes in front of the real services on the dev backend."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3
from web3.contract import Contract

from infernet_kit.chain.accounts import USER, dev_account
from infernet_kit.chain.artifacts import load_artifact
from infernet_kit.chain.deploy import Deployment, deploy_artifact
from infernet_kit.chain.encoding import container_id
from infernet_kit.chain.transactions import connect
from infernet_kit.chain.watch import CallbackTimeout
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.paths import project_root
from infernet_kit.polling import wait_until
from infernet_kit.protocol import hf, tgi
from infernet_kit.protocol.hf import HFTaskId
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.callback_fixtures import WaitForCallback
from infernet_kit.testing.chain_node_fixtures import ChainNode, ChainNodeFactory, request_compute
from infernet_kit.testing.node_fixtures import NodeLauncher, RunningNode, node_container

SEED_CONTAINER = "my-container"
POLL = 0.3  # seconds between polls of a node: its rate limit (60 a minute per client) is the default one
ALLOWED_OWNER = "0x000000000000000000000000000000000000dEaD"
# The TGI service under an id only `strict_node` serves, so no other node of the session answers these.
OWN_TGI = "strict-tgi"


def subscription(url: str, sub_id: int) -> dict[str, Any]:
    """The node's view of one subscription (`GET /api/subscriptions?id=`), or {} before it has seen it."""
    answer = httpx_calls.get(f"{url}/api/subscriptions", params={"id": sub_id}, timeout=5)
    assert answer.status_code == 200, answer.text
    views = answer.json()["subscriptions"]
    return views[0] if views else {}


def assert_idle(url: str) -> None:
    """The node is alive and has nothing in flight (exact pending counts)."""
    info = httpx_calls.get(f"{url}/info", timeout=5).json()
    assert info["pending"] == {"offchain": 0, "onchain": 0}


def interval_outcome(url: str, sub_id: int, status: str, timeout: float = 20.0) -> dict[str, Any]:
    """Wait until the node reports interval 1 of `sub_id` ended with `status`; that interval's report."""

    def ended() -> dict[str, Any] | None:
        intervals = subscription(url, sub_id).get("intervals") or []
        return next((i for i in intervals if i["interval"] == 1 and i["status"] == status), None)

    return wait_until(ended, timeout=timeout, interval=POLL, what=f"subscription {sub_id} interval 1 to be {status}")


@pytest.fixture(scope="module")
def strict_node(
    node_launcher: NodeLauncher, anvil: Anvil, infernet_deployment: Deployment, tgi_service: str, hf_service: str
) -> ChainNode:
    """TGI (as `OWN_TGI`) for everyone; HF only for subscriptions owned by `ALLOWED_OWNER`."""
    containers = [
        node_container(OWN_TGI, tgi_service),
        node_container(hf.CONTAINER_ID, hf_service, allowed_addresses=[ALLOWED_OWNER]),
    ]
    return ChainNodeFactory(node_launcher, anvil, infernet_deployment)(containers=containers)


Ask = Callable[..., tuple[str, int]]


@pytest.fixture
def ask(user: Web3, infernet_deployment: Deployment) -> Ask:
    """`ask(inputs, refuse=False)`: a new UserConsumer (contracts/test/fixtures; its callback reverts when `refuse`)
    asks `OWN_TGI` with `inputs`; its address and the subscription id."""
    coordinator = infernet_deployment.contract(user, "EIP712Coordinator")

    def run(inputs: bytes, *, refuse: bool = False) -> tuple[str, int]:
        consumer = deploy_artifact(user, load_artifact("UserConsumer"), infernet_deployment.registry, refuse)
        sub_id, _ = request_compute(coordinator, consumer.functions.ask(OWN_TGI, inputs))
        return str(consumer.address), sub_id

    return run


@pytest.fixture(scope="module")
def seed_consumer(anvil: Anvil, infernet_deployment: Deployment) -> Contract:
    """contracts/test/fixtures/SeedConsumer.sol (seed 000's consumer), as `make build` compiled it."""
    w3 = connect(anvil.url, dev_account(USER).key.to_0x_hex())
    return deploy_artifact(w3, load_artifact("MyOnchainSubscription"), infernet_deployment.registry)


def test_seed_consumer_with_its_own_container_id_is_skipped_with_the_reason(
    infernet_chain_node: RunningNode, wait_for_callback: WaitForCallback, seed_consumer: Contract
) -> None:
    """Seed 000's consumer asks for "my-container": the node serves only the kit's containers and says so."""
    consumer = seed_consumer

    with pytest.raises(CallbackTimeout) as caught:
        wait_for_callback(consumer.functions.chatWithLLM(tgi.encode_input("Is the sky blue?")), timeout=8)

    sub_id = caught.value.subscription_id
    seed_hash = "0x" + container_id(SEED_CONTAINER).hex()
    served = [f"{name} (0x{container_id(name).hex()})" for name in (tgi.CONTAINER_ID, hf.CONTAINER_ID)]
    # The helper's error names the node's reason: the hash it saw and what it serves, each with its hash.
    message = str(caught.value)
    assert "0 of 1 deliveries" in message and f"node {infernet_chain_node.url}: not serving" in message
    assert seed_hash in message and all(entry in message for entry in served)
    # Over REST.
    view = subscription(infernet_chain_node.url, sub_id)
    assert view["status"] == "skipped" and view["owner"] == consumer.address
    assert view["container_id"] == seed_hash and view["intervals"] == []
    assert view["reason"].startswith(f"container id not served: containerId {seed_hash}")
    assert all(entry in view["reason"] for entry in served)
    # In the log: one line, with the hash and the served ids.
    lines = [line for line in infernet_chain_node.log_text().splitlines() if f"subscription={sub_id} " in line]
    assert len(lines) == 1 and "not serving" in lines[0] and seed_hash[2:] in lines[0]
    assert all(entry in lines[0] for entry in served)
    assert infernet_chain_node.process.running()
    assert_idle(infernet_chain_node.url)


def test_request_hf_prints_the_node_reason_when_no_callback_comes(
    private_chain: tuple[Anvil, Deployment], node_launcher: NodeLauncher, hf_service: str, tmp_path: Path
) -> None:
    """scripts/request_hf.py on a chain whose only node does not serve the consumer: a callback timeout, with what
    the node says (it used to print "RPC not reachable")."""
    chain, deployment = private_chain
    containers = [node_container(hf.CONTAINER_ID, hf_service, allowed_addresses=[ALLOWED_OWNER])]
    node = ChainNodeFactory(node_launcher, chain, deployment)(containers=containers)
    deployment.save(tmp_path)
    script = project_root() / "scripts" / "request_hf.py"
    done = subprocess.run(
        [sys.executable, str(script), "--rpc-url", chain.url, "--task", "text_classification", "--timeout", "5"],
        env={"INFERNET_DEPLOYMENTS_DIR": str(tmp_path), "SERVER_URL": node.url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "RPC" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert re.fullmatch(r"Error: subscription \d+: 0 of 1 deliveries after 5s", lines[0]), done.stderr
    consumer = deployment.consumers["HFCallbackConsumer"]
    assert lines[1].startswith(f"  node {node.url}: not serving subscription")
    assert f"Container not allowed for address (container={hf.CONTAINER_ID}, owner={consumer}" in lines[1]
    node.wait_settled()
    assert_idle(node.url)


def test_owner_not_allowed_is_reported(strict_node: ChainNode, user: Web3, infernet_deployment: Deployment) -> None:
    consumer = infernet_deployment.contract(user, "HFCallbackConsumer")
    coordinator = infernet_deployment.contract(user, "EIP712Coordinator")
    inputs = hf.encode_input(HFTaskId.TEXT_CLASSIFICATION, "I like it", "")
    sub_id, _ = request_compute(coordinator, consumer.functions.requestTask(inputs))

    view = wait_until(
        lambda: subscription(strict_node.url, sub_id), interval=POLL, what=f"subscription {sub_id} in the report"
    )
    assert view["status"] == "skipped"
    assert view["reason"].startswith("Container not allowed for address")
    assert f"owner={consumer.address}" in view["reason"] and ALLOWED_OWNER in view["reason"]
    assert f"not serving subscription={sub_id} " in strict_node.log_text()
    strict_node.wait_settled()
    assert_idle(strict_node.url)


def test_inputs_that_do_not_decode_are_reported_per_interval(strict_node: ChainNode, ask: Ask) -> None:
    _, sub_id = ask(b"not abi-encoded")

    failed = interval_outcome(strict_node.url, sub_id, "failed")
    assert "decode" in failed["error"] and failed["tx_hash"] is None
    view = subscription(strict_node.url, sub_id)
    assert view["containers"] == [OWN_TGI] and view["reason"] is None
    assert f"delivery failed subscription={sub_id} interval=1" in strict_node.log_text()
    strict_node.wait_settled()
    assert_idle(strict_node.url)


def test_a_consumer_whose_callback_reverts_is_named(strict_node: ChainNode, ask: Ask) -> None:
    consumer, sub_id = ask(tgi.encode_input("hello"), refuse=True)

    failed = interval_outcome(strict_node.url, sub_id, "failed")
    assert f"the callback of consumer {consumer} reverted: UserConsumer: not today" in failed["error"]
    assert f"the callback of consumer {consumer} reverted" in strict_node.log_text()
    strict_node.wait_settled()
    assert_idle(strict_node.url)


def test_a_delivered_interval_reports_tx_block_and_gas(strict_node: ChainNode, user: Web3, ask: Ask) -> None:
    _, sub_id = ask(tgi.encode_input("hello"))

    delivered = interval_outcome(strict_node.url, sub_id, "delivered")
    receipt = user.eth.get_transaction_receipt(delivered["tx_hash"])
    assert (delivered["block"], delivered["gas_used"]) == (receipt["blockNumber"], receipt["gasUsed"])
    assert delivered["error"] is None
    strict_node.wait_settled()
    assert_idle(strict_node.url)


def test_subscription_ids_are_checked(strict_node: ChainNode) -> None:
    for bad in ("0", "-1", "x", "4294967296", "1.5"):
        answer = httpx_calls.get(f"{strict_node.url}/api/subscriptions", params={"id": bad}, timeout=5)
        assert answer.status_code == 400
        assert answer.json()["error"].startswith("Invalid subscription id") and answer.json()["params"] == {"id": bad}
    listed = httpx_calls.get(f"{strict_node.url}/api/subscriptions", timeout=5).json()
    assert isinstance(listed["subscriptions"], list) and listed["judged_block"] >= 0
    assert_idle(strict_node.url)
