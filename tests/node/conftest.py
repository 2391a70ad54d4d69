"""Fixtures of the node's chain tests: the dev user, its view of the coordinator, and both services as containers."""

from __future__ import annotations

from typing import Any

import pytest
from web3 import Web3
from web3.contract import Contract

from infernet_kit.chain.accounts import USER, dev_account
from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.transactions import connect
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.protocol import hf, tgi
from infernet_kit.testing.node_fixtures import node_container


@pytest.fixture(scope="module")
def containers(tgi_service: str, hf_service: str) -> list[dict[str, Any]]:
    """Node config entries for the session's TGI and HF services."""
    return [node_container(tgi.CONTAINER_ID, tgi_service), node_container(hf.CONTAINER_ID, hf_service)]


@pytest.fixture
def user(anvil: Anvil) -> Web3:
    """The dev user (a consumer's caller) on the session's anvil."""
    return connect(anvil.url, dev_account(USER).key.to_0x_hex())


@pytest.fixture
def coordinator(user: Web3, infernet_deployment: Deployment) -> Contract:
    return infernet_deployment.contract(user, "EIP712Coordinator")
