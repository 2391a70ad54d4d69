"""The payment wallet verbs (create-wallet, fund, approve, withdraw) against real contracts on anvil, and a
revert reported by its custom error's name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from infernet_kit.chain.accounts import dev_account
from infernet_kit.chain.encoding import ZERO_ADDRESS

from .conftest import (
    KitRunner,
)
from .test_cli_errors import assert_one_line_error

OWNER = dev_account(8)
STRANGER = dev_account(9)


def key(account: Any) -> str:
    return "0x" + bytes(account.key).hex()


@pytest.fixture(scope="module")
def deployments_dir(infernet_deployment: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = tmp_path_factory.mktemp("deployments")
    infernet_deployment.save(directory)
    return str(directory)


def test_wallet_lifecycle(kit: KitRunner, anvil: Any, infernet_deployment: Any, deployments_dir: str) -> None:
    w3: Web3 = anvil.w3
    rpc = ["--rpc-url", anvil.url]
    env = {"INFERNET_DEPLOYMENTS_DIR": deployments_dir}

    created = kit("create-wallet", *rpc, "--private-key", key(OWNER), env=env)
    assert created.returncode == 0, created.stderr
    assert key(OWNER)[2:] not in created.stdout + created.stderr
    match = re.search(r"Address: (0x[0-9a-fA-F]{40})\n\tOwner: (0x[0-9a-fA-F]{40})", created.stdout)
    assert match, created.stdout
    wallet, owner = match.groups()
    assert owner == OWNER.address
    factory = infernet_deployment.contract(w3, "WalletFactory")
    assert factory.functions.isValidWallet(wallet).call() is True

    funded = kit("fund", *rpc, "-pk", key(OWNER), "-w", wallet, "-a", "1 ether")
    assert funded.returncode == 0, funded.stderr
    assert w3.eth.get_balance(wallet) == 10**18

    consumer = infernet_deployment.consumers["TGICallbackConsumer"]
    approved = kit("approve", *rpc, "-pk", key(OWNER), "-w", wallet, "-s", consumer, "-a", "0.25 ether")
    assert approved.returncode == 0, approved.stderr
    contract = infernet_deployment.contract(w3, "Wallet", wallet)
    assert contract.functions.allowance(consumer, ZERO_ADDRESS).call() == 25 * 10**16

    before = w3.eth.get_balance(OWNER.address)
    withdrawn = kit("withdraw", *rpc, "-pk", key(OWNER), "-w", wallet, "-a", "0.5 ether")
    assert withdrawn.returncode == 0, withdrawn.stderr
    assert w3.eth.get_balance(wallet) == 5 * 10**17
    assert w3.eth.get_balance(OWNER.address) > before  # gas is far below 0.5 ether on anvil

    # Reverts name the custom error, and nothing changes.
    too_much = kit("withdraw", *rpc, "-pk", key(OWNER), "-w", wallet, "-a", "2 ether")
    assert_one_line_error(too_much, "transaction reverted", "InsufficientFunds")
    not_owner = kit("withdraw", *rpc, "-pk", key(STRANGER), "-w", wallet, "-a", "1 wei")
    assert_one_line_error(not_owner, "transaction reverted", "Unauthorized")
    assert key(STRANGER)[2:] not in not_owner.stderr
    assert w3.eth.get_balance(wallet) == 5 * 10**17


def test_create_wallet_without_a_deployment_says_so(kit: KitRunner, anvil: Any, tmp_path: Path) -> None:
    result = kit(
        "create-wallet", "--rpc-url", anvil.url, "-pk", key(OWNER), env={"INFERNET_DEPLOYMENTS_DIR": str(tmp_path)}
    )
    assert_one_line_error(result, "no deployment for chain 31337")
