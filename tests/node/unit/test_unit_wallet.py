"""`NodeWallet` in-process against the session anvil: receipts found by scanning blocks, transactions followed
up after a restart, simulation errors the config allows, and a chain reset voiding what waits.

(Nonces, gap filling and named reverts are in `tests/node/test_chain_wallet.py`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr

from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.encoding import ZERO_ADDRESS
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.node.chain import wallet as wallet_module
from infernet_kit.node.chain.rpc import Call, ChainClient
from infernet_kit.node.chain.wallet import NodeWallet, Reverted
from infernet_kit.polling import wait_until_async

MAX_GAS = 400_000


@contextlib.asynccontextmanager
async def client_on(anvil: Anvil, deployment: Deployment) -> AsyncIterator[ChainClient]:
    client = ChainClient(anvil.url, deployment.registry)
    await client.connect()
    try:
        yield client
    finally:
        await client.close()


def funded(anvil: Anvil) -> LocalAccount:
    account: LocalAccount = Account.create()
    anvil.rpc("anvil_setBalance", account.address, hex(10**20))
    return account


def wallet_of(client: ChainClient, account: LocalAccount) -> NodeWallet:
    return NodeWallet(client, SecretStr("0x" + bytes(account.key).hex()), max_gas_limit=MAX_GAS)


async def _noted(tx_hash: str, nonce: int) -> None:
    del tx_hash, nonce


async def test_receipts_come_from_the_blocks_the_wallet_is_shown(anvil: Anvil, infernet_deployment: Deployment) -> None:
    async with client_on(anvil, infernet_deployment) as client:
        wallet = wallet_of(client, funded(anvil))
        tx_hash = await wallet.send(Call(Account.create().address, b""), gas=21_000, on_signed=_noted)
        waiting = asyncio.ensure_future(wallet.wait(tx_hash))
        assert wallet.waiting == 1
        # anvil mines it on arrival (its receipt may trail the send by a moment); other senders on the session
        # chain may have mined blocks since
        mined_in = int(anvil.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)["blockNumber"])
        block = await client.block(mined_in)
        assert tx_hash in block.transactions

        await wallet.on_blocks([block])
        receipt = await asyncio.wait_for(waiting, 5)
        assert (receipt.tx_hash, receipt.status, receipt.block_number) == (tx_hash, 1, block.number)
        assert wallet.waiting == 0


async def test_a_transaction_sent_before_a_restart_is_followed_up(
    anvil: Anvil, infernet_deployment: Deployment
) -> None:
    async with client_on(anvil, infernet_deployment) as client:
        account = funded(anvil)
        sent = await wallet_of(client, account).send(Call(account.address, b""), gas=21_000, on_signed=_noted)

        restarted = wallet_of(client, account)  # the same key in a new process: nothing in memory
        receipt = await restarted.watch(sent)
        assert receipt is not None and (receipt.tx_hash, receipt.status) == (sent, 1)
        assert await restarted.watch("0x" + "ab" * 32) is None  # never reached the chain
        with pytest.raises(TimeoutError, match="not being watched and has no receipt"):
            await restarted.wait("0x" + "ab" * 32)


async def test_an_allowed_simulation_error_is_sent_with_the_full_gas_cap(
    anvil: Anvil, infernet_deployment: Deployment
) -> None:
    async with client_on(anvil, infernet_deployment) as client:
        wallet = wallet_of(client, funded(anvil))
        missing = client.deliver_compute(2**32 - 2, 1, b"", b"", b"", wallet.address)
        signed: list[str] = []

        async def note(tx_hash: str, nonce: int) -> None:
            signed.append(tx_hash)

        poller = asyncio.ensure_future(_poll(wallet))
        try:
            with pytest.raises(Reverted, match="reverted on chain") as caught:
                await wallet.transact(missing, on_signed=note, allowed_sim_errors=["subscriptionnotfound"])
        finally:
            poller.cancel()
        assert caught.value.tx_hash == signed[0]
        assert anvil.w3.eth.get_transaction(signed[0])["gas"] == MAX_GAS


async def test_a_chain_reset_voids_what_waits_and_the_nonce(anvil: Anvil, infernet_deployment: Deployment) -> None:
    async with client_on(anvil, infernet_deployment) as client:
        account = funded(anvil)
        wallet = wallet_of(client, account)
        transfer = Call(account.address, b"")
        first = await wallet.send(transfer, gas=21_000, on_signed=_noted)
        waiting = asyncio.ensure_future(wallet.wait(first))
        await asyncio.sleep(0)  # one step: the wait task now awaits the receipt

        wallet.forget_chain()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert wallet.waiting == 0

        # anvil mines on arrival, but its receipt may trail the send: while the first transaction is still in its
        # pool, anvil counts the pending nonce from the pool (1), not from the nonce set below.
        anvil.w3.eth.wait_for_transaction_receipt(first, timeout=30)
        anvil.rpc("anvil_setNonce", account.address, hex(7))  # the new chain knows the key at another nonce
        nonces: list[int] = []

        async def note(tx_hash: str, nonce: int) -> None:
            nonces.append(nonce)

        await wallet.send(transfer, gas=21_000, on_signed=note)
        assert nonces == [7]


async def test_an_overdue_receipt_gets_one_last_look_then_the_wallet_gives_up(
    anvil: Anvil, infernet_deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wallet_module, "RECEIPT_TIMEOUT", 0.3)
    account = funded(anvil)
    async with client_on(anvil, infernet_deployment) as client:
        wallet = wallet_of(client, account)
        # Mined at once, but the wallet is shown no block: its last look finds the receipt.
        mined = await wallet.send(Call(account.address, b""), gas=21_000, on_signed=_noted)
        receipt = await asyncio.wait_for(wallet.wait(mined), 10)
        assert (receipt.tx_hash, receipt.status, wallet.waiting) == (mined, 1, 0)
        # The same through `transact`, whose receipt's timer is armed when the batch is broadcast.
        receipt = await asyncio.wait_for(wallet.transact(Call(account.address, b""), on_signed=_noted), 10)
        assert (receipt.status, wallet.waiting) == (1, 0)

        # Waiting in the pool behind a nonce gap, never mined: the wallet gives up on it and frees its room.
        gap = {"to": account.address, "value": 0, "gas": 21_000, "gasPrice": 10**10, "chainId": client.chain_id}
        stuck = account.sign_transaction({**gap, "nonce": anvil.w3.eth.get_transaction_count(account.address) + 5})
        tx_hash = await client.request("eth_sendRawTransaction", ["0x" + bytes(stuck.raw_transaction).hex()])
        watching = asyncio.ensure_future(wallet.watch(tx_hash))

        async def watched() -> bool:
            return wallet.waiting == 1

        await wait_until_async(watched, timeout=10, what="the wallet to watch the stuck transaction")
        with pytest.raises(TimeoutError, match=f"no receipt for {tx_hash} after"):
            await asyncio.wait_for(watching, 10)
        assert wallet.waiting == 0


def test_signed_transactions_are_eth_accounts_byte_for_byte() -> None:
    """The wallet's own RLP and signing (a fraction of eth_account's CPU) give the same raw transaction."""
    rng = random.Random(15)
    account: LocalAccount = Account.create()
    client = ChainClient("http://127.0.0.1:1", ZERO_ADDRESS)  # never connected: signing reads only the chain id
    wallet = wallet_of(client, account)
    for chain_id in (1, 31337, 2**40):
        client.chain_id = chain_id
        for size in (0, 1, 55, 56, 300, 70_000):
            fees = {"maxPriorityFeePerGas": rng.choice((0, 1, 127, 128, 10**9)), "maxFeePerGas": rng.getrandbits(64)}
            tx = {"to": Account.create().address, "data": rng.randbytes(size), "value": 0, "chainId": chain_id}
            tx |= {"gas": rng.choice((21_000, 2**24)), "nonce": rng.choice((0, 1, 0x7F, 0x80, 2**20)), **fees}
            tx_hash, raw = wallet._sign(tx["to"], tx["data"], tx["gas"], tx["nonce"], fees)
            signed = account.sign_transaction(tx)
            assert (tx_hash, raw) == ("0x" + bytes(signed.hash).hex(), "0x" + bytes(signed.raw_transaction).hex())


async def test_queued_sends_leave_newest_first_and_a_refused_one_is_never_signed(
    anvil: Anvil, infernet_deployment: Deployment
) -> None:
    async with client_on(anvil, infernet_deployment) as client:
        account = funded(anvil)
        wallet = wallet_of(client, account)
        transfer = Call(account.address, b"")
        signed: dict[str, int] = {}  # name -> nonce
        cancelled = False

        def refuse(ahead: int) -> None:
            if cancelled:
                raise RuntimeError(f"cancelled meanwhile ({ahead} ahead)")

        def send(name: str, priority: int, guard: Callable[[int], None] | None = None) -> asyncio.Future[str]:
            async def note(tx_hash: str, nonce: int) -> None:
                signed[name] = nonce

            return asyncio.ensure_future(
                wallet.send(transfer, gas=21_000, on_signed=note, guard=guard, priority=priority)
            )

        with wallet.holding():  # the node is taking in a block: nothing leaves yet
            sends = [send("old", 1), send("new", 3), send("gone", 2, refuse), send("new too", 3)]
            await asyncio.sleep(0.05)
            assert not signed and not any(s.done() for s in sends)
            cancelled = True  # the block it takes in cancels the third's subscription
        with pytest.raises(RuntimeError, match="cancelled meanwhile"):
            await sends[2]
        await asyncio.gather(sends[0], sends[1], sends[3])
        # highest priority first, first come first among equals
        assert signed == {"new": 0, "new too": 1, "old": 2}
        assert anvil.w3.eth.get_transaction_count(account.address, "pending") == 3


async def test_no_more_are_out_than_the_chain_took_in_its_best_recent_blocks(
    anvil: Anvil, infernet_deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wallet_module, "MIN_DEPTH", 2)
    async with client_on(anvil, infernet_deployment) as client:
        account = funded(anvil)
        wallet = wallet_of(client, account)
        transfer = Call(account.address, b"")
        sends = [asyncio.ensure_future(wallet.send(transfer, gas=21_000, on_signed=_noted)) for _ in range(7)]
        first = await asyncio.gather(*sends[:2])
        assert (wallet.waiting, wallet.queued) == (2, 7)  # two out, five kept in the node
        # Both mined (anvil mines on arrival): the room they leave is filled, and a block that held two of
        # ours lets four be out at once.
        blocks = [await client.block(int(anvil.w3.eth.wait_for_transaction_receipt(h)["blockNumber"])) for h in first]
        await wallet.on_blocks(sorted(set(blocks), key=lambda block: block.number))
        assert wallet.depth == max(2, 2 * max(len(block.transactions & set(first)) for block in blocks))
        await asyncio.gather(*sends[2 : 2 + wallet.depth])
        assert wallet.waiting == min(5, wallet.depth)
        assert anvil.w3.eth.get_transaction_count(account.address, "pending") == 2 + min(5, wallet.depth)


async def _poll(wallet: NodeWallet) -> None:
    """Look receipts up the way the chain service does after falling behind."""
    while True:
        await wallet.poll_waiters()
        await asyncio.sleep(0.05)
