"""Signed transactions for scripts, the CLI and deployment: send, wait, and name the revert if any.

The node has its own asynchronous sender (nonce management under concurrency); this one is for
one caller sending one transaction at a time.
"""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.middleware import SignAndSendRawMiddlewareBuilder
from web3.types import RPCEndpoint, TxParams, TxReceipt, Wei

from infernet_kit.chain.encoding import decode_revert, error_selectors, revert_data


class TransactionReverted(RuntimeError):
    """A transaction (or its simulation) reverted; `reason` is the custom error's name when known."""

    def __init__(self, reason: str, tx_hash: str | None = None) -> None:
        self.reason = reason
        self.tx_hash = tx_hash
        super().__init__(f"transaction reverted: {reason}" + (f" (tx {tx_hash})" if tx_hash else ""))


def rpc_provider(rpc_url: str, *, timeout: float = 30.0) -> HTTPProvider:
    """web3's HTTP provider for `rpc_url`, asking the chain's id once: web3 asks for it before each transaction
    it fills in and again to validate it, two of the five or so calls per contract deployed (~30 % of a
    deployment's CPU in py-spy). A chain keeps its id; a chain at that URL with another id is another provider's."""
    return Web3.HTTPProvider(
        rpc_url,
        request_kwargs={"timeout": timeout},
        cache_allowed_requests=True,
        cacheable_requests={RPCEndpoint("eth_chainId")},
    )


def connect(rpc_url: str, private_key: str | None = None, *, timeout: float = 30.0) -> Web3:
    """A Web3 for `rpc_url`; with a key, transactions are signed locally and sent from that account."""
    w3 = Web3(rpc_provider(rpc_url, timeout=timeout))
    return signing_as(w3, Account.from_key(private_key)) if private_key else w3


def signing_as(w3: Web3, account: LocalAccount) -> Web3:
    """A Web3 on `w3`'s provider whose transactions `account` signs locally and sends."""
    signer = Web3(w3.provider)
    signer.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(account), layer=0)
    signer.eth.default_account = account.address
    return signer


def send(call: ContractFunction | ContractConstructor, *, value: int = 0, gas: int | None = None) -> HexBytes:
    """Simulate `call` (a function call or a deployment) and send it without waiting for it to be mined; raise
    `TransactionReverted` naming the custom error. Sends from one account take consecutive nonces (web3 counts
    the pending ones), so several can go out before the first is mined."""
    selectors = error_selectors(call.contract_abi if isinstance(call, ContractFunction) else call.abi)
    params: TxParams = {"value": Wei(value)}
    try:
        if isinstance(call, ContractFunction):
            call.call(params)
        else:
            call.estimate_gas(params)
        if gas is not None:
            params["gas"] = gas
        return call.transact(params)
    except (ContractCustomError, ContractLogicError) as exc:
        raise TransactionReverted(decode_revert(revert_data(getattr(exc, "data", None)), selectors)) from None


def mined(w3: Web3, tx_hash: HexBytes) -> TxReceipt:
    """The receipt of a sent transaction once it is mined; `TransactionReverted` if it reverted on chain."""
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    if receipt["status"] != 1:
        raise TransactionReverted("reverted on chain", tx_hash.to_0x_hex())
    return receipt


def transact(call: ContractFunction | ContractConstructor, *, value: int = 0, gas: int | None = None) -> TxReceipt:
    """Simulate `call` (a function call or a deployment), send it, wait for the receipt; raise
    `TransactionReverted` naming the custom error."""
    return mined(call.w3, send(call, value=value, gas=gas))
