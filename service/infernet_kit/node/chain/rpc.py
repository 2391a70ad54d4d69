"""Every read and write the node makes on the chain, as JSON-RPC over one aiohttp session.

Calldata is encoded with eth-abi against fixed signatures (checked against the deployed ABIs at connect),
not through web3's contract layer: that layer costs milliseconds of CPU per call, which decides how fast a
node answers a burst of subscriptions. The session keeps its HTTP connections alive. Reads that would be one
call per subscription are batched.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector
from eth_abi.abi import decode, encode
from eth_utils.address import to_checksum_address
from pydantic_core import from_json, to_json

from infernet_kit.chain.artifacts import load_artifact
from infernet_kit.chain.encoding import (
    SUBSCRIPTION_ABI_TYPE,
    Signature,
    Subscription,
    checksum_address,
    decode_bytes,
    decode_revert,
    decode_uints,
    delegate_key,
    encode_flat,
    error_selectors,
    event_topic,
    function_signatures,
    node_responded_key,
    revert_data,
    selector,
)
from infernet_kit.node.metrics import RPC_ERRORS, RPC_SECONDS, count_rpc

BlockId = int | str
_Queued = tuple[str, list[Any], "asyncio.Future[Any]"]


# Coordinator and Reader functions the node uses (PROTOCOL.md section 1), by their canonical signatures.
_DELIVER = "deliverCompute(uint32,uint32,bytes,bytes,bytes,address)"
_DELIVER_DELEGATEE = (
    f"deliverComputeDelegatee(uint32,uint32,{SUBSCRIPTION_ABI_TYPE},uint8,bytes32,bytes32,uint32,"
    "bytes,bytes,bytes,address)"
)
_ID = "id()"
_NODE_RESPONDED = "nodeResponded(bytes32)"
_DELEGATE_CREATED = "delegateCreatedIds(bytes32)"
_READ_SUBSCRIPTIONS = "readSubscriptionBatch(uint32,uint32)"
_READ_REDUNDANCY = "readRedundancyCountBatch(uint32[],uint32[])"
# Consumers and Delegators are users' contracts: called by signature.
_GET_CONTAINER_INPUTS = "getContainerInputs(uint32,uint32,uint32,address)"
_GET_SIGNER = "getSigner()"
# The node's payment Wallet and a subscription's IVerifier (SDK v1.1 `payments/`).
_WALLET_ALLOWANCE = "allowance(address,address)"
_WALLET_APPROVE = "approve(address,address,uint256)"
_VERIFIER_SUPPORTS = "isSupportedToken(address)"
_VERIFIER_FEE = "fee(address)"

CREATED_TOPIC = event_topic("SubscriptionCreated(uint32)")
CANCELLED_TOPIC = event_topic("SubscriptionCancelled(uint32)")
FULFILLED_TOPIC = event_topic("SubscriptionFulfilled(uint32,address)")


@dataclass(frozen=True)
class SubscriptionLogs:
    """What a block range says of subscriptions: the ids cancelled, the request (tx hash, block) of each
    subscription created, and each delivery (subscription id, node address) in log order."""

    cancelled: set[int]
    created: dict[int, tuple[str, int]]
    fulfilled: list[tuple[int, str]]


# Larger JSON-RPC batches are split so one HTTP request stays small.
RPC_BATCH = 200
LOG_RANGE = 5_000


_JSON = {"content-type": "application/json"}

_LANE: ContextVar[str] = ContextVar("rpc_lane", default="work")


def use_lane(name: str) -> None:
    """Batch the current task's requests (and those of tasks it starts) apart from other lanes': the head
    follower's few cheap reads must not wait in one JSON-RPC batch behind hundreds of deliveries' simulations."""
    _LANE.set(name)


class RpcError(Exception):
    """The node's RPC answered with an error; `data` holds revert data when a call reverted."""

    def __init__(self, method: str, message: str, data: Any = None) -> None:
        self.method = method
        self.message = message
        self.data = data
        super().__init__(f"{method}: {message}")


@dataclass(frozen=True)
class Call:
    """A contract call: target and calldata."""

    to: str
    data: bytes

    def params(self, sender: str) -> dict[str, str]:
        return {"from": sender, "to": self.to, "data": "0x" + self.data.hex()}


