"""`SubscriptionListener` and `DeliveryProcessor` in-process against a real anvil of their own (its clock moves),
with the real chain store in a temporary directory and the real orchestrator calling a container served in this
process. No node process: the test plays the chain service's part (blocks to the listener, due work to the
processor, receipts to the wallet)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from eth_abi import decode, encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr
from web3 import Web3
from web3.contract import Contract

from infernet_kit.chain.accounts import USER, dev_account
from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.encoding import ZERO_ADDRESS, container_id
from infernet_kit.chain.transactions import connect, transact
from infernet_kit.chain.watch import created_subscription_id
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.node.chain.clock import ChainClock
from infernet_kit.node.chain.config import SnapshotSyncConfig
from infernet_kit.node.chain.listener import Due, SubscriptionListener
from infernet_kit.node.chain.lookup import ContainerLookup
from infernet_kit.node.chain.processor import DeliveryProcessor
from infernet_kit.node.chain.report import SubscriptionReport
from infernet_kit.node.chain.rpc import Block, ChainClient
from infernet_kit.node.chain.store import ChainStore, DeliveryRecord, DeliveryStatus
from infernet_kit.node.chain.wallet import NodeWallet
from infernet_kit.node.config import ContainerConfig
from infernet_kit.node.guardian import Guardian
from infernet_kit.node.orchestrator import Orchestrator
from infernet_kit.node.proofs import Escrow

TGI = "tgi_client_inference_service"  # the container RecurringConsumer subscribes to
PERIOD = 5


async def _service_output(request: web.Request) -> web.Response:
    """A container with on-chain answers: "answer to <prompt>", or a shape the node cannot deliver."""
    body = await request.json()
    (prompt,) = decode(["string"], bytes.fromhex(body["data"]))
    if "garbage" in prompt:
        return web.json_response({"raw_output": "not hex"})
    answer = encode(["string"], [f"answer to {prompt}"])
    return web.json_response({"raw_input": body["data"], "raw_output": answer.hex()})


@pytest.fixture(scope="module")
async def container_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/service_output", _service_output)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


@dataclass
class Parts:
    """The chain side of one node, wired as `ChainService` wires it."""

    client: ChainClient
    store: ChainStore
    wallet: NodeWallet
    listener: SubscriptionListener
    processor: DeliveryProcessor
    report: SubscriptionReport
    gone: list[int] = field(default_factory=list)
    passed: list[Due] = field(default_factory=list)


@dataclass
class World:
    """This module's chain, a user of its example consumers, the container, and the node's funded key."""

    chain: Anvil
    deployment: Deployment
    user: Web3
    container_url: str
    account: LocalAccount

    def contract(self, name: str) -> Contract:
        return self.deployment.contract(self.user, name)

    def subscribe(self, prompt: str, *, frequency: int, period: int) -> int:
        receipt = transact(self.contract("RecurringConsumer").functions.start(prompt, frequency, period, 1, False))
        return created_subscription_id(self.contract("EIP712Coordinator"), receipt)

    def active_at(self, subscription_id: int) -> int:
        return int(self.contract("EIP712Coordinator").functions.getSubscription(subscription_id).call()[1])

    async def mined_at(self, client: ChainClient, timestamp: int) -> Block:
        """A new block at `timestamp` (or the next second, if the chain is already there)."""
        self.chain.rpc("evm_setNextBlockTimestamp", max(timestamp, self.chain.timestamp() + 1))
        self.chain.mine()
        return await client.block("latest")

    @contextlib.asynccontextmanager
    async def parts(self, data_dir: Path, *, serves: Iterable[str] = (TGI,), **container: Any) -> AsyncIterator[Parts]:
        client = ChainClient(self.chain.url, self.deployment.registry)
        await client.connect()
        store = ChainStore(data_dir / "chain.sqlite")
        await store.open()
        containers = {TGI: ContainerConfig(id=TGI, url=self.container_url, **container)}
        orchestrator = Orchestrator(containers)
        wallet = NodeWallet(client, SecretStr("0x" + bytes(self.account.key).hex()), max_gas_limit=5_000_000)
        first = self.contract("EIP712Coordinator").functions.id().call()
        report = SubscriptionReport()
        listener = SubscriptionListener(
            client,
            store,
            ContainerLookup(serves),
            Guardian(containers, chain_enabled=True),
            report,
            node_address=wallet.address,
            payment_address=None,
            snapshot=SnapshotSyncConfig(sleep=0, batch_size=2, starting_sub_id=first),
        )
        gone: list[int] = []
        passed: list[Due] = []

        async def on_gone(subscription_id: int) -> None:
            gone.append(subscription_id)

        async def on_passed(due: Due) -> None:
            passed.append(due)

        processor = DeliveryProcessor(
            client,
            wallet,
            store,
            orchestrator,
            report,
            Escrow(client, wallet, None),
            node_wallet=ZERO_ADDRESS,
            allowed_sim_errors=[],
            clock=ChainClock(),
            on_gone=on_gone,
            on_passed=on_passed,
        )
        receipts = asyncio.ensure_future(_receipts(wallet))
        try:
            yield Parts(client, store, wallet, listener, processor, report, gone, passed)
        finally:
            receipts.cancel()
            await processor.stop()
            wallet.cancel_waiters()
            await orchestrator.aclose()
            await store.close()
            await client.close()


@pytest.fixture
def world(private_chain: tuple[Anvil, Deployment], container_url: str) -> World:
    chain, deployment = private_chain
    account: LocalAccount = Account.create()
    chain.rpc("anvil_setBalance", account.address, hex(10**20))
    user = connect(chain.url, dev_account(USER).key.to_0x_hex())
    return World(chain, deployment, user, container_url, account)


async def _receipts(wallet: NodeWallet) -> None:
    """Look receipts up the way the chain service does after falling behind the head."""
    while True:
        await wallet.poll_waiters()
        await asyncio.sleep(0.05)


async def idle(processor: DeliveryProcessor) -> None:
    """Until every delivery task (the processor names them `deliver-<subscription>-<interval>`) has ended."""
    tasks = [task for task in asyncio.all_tasks() if task.get_name().startswith("deliver-")]
    if tasks:
        await asyncio.wait(tasks, timeout=20)
    assert processor.pending() == 0, f"{processor.pending()} deliveries still running"


def never(subscription_id: int, interval: int) -> bool:
    return False


async def test_listener_learns_judges_by_chain_time_and_resumes(world: World, tmp_path: Path) -> None:
    async with world.parts(tmp_path) as parts:
        subs = [world.subscribe(f"p{n}", frequency=2, period=PERIOD) for n in range(3)]
        listener, store = parts.listener, parts.store

        advance = await listener.advance(await parts.client.block("latest"), never, never)  # learned in batches of 2
        assert (advance.due, advance.settled) == ([], [])  # none is active yet
        assert (listener.tracked, listener.cursor) == (3, subs[-1])
        assert sorted(await store.tracked()) == subs
        assert await store.get_state("cursor") == str(subs[-1])

        start = max(world.active_at(s) for s in subs)  # read now: a cancelled one's is 2**32 - 1
        block = await world.mined_at(parts.client, start)

        def first(sub_id: int, interval: int) -> bool:
            return sub_id == subs[0]

        def first_or_last(sub_id: int, interval: int) -> bool:
            return sub_id in (subs[0], subs[2])

        def last(sub_id: int, interval: int) -> bool:
            return sub_id == subs[2]

        # subs[0]'s interval is in hand, not settled (in flight): not due, and judged again at the next block.
        advance = await listener.advance(block, first, never)
        assert [(d.subscription_id, d.interval, d.containers, d.block) for d in advance.due] == [
            (sub_id, 1, [TGI], block.hash) for sub_id in subs[1:]
        ]
        # subs[2]'s interval is settled: it sleeps until interval 2 opens. subs[0]'s is still in flight.
        advance = await listener.advance(await world.mined_at(parts.client, start + 1), first_or_last, last)
        assert [d.subscription_id for d in advance.due] == [subs[1]]
        # subs[0]'s delivery ended unsettled (its task crashed): proposed again; subs[2] is not looked at.
        advance = await listener.advance(await world.mined_at(parts.client, start + 2), never, never)
        assert [d.subscription_id for d in advance.due] == [subs[0], subs[1]]

        transact(world.contract("RecurringConsumer").functions.cancel(subs[1]))
        latest = await parts.client.block("latest")
        assert latest.timestamp < start + PERIOD, "the test took a whole period: interval 1 is over"
        advance = await listener.advance(latest, never, never)
        assert [d.subscription_id for d in advance.due] == [subs[0]]
        assert sorted(await store.tracked()) == [subs[0], subs[2]]
        advance = await listener.advance(await world.mined_at(parts.client, start + PERIOD), never, never)
        assert [(d.subscription_id, d.interval) for d in advance.due] == [(subs[0], 2), (subs[2], 2)]
        judged = listener.judged
        assert judged is not None

    async with world.parts(tmp_path) as again:
        await again.listener.load()
        assert (again.listener.tracked, again.listener.cursor, again.listener.judged) == (2, subs[-1], judged)
        ended = start + 2 * PERIOD  # past the last interval of each
        advance = await again.listener.advance(await world.mined_at(again.client, ended), never, never)
        assert advance.due == [] and again.listener.tracked == 0
        assert await again.store.tracked() == {}


async def test_listener_serves_only_its_containers_and_owners(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other_node = world.parts(tmp_path / "other", serves=["hf"])
    owner_only = world.parts(tmp_path / "owner", allowed_addresses=[world.account.address])
    async with other_node as other, owner_only as picky:
        sub_id = world.subscribe("not for us", frequency=1, period=0)
        block = await other.client.block("latest")
        with caplog.at_level(logging.INFO, logger="infernet_kit.node.chain.listener"):
            for parts in (other, picky):
                advance = await parts.listener.advance(block, never, never)
                assert advance.due == [] and parts.listener.tracked == 0
                assert parts.listener.cursor == sub_id  # read past, not read again
        # One line per node, with the reason: another container's (its hash, and what this node serves), and an
        # owner that is not allowed.
        assert caplog.text.count(f"not serving subscription={sub_id} owner=") == 2
        foreign = f"containerId 0x{container_id(TGI).hex()} is no chain of this node's containers; it serves hf (0x"
        assert foreign in caplog.text and "Container not allowed for address (container=" in caplog.text
        [other_view], [picky_view] = other.report.get([sub_id]), picky.report.get([sub_id])
        assert (other_view.status, picky_view.status) == ("skipped", "skipped")
        assert other_view.reason is not None and other_view.reason.startswith("container id not served")
        assert picky_view.reason is not None and world.account.address in picky_view.reason


async def test_processor_delivers_and_records_every_outcome(world: World, tmp_path: Path) -> None:
    sent = world.chain.w3.eth.get_transaction_count
    async with world.parts(tmp_path) as parts:
        good = world.subscribe("weather", frequency=1, period=0)
        bad = world.subscribe("garbage", frequency=1, period=0)
        advance = await parts.listener.advance(await parts.client.block("latest"), never, never)
        due = {d.subscription_id: d for d in advance.due}
        assert sorted(due) == [good, bad]
        # Its inputs read fine; the chain has no such id. A later interval: a delivery shape not simulated yet (one
        # of the good one's shape would go out with its gas, unsimulated, and revert on chain instead).
        missing = replace(due[good], subscription_id=2**32 - 3, interval=2)
        for work in (*due.values(), missing):
            parts.processor.dispatch(work)
        await idle(parts.processor)

        delivered = await parts.store.delivery(good, 1)
        assert delivered is not None and delivered.status is DeliveryStatus.DELIVERED and delivered.tx_hash
        assert world.contract("RecurringConsumer").functions.outputs(good, 1).call() == "answer to weather (interval 1)"
        failed = await parts.store.delivery(bad, 1)
        assert failed is not None and failed.status is DeliveryStatus.FAILED
        assert failed.error is not None and "did not answer with on-chain output" in failed.error
        skipped = await parts.store.delivery(missing.subscription_id, 2)
        assert skipped is not None
        assert (skipped.status, skipped.error) == (DeliveryStatus.SKIPPED, "SubscriptionNotFound")
        assert parts.gone == [missing.subscription_id] and parts.passed == []
        assert sent(world.account.address) == 1  # only the good one was sent
        [good_view] = parts.report.get([good])
        [good_interval] = good_view.intervals
        assert (good_interval.status, good_interval.tx_hash) == (DeliveryStatus.DELIVERED, delivered.tx_hash)
        assert good_interval.block is not None and good_interval.gas_used is not None
        [bad_interval] = parts.report.get([bad])[0].intervals
        assert (bad_interval.status, bad_interval.error) == (DeliveryStatus.FAILED, failed.error)
        assert all(parts.processor.handled(d.subscription_id, 1) for d in (*due.values(), missing))

        advance = await parts.listener.advance(await parts.client.block("latest"), never, never)
        assert [(d.subscription_id, reason) for d, reason in advance.settled] == [(good, "this node already responded")]

        # Sent before a restart: a transaction the chain has is followed up, one it never got is counted a failure.
        unknown = "0x" + "cd" * 32
        for interval, tx_hash in ((7, delivered.tx_hash), (8, unknown)):
            await parts.store.save_delivery(
                DeliveryRecord(subscription_id=good, interval=interval, status=DeliveryStatus.SENT, tx_hash=tx_hash)
            )

    async with world.parts(tmp_path) as restarted:
        await restarted.processor.load()
        await idle(restarted.processor)
        followed = await restarted.store.delivery(good, 7)
        assert followed is not None and followed.status is DeliveryStatus.DELIVERED
        lost = await restarted.store.delivery(good, 8)
        assert lost is not None and (lost.status, lost.attempts) == (DeliveryStatus.RUNNING, 1)
        assert lost.error == "transaction never reached the chain"
        assert restarted.processor.handled(good, 7) and not restarted.processor.handled(good, 8)
        assert sent(world.account.address) == 1  # nothing sent again


async def test_store_written_before_delegated_ids_gains_the_column(tmp_path: Path) -> None:
    """A chain store from before `subscription_id` opens with the column added and its rows kept; a delegated
    request's data is then found by owner with the id the node learned."""
    import sqlite3

    from infernet_kit.chain.encoding import Signature, Subscription
    from infernet_kit.node.chain.store import DelegatedRecord, DelegatedRequest

    path = tmp_path / "chain.sqlite"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE chain_delegated (owner TEXT NOT NULL, nonce INTEGER NOT NULL, body TEXT NOT NULL, "
        "status TEXT NOT NULL, tx_hash TEXT, error TEXT, updated_at REAL NOT NULL, PRIMARY KEY (owner, nonce))"
    )
    owner = dev_account(USER).address
    sub = Subscription(
        owner=owner, active_at=1, period=3, frequency=2, redundancy=2, container_id=b"\x01" * 32,
        lazy=False, verifier=ZERO_ADDRESS, payment_amount=0, payment_token=ZERO_ADDRESS, wallet=ZERO_ADDRESS,
    )  # fmt: skip
    request = DelegatedRequest(
        subscription=sub, signature=Signature(nonce=7, expiry=9, v=27, r=1, s=2), data={"text": "kept"}
    )
    old.execute(
        "INSERT INTO chain_delegated VALUES (?, 7, ?, 'running', NULL, NULL, 0)", (owner, request.model_dump_json())
    )
    old.commit()
    old.close()

    store = ChainStore(path)
    await store.open()
    try:
        [unfinished] = await store.unfinished_delegated()
        assert (unfinished.request.data, unfinished.subscription_id) == ({"text": "kept"}, None)
        await store.save_delegated(unfinished.model_copy(update={"subscription_id": 42}))
        [found] = await store.delegated_for(owner)
        assert (found.subscription_id, found.request.data) == (42, {"text": "kept"})
        assert await store.delegated_for(ZERO_ADDRESS) == []
        assert isinstance(found, DelegatedRecord)
    finally:
        await store.close()
