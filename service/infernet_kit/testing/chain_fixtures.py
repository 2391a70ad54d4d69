"""Fixtures for the chain part of the local stack: an anvil chain and the deployed contracts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infernet_kit.chain.accounts import DEPLOYER, dev_account
from infernet_kit.chain.deploy import Deployment, deploy
from infernet_kit.devstack.anvil import Anvil

__all__ = ["anvil", "infernet_deployment"]


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    """A fresh anvil chain (automining) for the test session."""
    chain = Anvil(log_path=tmp_path_factory.mktemp("anvil") / "anvil.log")
    with chain:
        yield chain


@pytest.fixture(scope="session")
def infernet_deployment(anvil: Anvil) -> Deployment:
    """The Infernet core and the example consumers, deployed from anvil account #2 as the reference does."""
    return deploy(anvil.w3, dev_account(DEPLOYER))
