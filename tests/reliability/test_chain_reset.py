"""A chain that was reset, replaced or reorganised under a running node is noticed, said, and served.

Before, the node checked the chain's identity only at start: after anvil was restarted (contracts redeployed at
the same addresses, so subscription ids start over) it logged nothing and served nothing, holding the old
chain's cursor, settled intervals and height. Real anvil, real node, real TGI service throughout.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from web3 import Web3

from infernet_kit.chain.accounts import DEPLOYER, USER, dev_account, dev_key
from infernet_kit.chain.deploy import Deployment, deploy
from infernet_kit.chain.encoding import redundancy_key
from infernet_kit.chain.transactions import connect
from infernet_kit.chain.watch import wait_for_fulfillments
from infernet_kit.devstack import fake_models
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.node.chain.service import STORE_FILE
from infernet_kit.polling import wait_until
from infernet_kit.testing.chain_node_fixtures import (
    FUNDING_WEI,
    ChainNode,
    ChainNodeFactory,
    request_compute,
)
from infernet_kit.testing.node_fixtures import node_container
from infernet_kit.testing.service_fixtures import DevBackendHandle

TGI = "tgi_client_inference_service"
# A delivery lands in the block after the request's, or the one after that: "within a few blocks".
MAX_BLOCKS_TO_DELIVERY = 3


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Anvil]:
    """An anvil of this test's own (it gets restarted, reverted, reset)."""
    with Anvil(log_path=tmp_path / "anvil.log") as anvil:
        yield anvil


def _deploy(chain: Anvil) -> Deployment:
    return deploy(chain.w3, dev_account(DEPLOYER))


def _genesis(chain: Anvil) -> str:
    return str(chain.w3.eth.get_block(0)["hash"].to_0x_hex()).lower()


def _user(chain: Anvil) -> Web3:
    w3: Web3 = connect(chain.url, dev_key(USER))
    return w3


def _request_and_await(chain: Anvil, deployment: Deployment, node: ChainNode, prompt: str) -> tuple[int, int]:
    """A one-shot request of the example RecurringConsumer, served by `node`: (subscription id, delivery block).
    Checks it was answered within a few blocks, with the right output, once, and nothing is left pending."""
    user = _user(chain)
    coordinator = deployment.contract(user, "EIP712Coordinator")
    consumer = deployment.contract(user, "RecurringConsumer")
    sub_id, block = request_compute(coordinator, consumer.functions.start(prompt, 1, 0, 1, False))
    [event] = wait_for_fulfillments(coordinator, sub_id, from_block=block, timeout=30)
    assert event["args"]["node"] == node.address
    assert event["blockNumber"] - block <= MAX_BLOCKS_TO_DELIVERY, (block, event["blockNumber"])
    assert consumer.functions.outputs(sub_id, 1).call() == fake_models.generate(f"{prompt} (interval 1)")
    wait_until(lambda: node.node.pending() == {"offchain": 0, "onchain": 0}, timeout=10, what="no pending work")
    assert coordinator.functions.redundancyCount(redundancy_key(sub_id, 1)).call() == 1
    return sub_id, int(event["blockNumber"])


def _judged_block(node: ChainNode) -> int | None:
    """The block the node last judged, as its chain store records it."""
    path = node.node.data_dir / STORE_FILE
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT value FROM chain_state WHERE key = 'last_block'").fetchone()
    return None if row is None else int(row[0])


@contextlib.contextmanager
def _frozen(node: ChainNode) -> Iterator[None]:
    """The node process stopped (SIGSTOP) while the chain changes under it, so it sees only the outcome."""
    pid = node.node.process.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


class Served(NamedTuple):
    """A node that served one request on a chain snapshotted before it: where each revert test starts."""

    deployment: Deployment
    node: ChainNode
    snapshot: str
    sub_id: int
    delivered_at: int


def _served_after_snapshot(chain_node: ChainNodeFactory, tgi_service: str, chain: Anvil, prompt: str) -> Served:
    """Deploy, start a node, snapshot the chain, have `prompt` served and wait until the node judged the
    delivery's block (so a revert goes below what it saw)."""
    deployment = _deploy(chain)
    node = chain_node(containers=[node_container(TGI, tgi_service)], chain=chain, deployment=deployment)
    snapshot = chain.rpc("evm_snapshot")
    sub_id, delivered_at = _request_and_await(chain, deployment, node, prompt)
    wait_until(lambda: _judged_block(node) == delivered_at, timeout=10, what="the node judging the delivery block")
    return Served(deployment, node, snapshot, sub_id, delivered_at)


def _reset_lines(node: ChainNode) -> list[str]:
    return [line for line in node.log_text().splitlines() if "chain reset:" in line]


@contextlib.contextmanager
def _replaced(chain: Anvil, how: str, tmp_path: Path) -> Iterator[Anvil]:
    """A fresh chain where `chain` was: anvil restarted on the same port, or `anvil_reset` (back to genesis)."""
    if how == "anvil_reset":
        chain.rpc("anvil_reset")
        yield chain
        return
    chain.stop()
    with Anvil(log_path=tmp_path / "anvil-restarted.log", port=chain.port) as fresh:
        yield fresh


