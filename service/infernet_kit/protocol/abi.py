"""eth-abi's `encode` and `decode`, imported on first use.

The node imports the protocol and chain-encoding modules for its API's models, and eth-abi costs ~0.15 s of CPU to
import at each start of a node that never encodes anything (an off-chain one;
tests/toolchain/test_import_costs.py keeps it out). Every lazy use of eth-abi in the kit goes through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def encode(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """`eth_abi.encode(types, values)`."""
    from eth_abi.abi import encode as abi_encode

    return abi_encode(types, values)


def decode(types: Sequence[str], data: bytes) -> tuple[Any, ...]:
    """`eth_abi.decode(types, data)`."""
    from eth_abi.abi import decode as abi_decode

    return abi_decode(types, data)
