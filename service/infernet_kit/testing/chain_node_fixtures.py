"""Fixtures for nodes that serve subscriptions on a local chain.

- `chain_node`: a factory `start(*, containers, chain=None, deployment=None, account=None, ...) -> ChainNode` that
  runs `infernet-kit node` (through `infernet_node`) with the chain enabled against `chain`/`deployment` (the
  session's `anvil` and `infernet_deployment` unless given) and a fresh funded key of its own, so each node's
  transaction count is exactly what it sent. It serves subscriptions from the coordinator's current `id` on
  (older ones belong to earlier tests). `chain_node.restart(node)` starts the same node again (same key, config
  and data directory).
- `private_chain` (module): a fresh anvil with the core and examples deployed, for tests that move chain time;
  the session chain's clock must stay near the wall clock, which signature expiries are judged against.
- `request_compute(coordinator, consumer_call)`: send a consumer's request; (subscription id, block).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from infernet_kit.chain.accounts import DEPLOYER, dev_account
from infernet_kit.chain.deploy import Deployment, deploy
from infernet_kit.chain.transactions import transact
from infernet_kit.chain.watch import created_subscription_id
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.polling import wait_until
from infernet_kit.testing.node_fixtures import NodeFactory, RunningNode
from infernet_kit.tls import tls_context

__all__ = ["ChainNode", "ChainNodeFactory", "chain_node", "private_chain", "request_compute"]

FUNDING_WEI = 100 * 10**18


def request_compute(coordinator: Contract, call: ContractFunction) -> tuple[int, int]:
    """Send a consumer's request transaction; the subscription it created and the block it landed in."""
    receipt = transact(call)
    return created_subscription_id(coordinator, receipt), int(receipt["blockNumber"])


@dataclass
class ChainNode:
    """A node process with the chain enabled, and the account it sends from."""

    node: RunningNode
    account: LocalAccount
    chain: Anvil
    config: dict[str, Any]

    @property
    def address(self) -> str:
        return str(self.account.address)

    @property
    def url(self) -> str:
        return self.node.url

    def sent(self) -> int:
        """How many transactions this node's key has sent (mined or pending)."""
        return int(self.chain.w3.eth.get_transaction_count(self.account.address, "pending"))

    def log_text(self) -> str:
        return self.node.log_text()

    def judged(self) -> int:
        """The newest block this node process has acted on, from its `/info` (-1 before its first)."""
        block = httpx.get(f"{self.node.url}/info", timeout=5, verify=tls_context()).json()["chain"]["judged_block"]
        return -1 if block is None else int(block)

    def wait_judged(self, timeout: float = 15.0) -> None:
        """Wait until this node process judged the chain head (what was due there is dispatched by then)."""
        head = int(self.chain.w3.eth.block_number)
        wait_until(lambda: self.judged() >= head, timeout=timeout, what=f"{self.node.url} to judge block {head}")
        assert self.node.process.running(), self.node.process.log_tail()

    def wait_settled(self, timeout: float = 15.0) -> None:
        """Wait until the node judged the chain head and has no delivery in flight: whatever it had to send for
        the blocks so far is sent by then, so a transaction missing now is one it decided not to send."""
        self.wait_judged(timeout)
        wait_until(lambda: self._in_flight() == 0, timeout=timeout, what=f"{self.node.url} to settle its deliveries")
        assert self.node.process.running(), self.node.process.log_tail()

    def _in_flight(self) -> int:
        return self.node.pending()["onchain"]


class ChainNodeFactory:
    """Starts chain-enabled nodes on the session chain (or a given one)."""

    def __init__(self, nodes: NodeFactory, chain: Anvil, deployment: Deployment) -> None:
        self._nodes = nodes
        self._chain = chain
        self._deployment = deployment

    def __call__(
        self,
        *,
        containers: list[dict[str, Any]],
        chain: Anvil | None = None,
        deployment: Deployment | None = None,
        account: LocalAccount | None = None,
        chain_settings: dict[str, Any] | None = None,
        data_dir: Path | None = None,
        server: dict[str, Any] | None = None,
    ) -> ChainNode:
        chain = chain or self._chain
        deployment = deployment or self._deployment
        if account is None:
            account = Account.create()
            chain.rpc("anvil_setBalance", account.address, hex(FUNDING_WEI))
        coordinator = deployment.contract(chain.w3, "EIP712Coordinator")
        settings: dict[str, Any] = {
            "enabled": True,
            "rpc_url": chain.url,
            "registry_address": deployment.registry,
            "trail_head_blocks": 0,
            "wallet": {"private_key": "0x" + bytes(account.key).hex(), "max_gas_limit": 5_000_000},
            "snapshot_sync": {"sync_period": 0.1, "starting_sub_id": int(coordinator.functions.id().call())},
        }
        for key, value in (chain_settings or {}).items():
            if isinstance(value, dict) and isinstance(settings.get(key), dict):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
        config = {"containers": copy.deepcopy(containers), "chain": settings, "server": copy.deepcopy(server or {})}
        node = self._nodes(config, data_dir=data_dir)
        return ChainNode(node=node, account=account, chain=chain, config=config)

    def restart(self, previous: ChainNode) -> ChainNode:
        """The same node (key, config, data directory) started again after a stop or a kill."""
        node = self._nodes(previous.config, data_dir=previous.node.data_dir)
        return ChainNode(node=node, account=previous.account, chain=previous.chain, config=previous.config)


@pytest.fixture
def chain_node(infernet_node: NodeFactory, anvil: Anvil, infernet_deployment: Deployment) -> ChainNodeFactory:
    """Start chain-enabled node processes with fresh funded keys; all are stopped at teardown."""
    return ChainNodeFactory(infernet_node, anvil, infernet_deployment)


@pytest.fixture(scope="module")
def private_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Anvil, Deployment]]:
    """A fresh anvil and deployment for one test module, free to move its clock."""
    with Anvil(log_path=tmp_path_factory.mktemp("private-anvil") / "anvil.log") as chain:
        yield chain, deploy(chain.w3, dev_account(DEPLOYER))
