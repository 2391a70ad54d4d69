"""On-chain requests to the services: hex in, ABI-decoded (a 400 naming the shape otherwise); answers hex out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError

from infernet_kit.protocol import OnchainOutput
from infernet_kit.services.errors import bad_request


def hex_input(data: Any) -> bytes:
    """The bytes of an on-chain job's `data`: a hex string (PROTOCOL.md says without `0x`; `0x` is tolerated)."""
    if not isinstance(data, str):
        raise bad_request(f"on-chain data must be a hex string, got {type(data).__name__}", "InvalidInput")
    text = data[2:] if data[:2] in ("0x", "0X") else data
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise bad_request(f"on-chain data is not valid hex: {exc}", "InvalidInput") from exc


def abi_input(data: Any, types: Sequence[str], shape: str) -> tuple[Any, ...]:
    """Decode an on-chain job's input as `types`; 400 naming the expected `shape` if it does not decode."""
    raw = hex_input(data)
    try:
        return tuple(decode(list(types), raw, strict=True))
    except (DecodingError, ValueError, OverflowError) as exc:
        raise bad_request(f"on-chain data does not decode as {shape}: {exc}", "InvalidInput") from exc


def onchain_answer(*, raw_input: bytes, raw_output: bytes) -> dict[str, str]:
    """The on-chain destination answer: the node delivers `abi.encode(raw, processed)` of each pair."""
    return OnchainOutput(raw_input=raw_input.hex(), raw_output=raw_output.hex()).model_dump()
