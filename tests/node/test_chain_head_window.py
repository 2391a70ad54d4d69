"""The chain service in-process, between hearing of a block and acting on it: a real anvil of its own (blocks only
when the test mines them) behind a real HTTP proxy that can hold the service's reads of the chain head, with the
real store, wallet and orchestrator, and a container served in this process that answers when the test says so."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from eth_abi import decode, encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr
from web3.contract import Contract

from infernet_kit.chain.accounts import USER, dev_account
from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.transactions import connect
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.node.chain.config import ChainConfig, SnapshotSyncConfig, WalletConfig
from infernet_kit.node.chain.service import ChainService
from infernet_kit.node.chain.store import DeliveryStatus
from infernet_kit.node.config import ContainerConfig
from infernet_kit.node.events import EventFeed
from infernet_kit.node.guardian import Guardian
from infernet_kit.node.orchestrator import Orchestrator
from infernet_kit.polling import wait_until_async

TGI = "tgi_client_inference_service"  # the container RecurringConsumer subscribes to
WAIT = 30.0


@dataclass
class HeadGate:
    """JSON-RPC to anvil. While `closed`, a request that reads the latest block (the head follower's) waits until
    the gate opens; `held` is set once one does. Every raw transaction passing through is kept once anvil took it."""

    upstream: str
    closed: bool = False
    held: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    raw_transactions: list[str] = field(default_factory=list)

    async def forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        payload = json.loads(body)
        items = payload if isinstance(payload, list) else [payload]
        reads_head = any(i["method"] == "eth_getBlockByNumber" and i["params"][0] == "latest" for i in items)
        if self.closed and reads_head:
            self.held.set()
            await self.opened.wait()
        async with ClientSession() as session, session.post(self.upstream, data=body, headers=_JSON) as answer:
            forwarded = await answer.read()
        # Kept once anvil has answered: a transaction seen here is in its mempool, so a block mined next holds it.
        self.raw_transactions += [i["params"][0] for i in items if i["method"] == "eth_sendRawTransaction"]
        return web.Response(body=forwarded, content_type="application/json")


_JSON = {"content-type": "application/json"}


@dataclass
class Container:
    """Answers "answer to <prompt>"; a prompt starting with "held" waits until `release` is set."""

    asked: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def service_output(self, request: web.Request) -> web.Response:
        body = await request.json()
        (prompt,) = decode(["string"], bytes.fromhex(body["data"]))
        if prompt.startswith("held"):
            self.asked.set()
            await self.release.wait()
        answer = encode(["string"], [f"answer to {prompt}"])
        return web.json_response({"raw_input": body["data"], "raw_output": answer.hex()})


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` (the service runs on this loop meanwhile)."""

    async def check() -> bool:
        return condition()

    await wait_until_async(check, timeout=WAIT, interval=0.02, what=what)


@dataclass
class Stack:
    chain: Anvil
    consumer: Contract
    coordinator: Contract
    gate: HeadGate
    container: Container
    service: ChainService
    events: EventFeed
    account: LocalAccount

    def start(self, prompt: str) -> int:
        """A one-interval subscription (due at once), mined; its id."""
        sub_id = int(self.coordinator.functions.id().call())
        self.consumer.functions.start(prompt, 1, 0, 1, False).transact()
        self.chain.mine()
        return sub_id

    def status(self, sub_id: int) -> tuple[DeliveryStatus | None, str | None]:
        views = self.service.subscriptions([sub_id])
        if not views or not views[0].intervals:
            return None, None
        return views[0].intervals[-1].status, views[0].intervals[-1].error


@pytest.fixture
async def stack(private_chain: tuple[Anvil, Deployment], tmp_path: Path) -> AsyncIterator[Stack]:
    chain, deployment = private_chain
    user = connect(chain.url, dev_account(USER).key.to_0x_hex())
    account: LocalAccount = Account.create()
    chain.rpc("anvil_setBalance", account.address, hex(10**20))
    container, gate = Container(), HeadGate(chain.url)
    container_app, gate_app = web.Application(), web.Application()
    container_app.router.add_post("/service_output", container.service_output)
    gate_app.router.add_post("/", gate.forward)
    container_runner, container_url = await _serve(container_app)
    gate_runner, gate_url = await _serve(gate_app)
    coordinator = deployment.contract(user, "EIP712Coordinator")
    config = ChainConfig(
        enabled=True,
        rpc_url=gate_url,
        ws_url="",  # the head is polled (every 20 ms): each look at it goes through the gate
        registry_address=deployment.registry,
        wallet=WalletConfig(private_key=SecretStr("0x" + bytes(account.key).hex())),
        snapshot_sync=SnapshotSyncConfig(
            sleep=0, sync_period=0.02, starting_sub_id=int(coordinator.functions.id().call())
        ),
    )
    containers = {TGI: ContainerConfig(id=TGI, url=container_url)}
    orchestrator = Orchestrator(containers)
    events = EventFeed()
    guardian = Guardian(containers, chain_enabled=True)
    service = ChainService(config, orchestrator, containers, guardian, tmp_path, events)
    chain.rpc("evm_setAutomine", False)
    await service.start()
    try:
        consumer = deployment.contract(user, "RecurringConsumer")
        yield Stack(chain, consumer, coordinator, gate, container, service, events, account)
    finally:
        gate.opened.set()
        container.release.set()
        await service.stop()
        await orchestrator.aclose()
        await gate_runner.cleanup()
        await container_runner.cleanup()
        chain.rpc("evm_setAutomine", True)


async def test_a_delivery_ready_while_the_head_is_read_waits_for_its_cancellations(stack: Stack) -> None:
    """A delivery becomes ready to send after a block cancelled its subscription, while the node is still reading
    that block: it is not signed until the block's cancellations are applied, and then dropped unsent (a
    transaction sent would only revert with SubscriptionNotActive)."""
    # A first delivery of the same shape: its gas is known, so the next one goes out unsimulated (a simulation
    # would see the cancellation by itself).
    warm = stack.start("warm")
    await _until(lambda: len(stack.gate.raw_transactions) == 1, "the first delivery to be sent")
    stack.chain.mine()
    await _until(lambda: stack.status(warm)[0] is DeliveryStatus.DELIVERED, "the first delivery to be mined")

    held = stack.start("held")
    await asyncio.wait_for(stack.container.asked.wait(), WAIT)  # its delivery is computing
    stack.consumer.functions.cancel(held).transact()
    stack.gate.closed = True
    stack.chain.mine()  # the cancellation's block: the node's next look at the head waits at the gate
    await asyncio.wait_for(stack.gate.held.wait(), WAIT)

    reader = stack.events.join()
    assert reader is not None
    stack.container.release.set()
    while (event := await asyncio.wait_for(reader.next(), WAIT)) is not None:
        if event.kind == "compute" and event.data["subscription"] == held:
            break  # computed: from here nothing is awaited before the wallet would sign it
    stack.events.leave(reader)
    stack.gate.opened.set()

    await _until(lambda: stack.status(held)[0] in (DeliveryStatus.SKIPPED, DeliveryStatus.SENT), "the delivery")
    assert stack.status(held) == (DeliveryStatus.SKIPPED, f"subscription {held} was cancelled on chain")
    assert len(stack.gate.raw_transactions) == 1  # the first delivery's only
