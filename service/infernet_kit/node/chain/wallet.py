"""The node's one sending key: simulate, sign with a local nonce counter, broadcast, confirm.

Many deliveries go out at once from one key. One sender task hands out nonces: whatever was queued while
the previous batch was on its way is signed with consecutive nonces, recorded, and broadcast as one
JSON-RPC batch. After any refusal the counter is re-read from the chain, and a refused nonce below an
accepted one is used up by a transfer to self, so no later transaction waits behind a gap.
The mempool is kept shallow: no more of ours are out than the chain mined lately in `DEPTH_BLOCKS` blocks.
The rest wait in the node, highest priority (newest interval) first, where a cancellation or a closing
interval can still drop them: a transaction in the mempool can only be mined, and revert.
Receipts are found by scanning new blocks for our hashes, so waiting for hundreds of transactions costs
nothing per transaction per poll.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import coincurve
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr

from infernet_kit.chain.encoding import keccak256, rlp_item, rlp_list
from infernet_kit.node.chain.rpc import Block, Call, ChainClient, Receipt, RpcError

log = logging.getLogger(__name__)

# Room above the simulated gas for state that changes between simulation and inclusion.
GAS_MARGIN = 1.2
RECEIPT_TIMEOUT = 120.0
DYNAMIC_FEE_TX = b"\x02"  # EIP-2718 type of EIP-1559 transactions
_NONCE_ERRORS = ("nonce too low", "nonce too high", "already known", "replacement transaction underpriced")


class Reverted(Exception):
    """The chain refused a delivery; `reason` is the custom error's name (or revert string)."""

    def __init__(self, reason: str, *, tx_hash: str | None = None, block: int | None = None) -> None:
        self.reason = reason
        self.tx_hash = tx_hash
        self.block = block  # where it was mined, for one that reverted on chain
        super().__init__(reason if tx_hash is None else f"{reason} (tx {tx_hash})")


class SendFailed(Exception):
    """The RPC did not take a transaction (nothing was sent)."""


OnSigned = Callable[[str, int], Awaitable[None]]
# What makes calls take the same gas (a contract, its code path, calldata sizes): see `transact`.
Shape = tuple[object, ...]
# Called just before a transaction is signed with how many of ours are ahead of it; raising drops it unsent.
Guard = Callable[[int], None]
# One JSON-RPC batch of raw transactions at most.
MAX_SEND_BATCH = 200
# From this many of our transactions in one block on, its receipts are read in one call.
BLOCK_RECEIPTS_FROM = 3
# Ours out in the mempool at most: what the chain mined of ours in its best recent block (of `DEPTH_WINDOW`),
# times `DEPTH_BLOCKS`, and never fewer than `MIN_DEPTH` (a chain that took all we sent may take more).
DEPTH_BLOCKS = 2
DEPTH_WINDOW = 16
MIN_DEPTH = 256


@dataclass
class _Outgoing:
    call: Call
    gas: int
    on_signed: OnSigned
    # Its hash once broadcast (`send`), or, for `transact`, its receipt once mined: the same future is then the
    # receipt's waiter, so a delivery wakes once for both (no hash handed back to ask for the receipt with).
    waiter: asyncio.Future[Any]
    guard: Guard | None
    priority: int
    order: int  # first come first served among equal priorities
    mined: bool = False  # `waiter` is the receipt's

    def rank(self) -> tuple[int, int]:
        return -self.priority, self.order


