"""Which on-chain `containerId` hashes this node can serve, and with which container chain."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import permutations

from infernet_kit.chain.encoding import container_id

# Chains are ordered lists of configured containers. Every ordering up to this length is served; with
# many containers configured, the count is capped so start-up stays instant.
MAX_CHAIN_LENGTH = 4
MAX_CHAINS = 50_000


class ContainerLookup:
    """Maps `keccak256(abi.encode("a,b"))` back to `["a", "b"]` for the containers the node runs."""

    def __init__(self, container_ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(container_ids))
        self._ids = ids
        self._chains: dict[bytes, list[str]] = {}
        for length in range(1, min(len(ids), MAX_CHAIN_LENGTH) + 1):
            for chain in permutations(ids, length):
                if len(self._chains) >= MAX_CHAINS:
                    return
                self._chains[container_id(chain)] = list(chain)

    def containers(self, container_hash: bytes) -> list[str] | None:
        """The container chain for a subscription's `containerId`, or None if this node does not run it."""
        chain = self._chains.get(bytes(container_hash))
        return list(chain) if chain is not None else None

    def served(self) -> str:
        """The container ids this node runs, each with its on-chain hash: what a foreign hash is told apart from."""
        return ", ".join(f"{name} (0x{container_id([name]).hex()})" for name in self._ids) or "none"

    def __len__(self) -> int:
        return len(self._chains)
