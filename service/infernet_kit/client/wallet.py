"""Payment wallet operations of the CLI: create a wallet, approve a spender, fund it, withdraw from it.

Synchronous on purpose: each is one transaction from one key, sent through `chain.transactions`,
which simulates first and names the custom error of a revert.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from eth_utils.address import to_checksum_address
from pydantic import BaseModel
from web3 import Web3
from web3.logs import DISCARD

from infernet_kit.chain.artifacts import load_artifact
from infernet_kit.chain.encoding import ZERO_ADDRESS
from infernet_kit.chain.transactions import TransactionReverted, connect, transact
from infernet_kit.chain.watch import CallbackTimeout
from infernet_kit.client.errors import RpcUnreachableError
from infernet_kit.polling import WaitTimeout

# The one ERC-20 function the CLI calls on an arbitrary token (`fund --token`).
ERC20_TRANSFER_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "transfer",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    }
]
UNITS = {"wei": 0, "kwei": 3, "mwei": 6, "gwei": 9, "szabo": 12, "finney": 15, "ether": 18}


class WalletReceipt(BaseModel):
    """What a wallet command did: the transaction and, for `create-wallet`, the new wallet."""

    tx_hash: str
    wallet: str | None = None
    owner: str | None = None


def parse_amount(amount: str) -> int:
    """`100` (wei) or a number and a unit: `1 ether`, `0.5 gwei`."""
    parts = amount.split()
    if len(parts) not in (1, 2):
        raise ValueError(f"amount {amount!r} must be a number, optionally followed by a unit")
    unit = parts[1].lower() if len(parts) == 2 else "wei"
    if unit not in UNITS:
        raise ValueError(f"unknown unit {parts[1]!r} in amount (use one of {', '.join(UNITS)})")
    try:
        wei = Decimal(parts[0]).scaleb(UNITS[unit])
    except InvalidOperation:
        raise ValueError(f"amount {amount!r} is not a number") from None
    if not wei.is_finite() or wei < 0 or wei != wei.to_integral_value():
        raise ValueError(f"amount {amount!r} is not a whole, non-negative number of wei")
    return int(wei)


@contextmanager
def reachable(rpc_url: str) -> Iterator[None]:
    """Turn a transport failure of the JSON-RPC endpoint into `RpcUnreachableError` (a wait for a delivery that
    ran out of time is not one: the chain answered, no node delivered)."""
    try:
        yield
    except (TransactionReverted, WaitTimeout, CallbackTimeout):
        raise
    except (OSError, TimeoutError) as exc:
        raise RpcUnreachableError(rpc_url, type(exc).__name__) from None


def _w3(rpc_url: str, private_key: str) -> Web3:
    return connect(rpc_url, private_key)


def create_wallet(rpc_url: str, private_key: str, factory: str, owner: str | None = None) -> WalletReceipt:
    """`WalletFactory.createWallet(owner)`; the owner defaults to the key's account."""
    with reachable(rpc_url):
        w3 = _w3(rpc_url, private_key)
        contract = w3.eth.contract(address=to_checksum_address(factory), abi=load_artifact("WalletFactory").abi)
        wallet_owner = to_checksum_address(owner) if owner else str(w3.eth.default_account)
        receipt = transact(contract.functions.createWallet(wallet_owner))
        events = contract.events.WalletCreated().process_receipt(receipt, errors=DISCARD)
        if not events:
            raise TransactionReverted(
                "createWallet emitted no WalletCreated event", receipt["transactionHash"].to_0x_hex()
            )
        return WalletReceipt(
            tx_hash=receipt["transactionHash"].to_0x_hex(),
            wallet=str(events[0]["args"]["wallet"]),
            owner=str(events[0]["args"]["owner"]),
        )


def approve(rpc_url: str, private_key: str, wallet: str, spender: str, token: str, amount: int) -> WalletReceipt:
    """`Wallet.approve(spender, token, amount)`: let `spender` (a consumer) pay from the wallet."""
    with reachable(rpc_url):
        w3 = _w3(rpc_url, private_key)
        contract = w3.eth.contract(address=to_checksum_address(wallet), abi=load_artifact("Wallet").abi)
        call = contract.functions.approve(to_checksum_address(spender), to_checksum_address(token), amount)
        return WalletReceipt(tx_hash=transact(call)["transactionHash"].to_0x_hex())


def fund(rpc_url: str, private_key: str, wallet: str, token: str, amount: int) -> WalletReceipt:
    """Send ETH (token = zero address) or ERC-20 tokens to the wallet."""
    with reachable(rpc_url):
        w3 = _w3(rpc_url, private_key)
        target = to_checksum_address(wallet)
        if int(token, 16) == 0:
            tx_hash = w3.eth.send_transaction({"to": target, "value": amount})  # type: ignore[typeddict-item]
            receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
            if receipt["status"] != 1:
                raise TransactionReverted("ETH transfer reverted", tx_hash.to_0x_hex())
            return WalletReceipt(tx_hash=tx_hash.to_0x_hex())
        erc20 = w3.eth.contract(address=to_checksum_address(token), abi=ERC20_TRANSFER_ABI)
        return WalletReceipt(tx_hash=transact(erc20.functions.transfer(target, amount))["transactionHash"].to_0x_hex())


def withdraw(rpc_url: str, private_key: str, wallet: str, token: str, amount: int) -> WalletReceipt:
    """`Wallet.withdraw(token, amount)`: the owner takes back unlocked funds."""
    with reachable(rpc_url):
        w3 = _w3(rpc_url, private_key)
        contract = w3.eth.contract(address=to_checksum_address(wallet), abi=load_artifact("Wallet").abi)
        call = contract.functions.withdraw(to_checksum_address(token), amount)
        return WalletReceipt(tx_hash=transact(call)["transactionHash"].to_0x_hex())


__all__ = ["ZERO_ADDRESS", "WalletReceipt", "approve", "create_wallet", "fund", "parse_amount", "withdraw"]
