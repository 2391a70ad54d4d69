"""The kit's Keccak-256 (safe-pysha3, in C) must hash exactly as eth-hash's backends do, and be Ethereum's Keccak,
not NIST's SHA3-256 (the two differ only in padding, so a swapped library would still give 32 bytes)."""

from __future__ import annotations

import hashlib
import random

from eth_hash.backends.pycryptodome import CryptodomeBackend

from infernet_kit.chain.encoding import keccak256, selector


def test_keccak256_is_eth_hashs_keccak() -> None:
    rng = random.Random(15)
    reference = CryptodomeBackend()
    for size in (0, 1, 31, 32, 33, 135, 136, 137, 1000, 70_000):
        data = rng.randbytes(size)
        assert keccak256(data) == reference.keccak256(data), size


def test_keccak256_is_ethereums_not_nists() -> None:
    empty = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"  # keccak256("") on every chain
    assert keccak256(b"").hex() == empty
    assert keccak256(b"") != hashlib.sha3_256(b"").digest()
    assert selector("transfer(address,uint256)").hex() == "a9059cbb"  # ERC-20's, as every wallet knows it
