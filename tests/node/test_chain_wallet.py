"""The node's sending key against a real anvil: many deliveries at once from one key, nonce trouble, gas cap,
and reverts decoded by name before anything is sent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest
from eth_account import Account
from prometheus_client import REGISTRY
from pydantic import SecretStr

from infernet_kit.chain.deploy import Deployment
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.node.chain.rpc import Call, ChainClient
from infernet_kit.node.chain.wallet import NodeWallet, Reverted, SendFailed

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def wallet_on(
    anvil: Anvil, deployment: Deployment, *, max_gas_limit: int = 5_000_000
) -> AsyncIterator[NodeWallet]:
    """A funded fresh key, with receipts looked up every 50 ms (the node does it per new block)."""
    account = Account.create()
    anvil.rpc("anvil_setBalance", account.address, hex(10**20))
    client = ChainClient(anvil.url, deployment.registry)
    await client.connect()
    wallet = NodeWallet(client, SecretStr("0x" + bytes(account.key).hex()), max_gas_limit=max_gas_limit)

    async def receipts() -> None:
        while True:
            try:
                await wallet.poll_waiters()
            except Exception:  # one failed look (anvil slow under load) must not end the looking
                log.exception("looking up the wallet's receipts failed; looking again")
            await asyncio.sleep(0.05)

    poller = asyncio.create_task(receipts())
    try:
        yield wallet
    finally:
        poller.cancel()
        wallet.cancel_waiters()
        await client.close()


async def _noted(tx_hash: str, nonce: int) -> None:
    del tx_hash, nonce


async def test_many_concurrent_sends_use_consecutive_nonces(anvil: Anvil, infernet_deployment: Deployment) -> None:
    async with wallet_on(anvil, infernet_deployment) as wallet:
        noted: list[int] = []

        async def note(tx_hash: str, nonce: int) -> None:
            noted.append(nonce)

        transfer = Call(Account.create().address, b"")
        receipts = await asyncio.gather(*(wallet.transact(transfer, on_signed=note) for _ in range(60)))

        assert {r.status for r in receipts} == {1}
        assert len({r.tx_hash for r in receipts}) == 60
        assert sorted(noted) == list(range(60))
        assert anvil.w3.eth.get_transaction_count(wallet.address) == 60


async def test_refused_nonce_resyncs_and_gaps_are_filled(anvil: Anvil, infernet_deployment: Deployment) -> None:
    async with wallet_on(anvil, infernet_deployment) as wallet:
        transfer = Call(Account.create().address, b"")
        await wallet.transact(transfer, on_signed=_noted)

        # A counter behind the chain (the key was used elsewhere): refused, then right again.
        wallet._nonce = 0
        with pytest.raises(SendFailed, match="nonce too low"):
            await wallet.send(transfer, gas=21_000, on_signed=_noted)
        assert (await wallet.transact(transfer, on_signed=_noted)).status == 1

        # A refusal in the middle of a batch (gas above the block limit) must not strand the later ones.
        sends = [wallet.send(transfer, gas=21_000, on_signed=_noted) for _ in range(2)]
        sends.append(wallet.send(transfer, gas=10**9, on_signed=_noted))
        sends += [wallet.send(transfer, gas=21_000, on_signed=_noted) for _ in range(2)]
        results = await asyncio.gather(*sends, return_exceptions=True)
        assert isinstance(results[2], SendFailed)
        later = [r for r in results if isinstance(r, str)]
        receipts = await asyncio.gather(*(wallet.wait(tx_hash) for tx_hash in later))
        assert [r.status for r in receipts] == [1, 1, 1, 1]
        assert anvil.w3.eth.get_transaction_count(wallet.address) == 2 + 5  # the gap filled by a self-transfer


async def test_reverts_are_named_and_nothing_is_sent(anvil: Anvil, infernet_deployment: Deployment) -> None:
    async with wallet_on(anvil, infernet_deployment, max_gas_limit=30_000) as wallet:
        client = ChainClient(anvil.url, infernet_deployment.registry)
        await client.connect()
        missing = client.deliver_compute(2**32 - 1, 1, b"", b"", b"", wallet.address)
        with pytest.raises(Reverted) as caught:
            await wallet.transact(missing, on_signed=_noted)
        assert caught.value.reason == "SubscriptionNotFound"

        expensive = Call(infernet_deployment.coordinator, bytes.fromhex("deadbeef"))
        with pytest.raises(Reverted):
            await wallet.transact(expensive, on_signed=_noted)
        assert wallet.gas_limit(20_000) == 30_000
        with pytest.raises(Reverted, match="exceeds max_gas_limit"):
            wallet.gas_limit(40_000)
        assert anvil.w3.eth.get_transaction_count(wallet.address) == 0
        await client.close()


async def test_calls_of_a_known_shape_skip_simulation_until_one_reverts(
    anvil: Anvil, infernet_deployment: Deployment
) -> None:
    def simulations() -> float:
        return REGISTRY.get_sample_value("infernet_node_rpc_requests_total", {"method": "eth_estimateGas"}) or 0.0

    async with wallet_on(anvil, infernet_deployment) as wallet:
        shape = ("transfer", 0)
        transfer = Call(Account.create().address, b"")
        before = simulations()
        await wallet.transact(transfer, on_signed=_noted, shape=shape)
        receipts = await asyncio.gather(*(wallet.transact(transfer, on_signed=_noted, shape=shape) for _ in range(5)))
        assert {r.status for r in receipts} == {1}
        assert simulations() - before == 1

        # Sent unsimulated under the same shape, a call that cannot succeed reverts on chain...
        bad = Call(infernet_deployment.coordinator, bytes.fromhex("deadbeef"))
        with pytest.raises(Reverted, match="reverted on chain"):
            await wallet.transact(bad, on_signed=_noted, shape=shape)
        assert simulations() - before == 1
        # ...and the next of that shape is simulated again.
        await wallet.transact(transfer, on_signed=_noted, shape=shape)
        assert simulations() - before == 2

        # Calls of a new shape that arrive together wait for the first one's simulation.
        fresh = ("transfer", 1)
        receipts = await asyncio.gather(*(wallet.transact(transfer, on_signed=_noted, shape=fresh) for _ in range(5)))
        assert {r.status for r in receipts} == {1}
        assert simulations() - before == 3
