"""Async web3 handles on the kit's contracts, with ABIs from the compiled artifacts."""

from __future__ import annotations

from typing import Any

from infernet_kit.chain.artifacts import load_artifact
from infernet_kit.client.chain_utils import RPC

COORDINATOR_ARTIFACT = "EIP712Coordinator"


def contract(rpc: RPC, name: str, address: str) -> Any:
    """An async contract `name` (artifact name) at `address`."""
    return rpc.get_contract(address, load_artifact(name).abi)


def coordinator_contract(rpc: RPC, address: str) -> Any:
    return contract(rpc, COORDINATOR_ARTIFACT, address)