class NodeWallet:
    """Signs and sends the node's transactions; `address` is the node's on-chain identity."""

    def __init__(self, client: ChainClient, private_key: SecretStr, *, max_gas_limit: int) -> None:
        self._client = client
        self._account: LocalAccount = Account.from_key(private_key.get_secret_value())
        self._signer = coincurve.PrivateKey(bytes(self._account.key))
        self.max_gas_limit = max_gas_limit
        self._nonce: int | None = None
        self._outbox: list[_Outgoing] = []
        self._sender: asyncio.Task[None] | None = None
        self._waiters: dict[str, asyncio.Future[Receipt]] = {}
        self._sent_at: dict[str, float] = {}  # local time each awaited transaction was broadcast
        self._base_fee: int | None = None
        self._tip: int | None = None
        self._known_gas: dict[Shape, int] = {}  # gas limit a simulation gave a call of each shape
        self._simulating: dict[Shape, asyncio.Future[None]] = {}  # shapes whose simulation is under way
        self._order = itertools.count()
        self._mined: deque[int] = deque(maxlen=DEPTH_WINDOW)  # ours mined in each recent block
        self._room = asyncio.Event()  # set when a send may have become possible
        self._held = 0
        self._looking: set[asyncio.Task[None]] = set()  # last looks for receipts overdue
        self._fields_key: tuple[int, int, int] | None = None  # chain id and fees whose RLP `_fields` holds
        self._fields = (b"", b"")
        self._timers: dict[str, asyncio.TimerHandle] = {}  # `RECEIPT_TIMEOUT` of each transaction `transact` sent

    @property
    def address(self) -> str:
        return str(self._account.address)

    def __repr__(self) -> str:
        return f"NodeWallet({self.address})"

    # -- simulation --------------------------------------------------------------------------------------

    async def simulate(self, call: Call) -> int:
        """Run `call` against the pending block; its gas estimate, or `Reverted` naming the error."""
        try:
            gas = await self._client.request("eth_estimateGas", [call.params(self.address), "pending"])
        except RpcError as exc:
            if exc.data is not None or "revert" in exc.message.lower():
                raise Reverted(self._client.revert_reason(exc.data) if exc.data else exc.message) from None
            raise
        return int(gas, 16)

    def gas_limit(self, estimate: int) -> int:
        """The estimate plus a margin, never above `max_gas_limit` (`Reverted` if the estimate already is)."""
        if estimate > self.max_gas_limit:
            raise Reverted(f"gas estimate {estimate} exceeds max_gas_limit {self.max_gas_limit}")
        return min(int(estimate * GAS_MARGIN) + 10_000, self.max_gas_limit)

    # -- sending -----------------------------------------------------------------------------------------

    async def send(
        self, call: Call, *, gas: int, on_signed: OnSigned, guard: Guard | None = None, priority: int = 0
    ) -> str:
        """Sign and broadcast `call`, returning its hash. `on_signed(tx_hash, nonce)` runs before the
        broadcast, so a crash after it leaves a record of a transaction that may exist, never of one that
        cannot. Sends queued while a batch is on its way leave together in the next batch, highest `priority`
        first, as the mempool's depth allows. `guard` is asked while it waits and last before signing, when
        the transaction's place in the queue is known (its exception is raised here instead)."""
        return str(await self._queue(call, gas, on_signed, guard, priority, mined=False))

    def _queue(
        self, call: Call, gas: int, on_signed: OnSigned, guard: Guard | None, priority: int, *, mined: bool
    ) -> asyncio.Future[Any]:
        """Queue `call` for the sender; the future of its hash, or of its receipt when `mined`."""
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._outbox.append(_Outgoing(call, gas, on_signed, waiter, guard, priority, next(self._order), mined))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._drain(), name="wallet-sender")
        return waiter

    @property
    def depth(self) -> int:
        """How many of ours may be out in the mempool at once."""
        return max(MIN_DEPTH, DEPTH_BLOCKS * max(self._mined, default=0))

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Nothing is signed inside: the node reads and takes in a new block (its receipts, cancellations and due
        intervals) before the room it made is filled, so the sends after it know of the cancellations."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            self._room.set()

    async def _drain(self) -> None:
        """The only place nonces are handed out: one batch at a time, in order, while there is room."""
        while self._outbox:
            room = min(self.depth - len(self._waiters), MAX_SEND_BATCH)
            if self._held or room <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            batch = self._take(room)
            try:
                await self._send_batch(batch)
            except Exception as exc:  # RPC down while preparing: nothing of this batch was broadcast
                self._nonce = None
                for item in batch:
                    if not item.waiter.done():
                        item.waiter.set_exception(SendFailed(_short(str(exc))))

    def _take(self, room: int) -> list[_Outgoing]:
        """Up to `room` items to send now, highest priority first. Every queued item's guard is asked, given
        the transactions of ours ahead of it: one it refuses is dropped, even if its turn is not now."""
        kept: list[_Outgoing] = []
        for item in sorted(self._outbox, key=_Outgoing.rank):
            if item.waiter.done():  # its sender gave up
                continue
            try:
                if item.guard is not None:
                    item.guard(self.waiting + len(kept))
            except Exception as exc:
                item.waiter.set_exception(exc)
                continue
            kept.append(item)
        batch, self._outbox = kept[:room], kept[room:]
        return batch

    async def _send_batch(self, batch: list[_Outgoing]) -> None:
        if not batch:
            return
        if self._nonce is None:
            self._nonce = await self._client.nonce(self.address)
        base, fees = self._nonce, await self._fees()
        signed = [self._sign(item.call.to, item.call.data, item.gas, base + i, fees) for i, item in enumerate(batch)]
        pairs = list(zip(batch, signed, strict=True))
        await asyncio.gather(*(item.on_signed(tx_hash, base + i) for i, (item, (tx_hash, _)) in enumerate(pairs)))
        loop = asyncio.get_running_loop()
        for item, (tx_hash, _) in pairs:
            self._waiters[tx_hash] = item.waiter if item.mined else loop.create_future()
        results = await asyncio.gather(
            *(self._client.submit("eth_sendRawTransaction", [raw]) for _, raw in signed), return_exceptions=True
        )
        sent_at = time.time()
        accepted = [base + i for i, result in enumerate(results) if not isinstance(result, BaseException)]
        self._nonce = base + len(batch) if len(accepted) == len(batch) else None  # resync after any refusal
        for i, (item, (tx_hash, _), result) in enumerate(zip(batch, signed, results, strict=True)):
            if not isinstance(result, BaseException):
                self._sent_at[tx_hash] = sent_at
                if not item.mined:
                    item.waiter.set_result(tx_hash)
                elif not item.waiter.done():
                    self._timers[tx_hash] = loop.call_later(RECEIPT_TIMEOUT, self._overdue, tx_hash, item.waiter)
                continue
            self._waiters.pop(tx_hash, None)
            message = _short(str(result))
            log.warning("transaction with nonce %d refused: %s", base + i, message)
            if accepted and base + i < max(accepted) and not any(m in message.lower() for m in _NONCE_ERRORS):
                await self._fill_gap(base + i, fees)
            if not item.waiter.done():  # (its caller gave up meanwhile)
                item.waiter.set_exception(SendFailed(message))

    async def _fill_gap(self, nonce: int, fees: dict[str, int]) -> None:
        """Use up a refused nonce with a transfer to self, so the later transactions of its batch can be mined."""
        tx_hash, raw = self._sign(self.address, b"", 21_000, nonce, fees)
        try:
            await self._client.request("eth_sendRawTransaction", [raw])
            log.info("filled nonce gap %d with tx=%s", nonce, tx_hash)
        except RpcError as exc:
            log.error("could not fill nonce gap %d: %s", nonce, _short(str(exc)))

    def _sign(self, to: str, data: bytes, gas: int, nonce: int, fees: dict[str, int]) -> tuple[str, str]:
        """Hash and raw bytes of a signed transaction. EIP-1559 ones are encoded here (eth_account's general
        path costs milliseconds of CPU per transaction, which bounds how many deliveries a node can send)."""
        if "maxFeePerGas" in fees:
            chain, fee_fields = self._same_fields(fees["maxPriorityFeePerGas"], fees["maxFeePerGas"])
            # chain id, nonce, tip, fee cap, gas, to, value 0, data, no access list
            fields = (chain, rlp_item(nonce), fee_fields, rlp_item(gas), _rlp_address(to), b"\x80", rlp_item(data))
            body = b"".join(fields) + b"\xc0"
            signature = self._signer.sign_recoverable(keccak256(DYNAMIC_FEE_TX + rlp_list(body)), hasher=None)
            # y parity, r and s as RLP integers: big-endian without leading zeros
            r, s = signature[:32].lstrip(b"\0"), signature[32:64].lstrip(b"\0")
            raw = DYNAMIC_FEE_TX + rlp_list(body + rlp_item(signature[64]) + rlp_item(r) + rlp_item(s))
            return "0x" + keccak256(raw).hex(), "0x" + raw.hex()
        tx: dict[str, Any] = {
            "to": to,
            "data": data,
            "gas": gas,
            "nonce": nonce,
            "value": 0,
            "chainId": self._client.chain_id,
            **fees,
        }
        signed = self._account.sign_transaction(tx)
        return "0x" + bytes(signed.hash).hex(), "0x" + bytes(signed.raw_transaction).hex()

    def _same_fields(self, tip: int, fee_cap: int) -> tuple[bytes, bytes]:
        """The RLP of the chain id, and of the two fees, which every transaction of a batch shares: made once."""
        key = (self._client.chain_id, tip, fee_cap)
        if self._fields_key != key:
            self._fields_key, self._fields = key, (rlp_item(key[0]), rlp_item(tip) + rlp_item(fee_cap))
        return self._fields

    async def _fees(self) -> dict[str, int]:
        if self._tip is None:
            try:
                self._tip = int(await self._client.request("eth_maxPriorityFeePerGas", []), 16)
            except RpcError:
                self._tip = 0
        if self._base_fee is None:
            self._base_fee = (await self._client.block("latest")).base_fee
        if self._base_fee is None:
            return {"gasPrice": int(await self._client.request("eth_gasPrice", []), 16)}
        return {"maxFeePerGas": 2 * self._base_fee + self._tip, "maxPriorityFeePerGas": self._tip}

    async def transact(
        self,
        call: Call,
        *,
        on_signed: OnSigned,
        allowed_sim_errors: Sequence[str] = (),
        guard: Guard | None = None,
        shape: Shape | None = None,
        priority: int = 0,
    ) -> Receipt:
        """Simulate, send and confirm `call`. A simulated revert raises `Reverted` and sends nothing, unless
        its reason contains one of `allowed_sim_errors` (then it is sent with the full gas cap). `guard` and
        `priority`: as for `send`. `shape`: calls of one shape (same contract code path, same calldata sizes)
        take the same gas; once one was simulated, the next is sent with that limit and no simulation (those
        arriving while it is simulated wait for it), and a revert on chain makes the next of its shape simulate
        again."""
        gas = await self._known(shape)
        if gas is None:
            simulating = self._start_simulating(shape)
            try:
                gas = self.gas_limit(await self.simulate(call))
            except Reverted as exc:
                if not any(allowed.lower() in exc.reason.lower() for allowed in allowed_sim_errors):
                    raise
                log.info("simulation reverted with allowed error %s; sending anyway", exc.reason)
                gas = self.max_gas_limit
            else:
                if shape is not None:
                    self._known_gas[shape] = max(gas, self._known_gas.get(shape, 0))
            finally:
                if simulating is not None and shape is not None:
                    self._simulating.pop(shape, None)
                    simulating.set_result(None)
        receipt: Receipt = await self._queue(call, gas, on_signed, guard, priority, mined=True)
        if shape is not None and receipt.status != 1:
            self._known_gas.pop(shape, None)
        if receipt.status != 1:
            raise Reverted("reverted on chain", tx_hash=receipt.tx_hash, block=receipt.block_number)
        return receipt

    async def _known(self, shape: Shape | None) -> int | None:
        """The gas limit a call of `shape` goes out with unsimulated, once the simulation of one of its shape
        under way (if any) is over; None: simulate it."""
        if shape is None:
            return None
        if (simulating := self._simulating.get(shape)) is not None:
            await asyncio.shield(simulating)
        return self._known_gas.get(shape)

    def _start_simulating(self, shape: Shape | None) -> asyncio.Future[None] | None:
        """Mark `shape` as being simulated, unless it is None or already is: the future the others wait on."""
        if shape is None or shape in self._simulating:
            return None
        self._simulating[shape] = asyncio.get_running_loop().create_future()
        return self._simulating[shape]

    # -- receipts ----------------------------------------------------------------------------------------

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def queued(self) -> int:
        """Ours sent and waiting for a block, or waiting to be sent."""
        return len(self._waiters) + len(self._outbox)

    def left_behind(self, since: float) -> int:
        """How many of ours broadcast before `since` (local time) still wait for a block."""
        self._sent_at = {tx: at for tx, at in self._sent_at.items() if tx in self._waiters}
        return sum(1 for at in self._sent_at.values() if at < since)

    async def on_blocks(self, blocks: list[Block]) -> int:
        """Resolve the waiters of our transactions mined in `blocks` (new blocks, oldest first); how many. A
        block holding several of ours is read with one `eth_getBlockReceipts`, not a call per transaction."""
        if blocks and blocks[-1].base_fee is not None:
            self._base_fee = blocks[-1].base_fee
        singles: list[str] = []
        receipts: list[Receipt | None] = []
        for block in blocks:
            ours = block.transactions & self._waiters.keys()
            self._mined.append(len(ours))
            if len(ours) >= BLOCK_RECEIPTS_FROM:
                try:
                    receipts += [r for r in await self._client.block_receipts(block.hash) if r.tx_hash in ours]
                    continue
                except RpcError:
                    pass  # an RPC without eth_getBlockReceipts: one by one
            singles += ours
        if singles:
            receipts += await self._client.receipts(singles)
        return self._settle(receipts)

    async def poll_waiters(self) -> int:
        """Look every awaited receipt up directly (after falling far behind the head); how many were mined."""
        return await self._resolve(list(self._waiters)) if self._waiters else 0

    async def _resolve(self, tx_hashes: list[str]) -> int:
        return self._settle(await self._client.receipts(tx_hashes))

    def _settle(self, receipts: Sequence[Receipt | None]) -> int:
        settled = 0
        for receipt in receipts:
            waiter = None if receipt is None else self._waiters.pop(receipt.tx_hash, None)
            if receipt is None or waiter is None:
                continue
            if (timer := self._timers.pop(receipt.tx_hash, None)) is not None:
                timer.cancel()
            settled += 1
            if not waiter.done():
                waiter.set_result(receipt)
        if settled:
            self._room.set()
        return settled

    async def wait(self, tx_hash: str) -> Receipt:
        """The receipt of a transaction sent (or `watch`ed) by this wallet."""
        waiter = self._waiters.get(tx_hash)
        if waiter is None or waiter.cancelled():  # (cancelled: its first caller was)
            receipt = await self._client.receipt(tx_hash)
            if receipt is None:
                raise TimeoutError(f"transaction {tx_hash} is not being watched and has no receipt")
            return receipt
        # A timer, not `wait_for(shield(...))` (a future, a task cancellation and callbacks more per delivery). A
        # caller cancelled meanwhile cancels the waiter, which still counts as ours out until its block is seen.
        timer = asyncio.get_running_loop().call_later(RECEIPT_TIMEOUT, self._overdue, tx_hash, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()

    def _overdue(self, tx_hash: str, waiter: asyncio.Future[Receipt]) -> None:
        self._timers.pop(tx_hash, None)
        task = asyncio.create_task(self._last_look(tx_hash, waiter))
        self._looking.add(task)
        task.add_done_callback(self._looking.discard)

    async def _last_look(self, tx_hash: str, waiter: asyncio.Future[Receipt]) -> None:
        """No receipt within `RECEIPT_TIMEOUT`: one direct look in case a block scan missed it, then the wallet
        gives up on the transaction (its waiter raises `TimeoutError`)."""
        try:
            await self._resolve([tx_hash])
        except Exception as exc:  # the RPC is away: the wallet gives up all the same
            log.warning("last look for the receipt of tx=%s failed: %s", tx_hash, _short(str(exc)))
        if waiter.done():
            return
        self._waiters.pop(tx_hash, None)
        self._room.set()
        self._nonce = None
        waiter.set_exception(TimeoutError(f"no receipt for {tx_hash} after {RECEIPT_TIMEOUT:.0f}s"))

    async def watch(self, tx_hash: str) -> Receipt | None:
        """Follow a transaction sent before a restart: its receipt, or None if the chain never got it."""
        receipt = await self._client.receipt(tx_hash)
        if receipt is not None:
            return receipt
        if not await self._client.transaction_known(tx_hash):
            return None
        self._waiters.setdefault(tx_hash, asyncio.get_running_loop().create_future())
        return await self.wait(tx_hash)

    def cancel_waiters(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
        for waiter in self._waiters.values():
            waiter.cancel()
        self._waiters.clear()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._room.set()

    def forget_chain(self) -> None:
        """The chain was reset or replaced: its nonce, fees, queued sends and awaited receipts are void."""
        self.cancel_waiters()
        for item in self._outbox:
            item.waiter.cancel()
        self._outbox.clear()
        self._sender = None  # cancelled: the next send starts a new one
        self._nonce = self._base_fee = self._tip = None
        self._known_gas.clear()
        self._mined.clear()


@functools.lru_cache(maxsize=256)
def _rlp_address(address: str) -> bytes:
    """An address's RLP: the node sends to the coordinator nearly always."""
    return rlp_item(bytes.fromhex(address.removeprefix("0x")))


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[:limit] + "…"
