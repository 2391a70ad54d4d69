"""Subscriptions over chain time: recurring intervals, cancellation, and a node killed and restarted mid-way.

These tests move the clock of their own chain (`private_chain`): chain time, not the wall clock, decides what
is due, so each interval is reached with `evm_setNextBlockTimestamp` instead of by sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from infernet_kit.chain.accounts import USER, dev_account
from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.transactions import connect, transact
from infernet_kit.chain.watch import created_subscription_id, wait_for_fulfillments
from infernet_kit.devstack import fake_models
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.polling import wait_until
from infernet_kit.testing.chain_node_fixtures import ChainNode, ChainNodeFactory
from infernet_kit.testing.node_fixtures import node_container

TGI = "tgi_client_inference_service"
PERIOD = 3


@pytest.fixture
def chain(private_chain: tuple[Anvil, Deployment]) -> Anvil:
    return private_chain[0]


@pytest.fixture
def deployment(private_chain: tuple[Anvil, Deployment]) -> Deployment:
    return private_chain[1]


@pytest.fixture
def user(chain: Anvil) -> Web3:
    return connect(chain.url, dev_account(USER).key.to_0x_hex())


@pytest.fixture
def start_node(chain_node: ChainNodeFactory, tgi_service: str, chain: Anvil, deployment: Deployment) -> Any:
    def start() -> ChainNode:
        return chain_node(containers=[node_container(TGI, tgi_service)], chain=chain, deployment=deployment)

    return start


@pytest.fixture
def manual_mining(chain: Anvil) -> Iterator[None]:
    """Blocks only when the test mines them, so a sent transaction can be caught before inclusion."""
    chain.rpc("evm_setAutomine", False)
    try:
        yield
    finally:
        chain.rpc("evm_setAutomine", True)


class Recurring:
    """A RecurringConsumer subscription and the moves through its intervals."""

    def __init__(
        self, chain: Anvil, user: Web3, deployment: Deployment, receipt: TxReceipt, period: int = PERIOD
    ) -> None:
        self.period = period
        self.chain = chain
        self.consumer: Contract = deployment.contract(user, "RecurringConsumer")
        self.coordinator: Contract = deployment.contract(user, "EIP712Coordinator")
        self.block = receipt["blockNumber"]
        self.id = created_subscription_id(self.coordinator, receipt)
        self.active_at = int(self.coordinator.functions.getSubscription(self.id).call()[1])

    @classmethod
    def start(
        cls, chain: Anvil, user: Web3, deployment: Deployment, prompt: str, frequency: int, period: int = PERIOD
    ) -> Recurring:
        consumer = deployment.contract(user, "RecurringConsumer")
        receipt = transact(consumer.functions.start(prompt, frequency, period, 1, False))
        return cls(chain, user, deployment, receipt, period)

    def enter(self, interval: int) -> None:
        """Mine a block at the first second of `interval` (the node's delivery then lands inside it)."""
        target = self.active_at + (interval - 1) * self.period
        self.chain.rpc("evm_setNextBlockTimestamp", max(target, self.chain.timestamp() + 1))
        self.chain.mine()

    def wait_delivered(self, count: int) -> None:
        wait_for_fulfillments(self.coordinator, self.id, count=count, from_block=self.block)

    def deliveries(self) -> int:
        return int(self.consumer.functions.deliveries(self.id).call())

    def output(self, interval: int) -> str:
        return str(self.consumer.functions.outputs(self.id, interval).call())


def test_recurring_subscription_is_delivered_exactly_frequency_times(
    start_node: Any, chain: Anvil, user: Web3, deployment: Deployment
) -> None:
    node = start_node()
    sub = Recurring.start(chain, user, deployment, "forecast", frequency=2)

    for interval in (1, 2):
        sub.enter(interval)
        sub.wait_delivered(interval)
    sub.enter(3)
    sub.enter(4)
    node.wait_settled()

    assert sub.deliveries() == 2
    assert [sub.output(i) for i in (1, 2, 3)] == [
        fake_models.generate("forecast (interval 1)"),
        fake_models.generate("forecast (interval 2)"),
        "",
    ]
    assert node.sent() == 2


def test_cancelled_subscription_gets_no_more_deliveries(
    start_node: Any, chain: Anvil, user: Web3, deployment: Deployment
) -> None:
    node = start_node()
    sub = Recurring.start(chain, user, deployment, "until cancelled", frequency=3)
    sub.enter(1)
    sub.wait_delivered(1)

    transact(sub.consumer.functions.cancel(sub.id))
    wait_until(lambda: f"subscription={sub.id} cancelled" in node.log_text(), what="the node to see the cancellation")
    sub.enter(2)
    sub.enter(3)
    node.wait_settled()

    assert sub.deliveries() == 1
    assert node.sent() == 1


def test_node_killed_and_restarted_mid_subscription_skips_and_repeats_nothing(
    start_node: Any, chain_node: ChainNodeFactory, chain: Anvil, user: Web3, deployment: Deployment
) -> None:
    node = start_node()
    # A restart takes seconds of wall time, and anvil's clock moves with it: a long period keeps interval 2
    # open until the restarted node answers.
    sub = Recurring.start(chain, user, deployment, "survive a crash", frequency=3, period=60)
    sub.enter(1)
    sub.wait_delivered(1)

    node.node.kill()
    sub.enter(2)  # interval 2 opens while the node is down
    node = chain_node.restart(node)
    sub.wait_delivered(2)
    sub.enter(3)
    sub.wait_delivered(3)
    sub.enter(4)
    node.wait_settled()

    assert sub.deliveries() == 3
    assert [sub.output(i) for i in (1, 2, 3)] == [
        fake_models.generate(f"survive a crash (interval {i})") for i in (1, 2, 3)
    ]
    assert node.sent() == 3


@pytest.mark.usefixtures("manual_mining")
def test_transaction_in_flight_at_a_crash_is_followed_up_not_resent(
    start_node: Any, chain_node: ChainNodeFactory, chain: Anvil, user: Web3, deployment: Deployment
) -> None:
    node = start_node()
    consumer = deployment.contract(user, "RecurringConsumer")
    request = consumer.functions.start("in flight", 1, 0, 1, False).transact()
    chain.mine()
    sub = Recurring(chain, user, deployment, user.eth.get_transaction_receipt(request))

    wait_until(lambda: node.sent() == 1, what="the node to send its delivery")  # sent, not yet mined
    node.node.kill()
    node = chain_node.restart(node)
    wait_until(
        lambda: f"following up subscription={sub.id} interval=1" in node.log_text(),
        what="the restarted node to pick up its sent transaction",
    )
    node.wait_judged()
    assert node.sent() == 1  # nothing sent again while the first transaction waits

    chain.mine()
    sub.wait_delivered(1)
    wait_until(
        lambda: f"delivered subscription={sub.id} interval=1" in node.log_text(),
        what="the restarted node to record the delivery",
    )
    chain.mine()
    node.wait_settled()
    assert sub.deliveries() == 1
    assert node.sent() == 1


@pytest.mark.usefixtures("manual_mining")
def test_next_interval_is_answered_only_once_a_block_is_in_it(
    start_node: Any, chain: Anvil, user: Web3, deployment: Deployment
) -> None:
    """A head in an interval's last second: a delivery sent then would land after it closed, so it is skipped.
    The next interval is not answered until the node has seen a block in it: anvil may mine the next block in
    the same second as the last (it does when it catches up), and a delivery for an interval not open there
    reverts with IntervalMismatch and spends gas for nothing."""
    node = start_node()
    consumer = deployment.contract(user, "RecurringConsumer")
    request = consumer.functions.start("one second late", 3, PERIOD, 1, False).transact()
    chain.mine()
    sub = Recurring(chain, user, deployment, user.eth.get_transaction_receipt(request))
    last_second = sub.active_at + PERIOD - 1

    chain.rpc("evm_setNextBlockTimestamp", last_second)
    chain.mine()
    wait_until(
        lambda: f"not delivering subscription={sub.id} interval=1: interval closes" in node.log_text(),
        what="the node to skip interval 1 as closing",
    )
    # Whatever the node does about interval 2 at this head is done once it sent it or has nothing in flight.
    wait_until(lambda: node.sent() > 0 or node.node.pending()["onchain"] == 0, what="the node to act on the head")
    chain.rpc("evm_setNextBlockTimestamp", last_second)  # the next block in the same second: interval 1 still
    chain.mine()
    assert chain.timestamp() == last_second
    assert _reverted(chain, node.address, sub.block) == []

    sub.enter(2)
    wait_until(lambda: node.sent() == 1, what="the node to send interval 2 once a block is in it")
    chain.mine()
    sub.wait_delivered(1)
    assert sub.output(2) == fake_models.generate("one second late (interval 2)")
    assert _reverted(chain, node.address, sub.block) == []
    assert node.sent() == 1


def _reverted(chain: Anvil, sender: str, first_block: int) -> list[str]:
    """Hashes of `sender`'s transactions mined from `first_block` on that reverted."""
    w3 = chain.w3
    failed = []
    for number in range(first_block, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            assert not isinstance(tx, bytes)
            if tx["from"] == sender and w3.eth.get_transaction_receipt(tx["hash"])["status"] == 0:
                failed.append(tx["hash"].to_0x_hex())
    return failed
