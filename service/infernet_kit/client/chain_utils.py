"""`Subscription` and `RPC` in the form the seeds use (`from …client.chain_utils import Subscription, RPC`).

The on-chain struct, its EIP-712 message and the signing live in `infernet_kit.chain.encoding`; this
module only adapts the seeds' user-facing shapes (container names instead of the container id hash).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import httpx
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.types import TxParams, TxReceipt

from infernet_kit.chain import encoding
from infernet_kit.client.errors import RpcUnreachableError
from infernet_kit.tls import tls_context

T = TypeVar("T")


@dataclass(frozen=True)
class Subscription:
    """A subscription as a user writes it: `containers` are names, hashed into the on-chain `containerId`."""

    owner: str
    active_at: int
    period: int
    frequency: int
    redundancy: int
    containers: Sequence[str]
    lazy: bool = False
    verifier: str = encoding.ZERO_ADDRESS
    payment_amount: int = 0
    payment_token: str = encoding.ZERO_ADDRESS
    wallet: str = encoding.ZERO_ADDRESS
    _struct: encoding.Subscription = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.containers, str) or not self.containers:
            raise ValueError("containers must be a non-empty list of container ids")
        # Validates addresses and integer ranges once, at construction.
        struct = encoding.Subscription(
            owner=self.owner,
            active_at=self.active_at,
            period=self.period,
            frequency=self.frequency,
            redundancy=self.redundancy,
            container_id=encoding.container_id(list(self.containers)),
            lazy=self.lazy,
            verifier=self.verifier,
            payment_amount=self.payment_amount,
            payment_token=self.payment_token,
            wallet=self.wallet,
        )
        object.__setattr__(self, "_struct", struct)

    @property
    def struct(self) -> encoding.Subscription:
        """The on-chain struct (what the coordinator stores and the signature covers)."""
        return self._struct

    @property
    def containers_hash(self) -> str:
        return "0x" + self._struct.container_id.hex()

    @property
    def serialized(self) -> dict[str, Any]:
        """The `subscription` object of the node's delegated-job body (PROTOCOL.md section 3)."""
        sub = self._struct
        return {
            "owner": sub.owner,
            "active_at": sub.active_at,
            "period": sub.period,
            "frequency": sub.frequency,
            "redundancy": sub.redundancy,
            "containers": self.containers_hash,
            "lazy": sub.lazy,
            "verifier": sub.verifier,
            "payment_amount": sub.payment_amount,
            "payment_token": sub.payment_token,
            "wallet": sub.wallet,
        }

    def typed_data(self, nonce: int, expiry: int, chain_id: int, coordinator: str) -> dict[str, Any]:
        """The EIP-712 `DelegateSubscription` message for this subscription."""
        return encoding.delegate_typed_data(
            self._struct, nonce=nonce, expiry=expiry, chain_id=chain_id, coordinator=coordinator
        )

    def get_delegate_subscription_typed_data(
        self, nonce: int, expiry: int, chain_id: int, verifying_contract: str
    ) -> SignableMessage:
        """The signable message, as the official client names it."""
        return encode_typed_data(full_message=self.typed_data(nonce, expiry, chain_id, verifying_contract))

    def sign(self, *, nonce: int, expiry: int, chain_id: int, coordinator: str, private_key: str) -> encoding.Signature:
        return encoding.sign_delegate_subscription(
            self._struct,
            nonce=nonce,
            expiry=expiry,
            chain_id=chain_id,
            coordinator=coordinator,
            private_key=private_key,
        )


class RPC:
    """A thin async JSON-RPC wrapper: `RPC(url)`, then `await rpc.get_chain_id()` and friends."""

    def __init__(self, rpc_url: str, *, timeout: float = 60.0) -> None:
        self.url = rpc_url
        self.timeout = timeout
        self._web3: AsyncWeb3[Any] | None = None
        self._account: LocalAccount | None = None
        self._chain_id: int | None = None

    @property
    def web3(self) -> AsyncWeb3[Any]:
        """The async web3 (created on first use; its HTTP session lives until `aclose`)."""
        if self._web3 is None:
            self._web3 = AsyncWeb3(AsyncHTTPProvider(self.url, request_kwargs={"timeout": self.timeout}))
            if self._account is not None:
                self.web3.eth.default_account = self._account.address
        return self._web3

    async def aclose(self) -> None:
        if self._web3 is not None:
            await self._web3.provider.disconnect()
            self._web3 = None

    async def __aenter__(self) -> RPC:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def account(self) -> LocalAccount:
        if self._account is None:
            raise ValueError("RPC has no account: call initialize_with_private_key first")
        return self._account

    async def initialize_with_private_key(self, private_key: str) -> RPC:
        """Sign and send transactions from the key's account (the key stays in memory only)."""
        self._account = Account.from_key(private_key)
        if self._web3 is not None:
            self.web3.eth.default_account = self._account.address
        return self

    @staticmethod
    def get_checksum_address(address: str) -> str:
        return to_checksum_address(address)

    def get_contract(self, address: str, abi: list[dict[str, Any]]) -> Any:
        return self.web3.eth.contract(address=to_checksum_address(address), abi=abi)

    async def get_chain_id(self) -> int:
        """The chain id (asked once, with a one-off request: signing needs nothing else, and a caller that
        never closes this RPC leaves no session behind); `RpcUnreachableError` names the URL on failure."""
        if self._chain_id is None:
            body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
            try:
                async with httpx.AsyncClient(timeout=self.timeout, verify=tls_context()) as http:
                    response = await http.post(self.url, json=body)
                response.raise_for_status()
                self._chain_id = int(response.json()["result"], 16)
            except httpx.TransportError as exc:
                raise RpcUnreachableError(self.url, str(exc) or type(exc).__name__) from None
            except (httpx.HTTPStatusError, ValueError, KeyError, TypeError) as exc:
                raise RpcUnreachableError(self.url, f"no chain id in the answer ({exc})") from None
        return self._chain_id

    async def reachable(self, call: Awaitable[T]) -> T:
        """Await a JSON-RPC call, turning transport failures into `RpcUnreachableError`."""
        try:
            return await call
        except (OSError, TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise RpcUnreachableError(self.url, str(exc) or type(exc).__name__) from None

    async def get_balance(self, address: str) -> int:
        return int(await self.reachable(self.web3.eth.get_balance(to_checksum_address(address))))

    async def get_nonce(self, address: str) -> int:
        return int(await self.reachable(self.web3.eth.get_transaction_count(to_checksum_address(address))))

    async def send_transaction(self, tx: TxParams) -> bytes:
        """Fill in nonce, gas and chain id, sign with the account, send; returns the hash."""
        account = self.account
        filled: dict[str, Any] = {"from": account.address, **tx}
        filled.setdefault("nonce", await self.get_nonce(account.address))
        filled.setdefault("chainId", await self.get_chain_id())
        if "gas" not in filled:
            filled["gas"] = await self.web3.eth.estimate_gas(filled)  # type: ignore[arg-type]
        if "gasPrice" not in filled and "maxFeePerGas" not in filled:
            filled["gasPrice"] = await self.web3.eth.gas_price
        signed = account.sign_transaction(filled)
        return bytes(await self.web3.eth.send_raw_transaction(signed.raw_transaction))

    async def get_tx_receipt(self, tx_hash: bytes, timeout: float = 120.0) -> TxReceipt:  # noqa: ASYNC109
        return await self.web3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)  # type: ignore[arg-type]