@pytest.mark.parametrize("how", ["restart", "anvil_reset"])
def test_a_replaced_chain_is_noticed_and_served(
    chain_node: ChainNodeFactory,
    tgi_service: str,
    backend: DevBackendHandle,
    chain: Anvil,
    tmp_path: Path,
    how: str,
) -> None:
    deployment = _deploy(chain)
    node = chain_node(containers=[node_container(TGI, tgi_service)], chain=chain, deployment=deployment)
    old_sub, _ = _request_and_await(chain, deployment, node, "before the restart")
    old_genesis = _genesis(chain)
    # A second request still being computed when the chain goes away: its delivery belongs to the old chain.
    backend.inject(latency_ms=5_000)
    user = _user(chain)
    consumer = deployment.contract(user, "RecurringConsumer")
    request_compute(deployment.contract(user, "EIP712Coordinator"), consumer.functions.start("lost", 1, 0, 1, False))
    wait_until(lambda: node.node.pending()["onchain"] == 1, timeout=10, what="the second delivery in flight")

    with _replaced(chain, how, tmp_path) as fresh:
        wait_until(lambda: _reset_lines(node), timeout=10, what="the node logging the reset")
        assert node.node.pending() == {"offchain": 0, "onchain": 0}
        backend.reset()
        redeployed = _deploy(fresh)
        assert redeployed.registry == deployment.registry
        assert redeployed.coordinator == deployment.coordinator
        fresh.rpc("anvil_setBalance", node.address, hex(FUNDING_WEI))
        new_genesis = _genesis(fresh)
        assert new_genesis != old_genesis

        new_sub, _ = _request_and_await(fresh, redeployed, node, "after the restart")

        assert new_sub == old_sub  # ids start over: the old chain's settled interval must not hide this one
        [line] = _reset_lines(node)
        assert f"genesis {old_genesis} -> {new_genesis}" in line, line
        assert "1 in-flight deliveries; resyncing from subscription=1" in line, line
        # Exactly one delivery on the new chain: the node's account has sent one transaction there.
        assert fresh.w3.eth.get_transaction_count(node.address, "pending") == 1


def test_a_chain_reverted_below_the_judged_block_is_noticed(
    chain_node: ChainNodeFactory, tgi_service: str, chain: Anvil
) -> None:
    deployment, node, snapshot, first_sub, delivered_at = _served_after_snapshot(
        chain_node, tgi_service, chain, "reverted away"
    )

    with _frozen(node):
        assert chain.rpc("evm_revert", snapshot) is True
        assert chain.w3.eth.block_number < delivered_at

    wait_until(lambda: _reset_lines(node), timeout=10, what="the node logging the reset")
    [line] = _reset_lines(node)
    assert f"is below block {delivered_at} the node last judged" in line, line
    genesis = _genesis(chain)
    assert f"genesis {genesis} -> {genesis}" in line, line
    second_sub, _ = _request_and_await(chain, deployment, node, "after the revert")
    assert second_sub == first_sub
    assert node.sent() == 1
    assert len(_reset_lines(node)) == 1


def test_a_reorganised_block_at_the_same_height_is_noticed(
    chain_node: ChainNodeFactory, tgi_service: str, chain: Anvil
) -> None:
    deployment, node, snapshot, first_sub, delivered_at = _served_after_snapshot(
        chain_node, tgi_service, chain, "reorganised away"
    )
    replaced = chain.w3.eth.get_block(delivered_at)["hash"].to_0x_hex()

    with _frozen(node):
        # Another branch from the snapshot, as long as the one the node saw: the same height, other blocks.
        assert chain.rpc("evm_revert", snapshot) is True
        user = _user(chain)
        consumer = deployment.contract(user, "RecurringConsumer")
        coordinator = deployment.contract(user, "EIP712Coordinator")
        other_sub, _ = request_compute(coordinator, consumer.functions.start("on the other branch", 1, 0, 1, False))
        chain.mine(delivered_at - chain.w3.eth.block_number)
        assert chain.w3.eth.block_number == delivered_at
        assert chain.w3.eth.get_block(delivered_at)["hash"].to_0x_hex() != replaced

    wait_until(lambda: _reset_lines(node), timeout=10, what="the node logging the reset")
    [line] = _reset_lines(node)
    assert f"block {delivered_at} the node last judged changed hash {replaced.lower()} -> " in line, line
    assert other_sub == first_sub
    # The subscription made on the new branch is served (its id was settled on the old branch), once.
    [event] = wait_for_fulfillments(coordinator, other_sub, from_block=delivered_at, timeout=30)
    assert event["args"]["node"] == node.address
    assert consumer.functions.outputs(other_sub, 1).call() == fake_models.generate("on the other branch (interval 1)")
    wait_until(lambda: node.node.pending() == {"offchain": 0, "onchain": 0}, timeout=10, what="no pending work")
    assert node.sent() == 1
    assert len(_reset_lines(node)) == 1


def test_a_chain_reverted_while_the_node_was_down_is_noticed_at_start(
    chain_node: ChainNodeFactory, tgi_service: str, chain: Anvil
) -> None:
    deployment, node, snapshot, first_sub, delivered_at = _served_after_snapshot(
        chain_node, tgi_service, chain, "before the stop"
    )
    node.node.stop()

    assert chain.rpc("evm_revert", snapshot) is True
    again = chain_node.restart(node)

    [line] = wait_until(lambda: _reset_lines(again), timeout=10, what="the restarted node logging the reset")
    assert f"is below block {delivered_at} the node last judged" in line, line
    second_sub, _ = _request_and_await(chain, deployment, again, "after the start")
    assert second_sub == first_sub
    assert again.sent() == 1