@dataclass(frozen=True)
class Block:
    """The parts of a block the node works from: chain time and the transactions it holds."""

    number: int
    timestamp: int
    hash: str
    transactions: frozenset[str]
    base_fee: int | None
    gas_limit: int | None = None  # what one block can hold: with the gas of ours, how many of ours it can take


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    status: int
    block_number: int
    gas_used: int
    logs: tuple[dict[str, Any], ...]

    def created_subscription(self, coordinator: str) -> int | None:
        """The id in this transaction's `SubscriptionCreated` event, if the coordinator emitted one."""
        for log in self.logs:
            topics = log.get("topics") or []
            if topics and topics[0] == CREATED_TOPIC and str(log.get("address", "")).lower() == coordinator.lower():
                return int(topics[1], 16)
        return None


def _block(raw: dict[str, Any]) -> Block:
    base_fee = raw.get("baseFeePerGas")
    return Block(
        number=int(raw["number"], 16),
        timestamp=int(raw["timestamp"], 16),
        hash=str(raw["hash"]).lower(),
        transactions=frozenset(str(tx).lower() for tx in raw.get("transactions", [])),
        base_fee=int(base_fee, 16) if base_fee is not None else None,
        gas_limit=int(raw["gasLimit"], 16) if "gasLimit" in raw else None,
    )


def _receipt(raw: dict[str, Any]) -> Receipt:
    return Receipt(
        tx_hash=str(raw["transactionHash"]).lower(),
        status=int(raw.get("status", "0x0"), 16),
        block_number=int(raw["blockNumber"], 16),
        gas_used=int(raw["gasUsed"], 16),
        logs=tuple(raw.get("logs", [])),
    )


def _block_param(block: BlockId) -> str | dict[str, str]:
    """A number, a tag, or a block hash (EIP-1898): the listener pins its reads to the judged block's hash, so
    a reorg cannot mix two branches. (anvil, mining meanwhile, may still answer from a newer block; the
    listener checks for that where it matters.)"""
    if isinstance(block, int):
        return hex(block)
    if len(block) == 66 and block.startswith("0x"):
        return {"blockHash": block}
    return block


