"""The well-known development accounts of anvil's default mnemonic, and the roles the kit gives them."""

from __future__ import annotations

from functools import cache

from eth_account import Account
from eth_account.signers.local import LocalAccount

DEV_MNEMONIC = "test test test test test test test test test test test junk"

# Roles, by account index. The deployer is #2 because the reference local deployment is made from it,
# and example consumers hard-code the Registry address that this yields.
DEPLOYER = 2
USER = 0
NODE_OPERATORS = (3, 4, 5)


@cache
def dev_account(index: int) -> LocalAccount:
    """Account `index` of the development mnemonic (never use these keys on a real network)."""
    Account.enable_unaudited_hdwallet_features()
    account: LocalAccount = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return account


def dev_key(index: int) -> str:
    """The 0x-hex private key of development account `index`, as configs and `connect` take it."""
    return "0x" + bytes(dev_account(index).key).hex()
