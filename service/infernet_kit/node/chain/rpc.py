"""Every read the node makes from the chain, batched where the chain allows it (Reader, JSON-RPC batches)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_abi.abi import decode, encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import ContractLogicError, TransactionNotFound
from web3.providers import AsyncHTTPProvider
from web3.types import BlockIdentifier, TxReceipt

from infernet_kit.chain.artifacts import load_artifact
from infernet_kit.chain.encoding import (
    Subscription,
    decode_revert,
    delegate_key,
    error_selectors,
    node_responded_key,
    redundancy_key,
)

_CANCELLED_TOPIC = "0x" + keccak(text="SubscriptionCancelled(uint32)").hex()
# Consumers and Delegators are user contracts: call them by signature, not by one of our ABIs.
_GET_CONTAINER_INPUTS = keccak(text="getContainerInputs(uint32,uint32,uint32,address)")[:4]
_GET_SIGNER = keccak(text="getSigner()")[:4]
# Larger JSON-RPC batches are split so one HTTP request stays small.
_RPC_BATCH = 200


@dataclass(frozen=True)
class Block:
    """The parts of a block header the node works from: chain time and the transactions it holds."""

    number: int
    timestamp: int
    hash: str
    transactions: frozenset[str]
    base_fee: int | None


class ChainClient:
    """One AsyncWeb3 connection, the core contracts found through the Registry, and batched reads."""

    def __init__(self, rpc_url: str, registry_address: str, *, timeout: float = 30.0) -> None:
        self.w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self.registry_address = to_checksum_address(registry_address)
        self._coordinator: AsyncContract | None = None
        self._reader: AsyncContract | None = None
        self.chain_id = 0
        self.genesis_hash = ""
        self.selectors: dict[bytes, str] = {}

    async def connect(self) -> None:
        """Find the coordinator and reader through the Registry; fail clearly if nothing is deployed there."""
        self.chain_id = await self.w3.eth.chain_id
        genesis = await self.w3.eth.get_block(0)
        self.genesis_hash = _hex(genesis["hash"])
        if not await self.w3.eth.get_code(self.registry_address):
            raise RuntimeError(f"no contract at registry_address {self.registry_address} on chain {self.chain_id}")
        registry = self.w3.eth.contract(address=self.registry_address, abi=load_artifact("Registry").abi)
        coordinator_abi = load_artifact("EIP712Coordinator").abi
        self._coordinator = self.w3.eth.contract(
            address=await registry.functions.COORDINATOR().call(), abi=coordinator_abi
        )
        self._reader = self.w3.eth.contract(
            address=await registry.functions.READER().call(), abi=load_artifact("Reader").abi
        )
        self.selectors = error_selectors(coordinator_abi)

    async def close(self) -> None:
        await self.w3.provider.disconnect()

    @property
    def coordinator(self) -> AsyncContract:
        if self._coordinator is None:
            raise RuntimeError("chain client is not connected")
        return self._coordinator

    @property
    def reader(self) -> AsyncContract:
        if self._reader is None:
            raise RuntimeError("chain client is not connected")
        return self._reader

    def revert_reason(self, data: Any) -> str:
        """A revert's custom-error name, from any of the shapes web3 hands revert data over in."""
        if isinstance(data, dict):
            data = data.get("data")
        return decode_revert(data if isinstance(data, (str, bytes)) else None, self.selectors)

    # -- blocks ------------------------------------------------------------------------------------------

    async def block(self, identifier: BlockIdentifier = "latest") -> Block:
        raw = await self.w3.eth.get_block(identifier)
        return Block(
            number=int(raw["number"]),
            timestamp=int(raw["timestamp"]),
            hash=_hex(raw["hash"]),
            transactions=frozenset(_hex(tx) for tx in raw["transactions"]),
            base_fee=int(raw["baseFeePerGas"]) if raw.get("baseFeePerGas") is not None else None,
        )

    async def pending_timestamp(self) -> int:
        """The timestamp the next block will carry, as the chain itself reports it; latest's if unknown."""
        try:
            return int((await self.w3.eth.get_block("pending"))["timestamp"])
        except (ValueError, KeyError, TypeError):
            return (await self.block("latest")).timestamp

    # -- subscriptions -----------------------------------------------------------------------------------

    async def next_subscription_id(self, block: int) -> int:
        """The coordinator's `id`: one past the newest subscription."""
        return int(await self.coordinator.functions.id().call(block_identifier=block))

    async def subscriptions(self, start: int, end: int, block: int) -> list[Subscription]:
        """Subscriptions `start` to `end - 1`, in one Reader call."""
        raw = await self.reader.functions.readSubscriptionBatch(start, end).call(block_identifier=block)
        return [Subscription.from_tuple(item) for item in raw]

    async def redundancy_counts(self, pairs: Sequence[tuple[int, int]], block: int) -> list[int]:
        """How many nodes answered each (subscription, interval), in one Reader call."""
        if not pairs:
            return []
        ids = [p[0] for p in pairs]
        intervals = [p[1] for p in pairs]
        counts = await self.reader.functions.readRedundancyCountBatch(ids, intervals).call(block_identifier=block)
        return [int(c) for c in counts]

    async def node_responded(self, pairs: Sequence[tuple[int, int]], node: str, block: int) -> list[bool]:
        """Whether `node` already answered each (subscription, interval), in JSON-RPC batches."""
        results: list[bool] = []
        function = self.coordinator.functions.nodeResponded
        for offset in range(0, len(pairs), _RPC_BATCH):
            chunk = pairs[offset : offset + _RPC_BATCH]
            if len(chunk) == 1:
                sub_id, interval = chunk[0]
                key = node_responded_key(sub_id, interval, node)
                results.append(bool(await function(key).call(block_identifier=block)))
                continue
            async with self.w3.batch_requests() as batch:
                for sub_id, interval in chunk:
                    batch.add(function(node_responded_key(sub_id, interval, node)).call(block_identifier=block))
                answers = await batch.async_execute()
            results.extend(bool(answer) for answer in answers)
        return results

    async def cancelled(self, from_block: int, to_block: int) -> set[int]:
        """Ids of subscriptions cancelled in the block range (their `SubscriptionCancelled` logs)."""
        if from_block > to_block:
            return set()
        logs = await self.w3.eth.get_logs(
            {
                "address": self.coordinator.address,
                "fromBlock": from_block,
                "toBlock": to_block,
                "topics": [_CANCELLED_TOPIC],
            }
        )
        return {int.from_bytes(bytes(log["topics"][1]), "big") for log in logs}

    async def redundancy_count(self, subscription_id: int, interval: int) -> int:
        key = redundancy_key(subscription_id, interval)
        return int(await self.coordinator.functions.redundancyCount(key).call())

    # -- consumers and delegators ------------------------------------------------------------------------

    async def container_inputs(
        self, owner: str, subscription_id: int, interval: int, timestamp: int, node: str, block: BlockIdentifier
    ) -> bytes:
        """The consumer's `getContainerInputs(subscriptionId, interval, timestamp, caller)`."""
        data = _GET_CONTAINER_INPUTS + encode(
            ["uint32", "uint32", "uint32", "address"], [subscription_id, interval, timestamp, node]
        )
        raw = await self.w3.eth.call({"to": to_checksum_address(owner), "data": data}, block_identifier=block)
        (inputs,) = decode(["bytes"], raw)
        return bytes(inputs)

    async def delegate_signer(self, owner: str) -> str | None:
        """`Delegator(owner).getSigner()`, or None when the owner has no such function."""
        try:
            raw = await self.w3.eth.call({"to": to_checksum_address(owner), "data": _GET_SIGNER})
            (signer,) = decode(["address"], raw)
        except (ContractLogicError, ValueError, TypeError):
            return None
        return to_checksum_address(signer)

    async def delegate_created_id(self, owner: str, nonce: int) -> int:
        """The id a delegated subscription `(owner, nonce)` already has on chain; 0 when none."""
        key = delegate_key(owner, nonce)
        return int(await self.coordinator.functions.delegateCreatedIds(key).call())

    # -- transactions ------------------------------------------------------------------------------------

    async def receipt(self, tx_hash: str) -> TxReceipt | None:
        try:
            return await self.w3.eth.get_transaction_receipt(cast(Any, tx_hash))
        except TransactionNotFound:
            return None

    async def transaction_known(self, tx_hash: str) -> bool:
        """Whether the node's RPC still knows a transaction (mined or waiting in its pool)."""
        try:
            await self.w3.eth.get_transaction(cast(Any, tx_hash))
        except TransactionNotFound:
            return False
        return True


def _hex(value: Any) -> str:
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else "0x" + value.lower()
    return "0x" + bytes(value).hex()