class ChainClient:
    """JSON-RPC over one aiohttp session with kept-alive connections, the core contracts found through the
    Registry."""

    def __init__(self, rpc_url: str, registry_address: str, *, timeout: float = 30.0) -> None:
        self._timeout = timeout
        self._url = rpc_url
        self._session: ClientSession | None = None
        self._closed = False
        self._ids = itertools.count(1)
        self.registry_address = to_checksum_address(registry_address)
        self.coordinator = ""
        self.reader = ""
        self.chain_id = 0
        self.genesis_hash = ""
        self.selectors: dict[bytes, str] = {}
        self._queued: dict[str, list[_Queued]] = {}
        self._sending: set[asyncio.Task[None]] = set()

    def _http(self) -> ClientSession:
        if self._closed:
            raise RuntimeError("the chain client is closed")
        if self._session is None:
            self._session = ClientSession(
                connector=TCPConnector(limit=64, keepalive_timeout=30),
                timeout=ClientTimeout(total=self._timeout),
                raise_for_status=True,
            )
        return self._session

    async def connect(self) -> None:
        """Find the coordinator and reader through the Registry; fail clearly if they are not what we speak."""
        await self.identify()
        coordinator_abi = load_artifact("EIP712Coordinator").abi
        _require_functions(coordinator_abi, "coordinator", [_DELIVER, _DELIVER_DELEGATEE, _ID, _NODE_RESPONDED])
        _require_functions(load_artifact("Reader").abi, "reader", [_READ_SUBSCRIPTIONS, _READ_REDUNDANCY])
        self.selectors = error_selectors(coordinator_abi)
        for reverting in ("CallbackConsumer", "SubscriptionConsumer", "Wallet"):
            # Consumer reverts (e.g. NotCoordinator) and the wallets' (InsufficientFunds when the node's wallet
            # cannot cover an escrow) surface through the coordinator's delivery.
            self.selectors.update(error_selectors(load_artifact(reverting).abi))

    async def identify(self) -> None:
        """Read which chain the RPC serves (chain id, genesis) and the contracts its Registry names; again after
        the chain was reset or replaced, since the new one may differ."""
        chain_id, genesis, code = await asyncio.gather(
            self.request("eth_chainId", []),
            self.block(0),
            self.request("eth_getCode", [self.registry_address, "latest"]),
        )
        self.chain_id, self.genesis_hash = int(chain_id, 16), genesis.hash
        if code in ("0x", "0x0", None):
            raise RuntimeError(f"no contract at registry_address {self.registry_address} on chain {self.chain_id}")
        self.coordinator = await self._address_from_registry("COORDINATOR()")
        self.reader = await self._address_from_registry("READER()")

    async def _address_from_registry(self, getter: str) -> str:
        (address,) = decode(["address"], await self.call(Call(self.registry_address, selector(getter))))
        return to_checksum_address(address)

    async def close(self) -> None:
        self._closed = True
        for task in self._sending:
            task.cancel()
        if self._session is not None:
            await self._session.close()

    # -- JSON-RPC ----------------------------------------------------------------------------------------

    async def request(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC request. Requests made in the same event-loop turn (a burst of deliveries all reading
        their inputs, say) leave together as one JSON-RPC batch: one HTTP round trip instead of hundreds."""
        return await self.submit(method, params)

    def submit(self, method: str, params: list[Any]) -> asyncio.Future[Any]:
        """`request`, as the future of its answer: many are awaited together without a task each."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        lane = _LANE.get()
        queued = self._queued.setdefault(lane, [])
        queued.append((method, params, waiter))
        if len(queued) == 1:
            loop.call_soon(self._flush, lane)
        return waiter

    async def batch(self, requests: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Several requests at once (they leave as one JSON-RPC batch); results in order."""
        return list(await asyncio.gather(*(self.submit(method, params) for method, params in requests)))

    def _flush(self, lane: str) -> None:
        queued = self._queued.pop(lane, [])
        for offset in range(0, len(queued), RPC_BATCH):
            task = asyncio.create_task(self._send(queued[offset : offset + RPC_BATCH]))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, queued: list[_Queued]) -> None:
        for method, count in Counter(method for method, _, _ in queued).items():
            count_rpc(method, count)
        started = time.perf_counter()
        try:
            responses = await self._post([(method, params) for method, params, _ in queued])
        except Exception as exc:
            RPC_ERRORS.inc()
            for _, _, waiter in queued:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        finally:
            RPC_SECONDS.observe(time.perf_counter() - started)
        for (method, _, waiter), response in zip(queued, responses, strict=True):
            if waiter.done():
                continue
            try:
                waiter.set_result(_result(method, response))
            except RpcError as exc:
                waiter.set_exception(exc)

    async def _post(self, requests: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """The answers to `requests`, in order: one request alone, several as one JSON-RPC batch. Plain aiohttp
        (web3's provider took a lock through a thread pool on every request: a few % of a busy node's CPU)."""
        body = [
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params} for method, params in requests
        ]
        data = to_json(body[0] if len(body) == 1 else body)  # the standard library's encoder is ~6x slower
        async with self._http().post(self._url, data=data, headers=_JSON) as response:
            answer = from_json(await response.read())
        if len(body) == 1 and isinstance(answer, dict):
            return [answer]
        if not isinstance(answer, list):
            raise RpcError("batch", str(answer.get("error") if isinstance(answer, dict) else answer))
        by_id = {item.get("id"): item for item in answer if isinstance(item, dict)}
        return [by_id.get(item["id"], {"error": {"message": "no answer in the batch"}}) for item in body]

    async def call(self, call: Call, block: BlockId = "latest") -> bytes:
        result = await self.request("eth_call", [{"to": call.to, "data": "0x" + call.data.hex()}, _block_param(block)])
        return bytes.fromhex(str(result).removeprefix("0x"))

    def revert_reason(self, data: Any) -> str:
        """A revert's custom-error name, from the shapes RPCs hand revert data over in."""
        return decode_revert(revert_data(data), self.selectors)

    # -- blocks and transactions -------------------------------------------------------------------------

    async def block(self, block: BlockId = "latest") -> Block:
        raw = await self.request("eth_getBlockByNumber", [_block_param(block), False])
        if raw is None:
            raise RpcError("eth_getBlockByNumber", f"no block {block}")
        return _block(raw)

    async def find_block(self, number: int) -> Block | None:
        """Block `number`, or None when the chain is not that long."""
        raw = await self.request("eth_getBlockByNumber", [hex(number), False])
        return None if raw is None else _block(raw)

    async def pending_timestamp(self) -> int:
        """The timestamp the next block will carry, as the chain reports it; latest's if it will not say."""
        try:
            return (await self.block("pending")).timestamp
        except (RpcError, KeyError, TypeError, ValueError):
            return (await self.block("latest")).timestamp

    async def nonce(self, address: str) -> int:
        return int(await self.request("eth_getTransactionCount", [address, "pending"]), 16)

    async def receipts(self, tx_hashes: Sequence[str]) -> list[Receipt | None]:
        raw = await self.batch([("eth_getTransactionReceipt", [h]) for h in tx_hashes])
        return [_receipt(r) if r else None for r in raw]

    async def block_receipts(self, block_hash: str) -> list[Receipt]:
        """Every receipt of one block, in one call."""
        raw = await self.request("eth_getBlockReceipts", [block_hash])
        if raw is None:
            raise RpcError("eth_getBlockReceipts", f"no block {block_hash}")
        return [_receipt(r) for r in raw]

    async def receipt(self, tx_hash: str) -> Receipt | None:
        [receipt] = await self.receipts([tx_hash])
        return receipt

    async def transaction_known(self, tx_hash: str) -> bool:
        """Whether the RPC still knows a transaction (mined or waiting in its pool)."""
        return await self.request("eth_getTransactionByHash", [tx_hash]) is not None

    # -- subscriptions -----------------------------------------------------------------------------------

    async def next_subscription_id(self, block: BlockId) -> int:
        """The coordinator's `id`: one past the newest subscription."""
        (value,) = decode(["uint32"], await self.call(Call(self.coordinator, selector(_ID)), block))
        return int(value)

    async def subscriptions(self, start: int, end: int, block: BlockId) -> list[Subscription]:
        """Subscriptions `start` to `end - 1`, in one Reader call."""
        data = selector(_READ_SUBSCRIPTIONS) + encode(["uint32", "uint32"], [start, end])
        (items,) = decode([f"{SUBSCRIPTION_ABI_TYPE}[]"], await self.call(Call(self.reader, data), block))
        return [Subscription.from_tuple(item) for item in items]

    async def redundancy_counts(self, pairs: Sequence[tuple[int, int]], block: BlockId) -> list[int]:
        """How many nodes answered each (subscription, interval), in one Reader call."""
        if not pairs:
            return []
        args = [[p[0] for p in pairs], [p[1] for p in pairs]]
        data = selector(_READ_REDUNDANCY) + encode_flat(["uint32[]", "uint32[]"], args)
        return decode_uints(await self.call(Call(self.reader, data), block), 16)

    async def node_responded(self, pairs: Sequence[tuple[int, int]], node: str, block: BlockId) -> list[bool]:
        """Whether `node` already answered each (subscription, interval), in JSON-RPC batches."""
        responded = selector(_NODE_RESPONDED)
        requests = [
            (
                "eth_call",
                [
                    {"to": self.coordinator, "data": "0x" + (responded + node_responded_key(s, i, node)).hex()},
                    _block_param(block),
                ],
            )
            for s, i in pairs
        ]
        return [int(str(r), 16) != 0 for r in await self.batch(requests)]

    async def subscription_logs(self, from_block: int, to_block: int) -> SubscriptionLogs:
        """The coordinator's `SubscriptionCancelled`, `SubscriptionCreated` and `SubscriptionFulfilled` logs in the
        block range, one query per `LOG_RANGE` blocks (RPCs cap log ranges; a node back from a long stop has many
        blocks)."""
        found = SubscriptionLogs(cancelled=set(), created={}, fulfilled=[])
        topics = [[CANCELLED_TOPIC, CREATED_TOPIC, FULFILLED_TOPIC]]
        for start in range(from_block, to_block + 1, LOG_RANGE):
            end = min(start + LOG_RANGE - 1, to_block)
            query = {"address": self.coordinator, "fromBlock": hex(start), "toBlock": hex(end)}
            for log in await self.request("eth_getLogs", [{**query, "topics": topics}]):
                topic, sub_id = log["topics"][0], int(log["topics"][1], 16)
                if topic == CANCELLED_TOPIC:
                    found.cancelled.add(sub_id)
                elif topic == CREATED_TOPIC:
                    found.created[sub_id] = (str(log["transactionHash"]), int(log["blockNumber"], 16))
                else:
                    found.fulfilled.append((sub_id, checksum_address("0x" + log["topics"][2][-40:])))
        return found

    async def container_inputs(
        self, owner: str, subscription_id: int, interval: int, timestamp: int, node: str, block: BlockId
    ) -> bytes:
        """The consumer's `getContainerInputs(subscriptionId, interval, timestamp, caller)`."""
        args = encode_flat(["uint32", "uint32", "uint32", "address"], [subscription_id, interval, timestamp, node])
        return decode_bytes(await self.call(Call(owner, selector(_GET_CONTAINER_INPUTS) + args), block))

    async def delegate_signer(self, owner: str) -> str | None:
        """`Delegator(owner).getSigner()`, or None when the owner has no such function."""
        try:
            (signer,) = decode(["address"], await self.call(Call(owner, selector(_GET_SIGNER))))
        except (RpcError, ValueError, TypeError, Exception):
            return None
        return to_checksum_address(signer)

    async def delegate_created_id(self, owner: str, nonce: int) -> int:
        """The id a delegated subscription `(owner, nonce)` already has on chain; 0 when none."""
        data = selector(_DELEGATE_CREATED) + delegate_key(owner, nonce)
        (value,) = decode(["uint32"], await self.call(Call(self.coordinator, data)))
        return int(value)

    # -- payment wallets and verifiers -------------------------------------------------------------------

    async def wallet_allowance(self, wallet: str, spender: str, token: str) -> int:
        """`Wallet(wallet).allowance(spender, token)`."""
        args = encode(["address", "address"], [spender, token])
        (value,) = decode(["uint256"], await self.call(Call(wallet, selector(_WALLET_ALLOWANCE) + args)))
        return int(value)

    def wallet_approve(self, wallet: str, spender: str, token: str, amount: int) -> Call:
        """`Wallet(wallet).approve(spender, token, amount)`: sent by the wallet's owner."""
        args = encode(["address", "address", "uint256"], [spender, token, amount])
        return Call(wallet, selector(_WALLET_APPROVE) + args)

    async def verifier_terms(self, verifier: str, token: str) -> tuple[bool, int]:
        """`IVerifier(verifier)`: whether it takes `token`, and its fee in it (0 when it does not take it)."""
        arg = encode(["address"], [token])
        (supported,) = decode(["bool"], await self.call(Call(verifier, selector(_VERIFIER_SUPPORTS) + arg)))
        if not supported:
            return False, 0
        (fee,) = decode(["uint256"], await self.call(Call(verifier, selector(_VERIFIER_FEE) + arg)))
        return True, int(fee)

    # -- deliveries --------------------------------------------------------------------------------------

    def deliver_compute(
        self, subscription_id: int, interval: int, inputs: bytes, output: bytes, proof: bytes, node_wallet: str
    ) -> Call:
        args = encode_flat(
            ["uint32", "uint32", "bytes", "bytes", "bytes", "address"],
            [subscription_id, interval, inputs, output, proof, node_wallet],
        )
        return Call(self.coordinator, selector(_DELIVER) + args)

    def deliver_compute_delegatee(
        self,
        sub: Subscription,
        signature: Signature,
        interval: int,
        inputs: bytes,
        output: bytes,
        proof: bytes,
        node_wallet: str,
    ) -> Call:
        types = ["uint32", "uint32", SUBSCRIPTION_ABI_TYPE, "uint8", "bytes32", "bytes32", "uint32"]
        types += ["bytes", "bytes", "bytes", "address"]
        args = encode(
            types,
            [
                signature.nonce,
                signature.expiry,
                sub.as_tuple(),
                signature.v,
                signature.r.to_bytes(32, "big"),
                signature.s.to_bytes(32, "big"),
                interval,
                inputs,
                output,
                proof,
                node_wallet,
            ],
        )
        return Call(self.coordinator, selector(_DELIVER_DELEGATEE) + args)


def _result(method: str, response: dict[str, Any]) -> Any:
    error = response.get("error")
    if error is not None:
        if isinstance(error, dict):
            raise RpcError(method, str(error.get("message", error)), error.get("data"))
        raise RpcError(method, str(error))
    return response.get("result")


def _require_functions(abi: list[dict[str, Any]], what: str, signatures: list[str]) -> None:
    """Fail at start, naming the function, if our fixed calldata would not match the deployed ABI."""
    present = function_signatures(abi)
    missing = [s for s in signatures if s not in present]
    if missing:
        raise RuntimeError(f"the {what} ABI lacks {', '.join(missing)}: incompatible contracts")
