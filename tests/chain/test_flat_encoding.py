"""The node's own ABI encoder for what every delivery sends (unsigned integers, addresses, `bytes`) must
encode exactly as eth-abi does, and refuse what eth-abi refuses."""

from __future__ import annotations

import random

import pytest
from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError

from infernet_kit.chain.encoding import decode_bytes, decode_uints, encode_flat

KINDS = ("uint16", "uint32", "uint256", "address", "bytes", "uint32[]", "uint16[]", "uint256[]")


def _value(kind: str, rng: random.Random) -> object:
    if kind.endswith("[]"):
        return [_value(kind.removesuffix("[]"), rng) for _ in range(rng.choice((0, 1, 2, 7, 166)))]
    if kind == "bytes":
        return rng.randbytes(rng.choice((0, 1, 31, 32, 33, 100)))
    if kind == "address":
        return "0x" + rng.randbytes(20).hex()
    return rng.choice((0, 1, 2 ** int(kind.removeprefix("uint")) - 1, rng.getrandbits(int(kind.removeprefix("uint")))))


def test_flat_encoding_is_eth_abi_encoding() -> None:
    rng = random.Random(15)
    for _ in range(500):
        kinds = [rng.choice(KINDS) for _ in range(rng.randint(0, 6))]
        values = [_value(kind, rng) for kind in kinds]
        assert encode_flat(kinds, values) == encode(kinds, values), (kinds, values)
    # Other types are eth-abi's to encode.
    assert encode_flat(["string", "bool"], ["hi", True]) == encode(["string", "bool"], ["hi", True])


@pytest.mark.parametrize(
    ("kind", "value"),
    [("uint32", 2**32), ("uint256", -1), ("address", "0x1234"), ("uint16", 70_000), ("uint32[]", [1, 2**32])],
)
def test_flat_encoding_refuses_values_that_do_not_fit(kind: str, value: object) -> None:
    with pytest.raises(ValueError, match=r"fit|address"):
        encode_flat([kind], [value])


def test_bytes_decoding_is_eth_abi_decoding() -> None:
    rng = random.Random(15)
    for size in (0, 1, 31, 32, 33, 100, 1000):
        value = rng.randbytes(size)
        assert decode_bytes(encode(["bytes"], [value])) == decode(["bytes"], encode(["bytes"], [value]))[0] == value
    for bad in (b"", bytes(32), (64).to_bytes(32, "big") + bytes(32), (32).to_bytes(32, "big") + (99).to_bytes(32)):
        with pytest.raises(DecodingError):
            decode(["bytes"], bad)
        with pytest.raises(ValueError, match="bytes"):
            decode_bytes(bad)


def test_an_array_of_unsigned_integers_decodes_as_eth_abi_decodes_it() -> None:
    rng = random.Random(15)
    for bits in (16, 32, 256):
        for count in (0, 1, 3, 166):
            values = [rng.choice((0, 1, 2**bits - 1, rng.getrandbits(bits))) for _ in range(count)]
            data = encode([f"uint{bits}[]"], [values])
            assert decode_uints(data, bits) == list(decode([f"uint{bits}[]"], data)[0]) == values


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "no ABI-encoded array"),
        ((64).to_bytes(32, "big") + bytes(32), "past"),  # the offset points beyond the data
        ((32).to_bytes(32, "big") + (2).to_bytes(32, "big") + bytes(32), "do not fit"),  # 2 values, 1 word
        (encode(["uint32[]"], [[2**20]]), "does not fit uint16"),  # read as uint16[]: non-zero padding
    ],
)
def test_a_malformed_array_is_refused_as_eth_abi_refuses_it(data: bytes, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        decode_uints(data, 16)
    with pytest.raises(DecodingError):
        decode(["uint16[]"], data)
