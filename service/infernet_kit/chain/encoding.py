"""The one place Infernet's on-chain data shapes are encoded and decoded (PROTOCOL.md section 1).

eth-abi (`protocol.abi`), eth-account and eth-utils are imported when first used: every node imports this module for its
API's models, and importing the three cost ~0.3 s of CPU at each start of a node that never encodes anything (an
off-chain one; tests/toolchain/test_import_costs.py keeps them out).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import sha3  # safe-pysha3
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from infernet_kit.protocol import abi
from infernet_kit.protocol.container import decode_bytes as decode_bytes  # re-exported: its home is the protocol
from infernet_kit.protocol.container import dynamic_head
from infernet_kit.protocol.defaults import ZERO_ADDRESS as ZERO_ADDRESS  # re-exported: its home is protocol.defaults

UINT32_MAX = 2**32 - 1

EIP712_DOMAIN_NAME = "InfernetCoordinator"
EIP712_DOMAIN_VERSION = "1"
EIP712_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

# SignatureVerifier's proofs (docs/PROOFS.md): an EIP-712 `ComputeProof` signed by a key the verifier trusts.
PROOF_DOMAIN_NAME = "InfernetSignatureVerifier"
PROOF_DOMAIN_VERSION = "1"
COMPUTE_PROOF_FIELDS = [
    {"name": "subscriptionId", "type": "uint32"},
    {"name": "interval", "type": "uint32"},
    {"name": "inputHash", "type": "bytes32"},
    {"name": "outputHash", "type": "bytes32"},
]

SUBSCRIPTION_FIELDS: tuple[tuple[str, str], ...] = (
    ("owner", "address"),
    ("activeAt", "uint32"),
    ("period", "uint32"),
    ("frequency", "uint32"),
    ("redundancy", "uint16"),
    ("containerId", "bytes32"),
    ("lazy", "bool"),
    ("verifier", "address"),
    ("paymentAmount", "uint256"),
    ("paymentToken", "address"),
    ("wallet", "address"),
)
SUBSCRIPTION_ABI_TYPE = "(" + ",".join(kind for _, kind in SUBSCRIPTION_FIELDS) + ")"


def container_id(containers: str | Sequence[str]) -> bytes:
    """`keccak256(abi.encode(string))` of the comma-joined container ids."""
    joined = containers if isinstance(containers, str) else ",".join(containers)
    return keccak256(abi.encode(["string"], [joined]))


@functools.lru_cache(maxsize=4096)
def checksum_address(value: str) -> str:
    """`to_checksum_address`, remembered: a node reads the same few owners, tokens and wallets for thousands of
    subscriptions, and each checksum costs a keccak in Python."""
    from eth_utils.address import to_checksum_address

    return to_checksum_address(value)


def keccak256(data: bytes) -> bytes:
    """Ethereum's Keccak-256 of `data` (not NIST's SHA3-256), in C through safe-pysha3: ~4 µs a call where
    eth-hash's pycryptodome backend took 20-40 µs (the wallet hashes twice per transaction it signs)."""
    return bytes(sha3.keccak_256(data).digest())


def _sign_typed_data(typed: dict[str, Any], private_key: str) -> Any:
    """The EIP-712 message `typed`, signed (`v`, `r`, `s`)."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    return Account.sign_message(encode_typed_data(full_message=typed), private_key)


class Subscription(BaseModel):
    """An Infernet subscription exactly as the coordinator stores it (field order is the ABI's)."""

    model_config = ConfigDict(frozen=True)

    owner: str
    active_at: int = Field(ge=0, le=UINT32_MAX)
    period: int = Field(ge=0, le=UINT32_MAX)
    frequency: int = Field(ge=0, le=UINT32_MAX)
    redundancy: int = Field(ge=0, le=2**16 - 1)
    container_id: bytes
    lazy: bool = False
    verifier: str = ZERO_ADDRESS
    payment_amount: int = Field(default=0, ge=0, lt=2**256)
    payment_token: str = ZERO_ADDRESS
    wallet: str = ZERO_ADDRESS

    @field_validator("owner", "verifier", "payment_token", "wallet")
    @classmethod
    def _checksum(cls, value: str) -> str:
        return checksum_address(value)

    @field_validator("container_id", mode="before")
    @classmethod
    def _bytes32(cls, value: Any) -> bytes:
        raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
        if len(raw) != 32:
            raise ValueError("container_id must be 32 bytes")
        return raw

    @field_serializer("container_id", when_used="json")
    def _container_id_hex(self, value: bytes) -> str:
        """JSON carries the id as 0x-hex (the REST form), which the validator above reads back."""
        return "0x" + value.hex()

    @classmethod
    def from_tuple(cls, values: Iterable[Any]) -> Subscription:
        """From the tuple web3 returns for `getSubscription`."""
        names = [name for name, _ in SUBSCRIPTION_FIELDS]
        record = dict(zip(names, values, strict=True))
        return cls(
            owner=record["owner"],
            active_at=record["activeAt"],
            period=record["period"],
            frequency=record["frequency"],
            redundancy=record["redundancy"],
            container_id=record["containerId"],
            lazy=record["lazy"],
            verifier=record["verifier"],
            payment_amount=record["paymentAmount"],
            payment_token=record["paymentToken"],
            wallet=record["wallet"],
        )

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct as web3 and eth-abi take it."""
        return (
            self.owner,
            self.active_at,
            self.period,
            self.frequency,
            self.redundancy,
            self.container_id,
            self.lazy,
            self.verifier,
            self.payment_amount,
            self.payment_token,
            self.wallet,
        )

    def as_message(self) -> dict[str, Any]:
        """The struct as an EIP-712 message (Solidity field names)."""
        return dict(zip((name for name, _ in SUBSCRIPTION_FIELDS), self.as_tuple(), strict=True))

    @property
    def cancelled(self) -> bool:
        return self.active_at == UINT32_MAX


def interval_at(active_at: int, period: int, timestamp: int) -> int:
    """The subscription interval at `timestamp`, as the coordinator computes it (0 before `active_at`)."""
    if period == 0:
        return 1
    if timestamp < active_at:
        return 0
    return min((timestamp - active_at) // period + 1, UINT32_MAX)


def delegate_typed_data(
    sub: Subscription, *, nonce: int, expiry: int, chain_id: int, coordinator: str
) -> dict[str, Any]:
    """The EIP-712 `DelegateSubscription` message a subscription owner's signer signs."""
    return {
        "types": {
            "EIP712Domain": EIP712_DOMAIN_FIELDS,
            "DelegateSubscription": [
                {"name": "nonce", "type": "uint32"},
                {"name": "expiry", "type": "uint32"},
                {"name": "sub", "type": "Subscription"},
            ],
            "Subscription": [{"name": name, "type": kind} for name, kind in SUBSCRIPTION_FIELDS],
        },
        "primaryType": "DelegateSubscription",
        "domain": {
            "name": EIP712_DOMAIN_NAME,
            "version": EIP712_DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": checksum_address(coordinator),
        },
        "message": {"nonce": nonce, "expiry": expiry, "sub": sub.as_message()},
    }


class Signature(BaseModel):
    """An EIP-712 signature in the node's REST form (r and s as integers)."""

    nonce: int = Field(ge=0, le=UINT32_MAX)
    expiry: int = Field(ge=0, le=UINT32_MAX)
    v: int
    r: int
    s: int


def sign_delegate_subscription(
    sub: Subscription, *, nonce: int, expiry: int, chain_id: int, coordinator: str, private_key: str
) -> Signature:
    typed = delegate_typed_data(sub, nonce=nonce, expiry=expiry, chain_id=chain_id, coordinator=coordinator)
    signed = _sign_typed_data(typed, private_key)
    return Signature(nonce=nonce, expiry=expiry, v=signed.v, r=signed.r, s=signed.s)


def recover_delegate_signer(sub: Subscription, signature: Signature, *, chain_id: int, coordinator: str) -> str:
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    typed = delegate_typed_data(
        sub, nonce=signature.nonce, expiry=signature.expiry, chain_id=chain_id, coordinator=coordinator
    )
    address: str = Account.recover_message(
        encode_typed_data(full_message=typed), vrs=(signature.v, signature.r, signature.s)
    )
    return address


def compute_proof_typed_data(
    subscription_id: int, interval: int, input_hash: bytes, output_hash: bytes, *, chain_id: int, verifier: str
) -> dict[str, Any]:
    """The EIP-712 `ComputeProof` message a `SignatureVerifier`'s trusted signer signs."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_FIELDS, "ComputeProof": COMPUTE_PROOF_FIELDS},
        "primaryType": "ComputeProof",
        "domain": {
            "name": PROOF_DOMAIN_NAME,
            "version": PROOF_DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": checksum_address(verifier),
        },
        "message": {
            "subscriptionId": subscription_id,
            "interval": interval,
            "inputHash": input_hash,
            "outputHash": output_hash,
        },
    }


def signature_proof(
    subscription_id: int,
    interval: int,
    input_bytes: bytes,
    output_bytes: bytes,
    *,
    chain_id: int,
    verifier: str,
    private_key: str,
) -> bytes:
    """The proof a `SignatureVerifier` accepts for a delivery of exactly these input and output bytes (as passed
    to `deliverCompute`): `keccak(input) ‖ keccak(output) ‖ r ‖ s ‖ v`, 129 bytes."""
    input_hash, output_hash = keccak256(input_bytes), keccak256(output_bytes)
    typed = compute_proof_typed_data(
        subscription_id, interval, input_hash, output_hash, chain_id=chain_id, verifier=verifier
    )
    signed = _sign_typed_data(typed, private_key)
    r: int = signed.r
    s: int = signed.s
    v: int = signed.v
    return input_hash + output_hash + r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


def node_responded_key(subscription_id: int, interval: int, node: str) -> bytes:
    return keccak256(abi.encode(["uint32", "uint32", "address"], [subscription_id, interval, node]))


def redundancy_key(subscription_id: int, interval: int) -> bytes:
    return keccak256(abi.encode(["uint32", "uint32"], [subscription_id, interval]))


def delegate_key(owner: str, nonce: int) -> bytes:
    return keccak256(abi.encode(["address", "uint32"], [owner, nonce]))


def _hex_bytes(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def encode_flat(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """`abi.encode` of unsigned integers, addresses, `bytes` (what every delivery sends) and arrays of unsigned
    integers (the listener's batched reads, a pair per due interval), as eth-abi encodes them at a fraction of its
    CPU: a node encodes several per delivery. Other types go to eth-abi."""
    plan = _flat_plan(tuple(types))
    if plan is None:
        return abi.encode(list(types), list(values))
    head: list[bytes] = []
    tail: list[bytes] = []
    offset = 32 * len(plan)
    for bits, value in zip(plan, values, strict=True):
        if bits == _BYTES:
            data = bytes(value)
            head.append(offset.to_bytes(32, "big"))
            padded = data + bytes(-len(data) % 32)
            tail += (len(data).to_bytes(32, "big"), padded)
            offset += 32 + len(padded)
        elif bits == _ADDRESS:
            raw = bytes.fromhex(str(value).removeprefix("0x"))
            if len(raw) != 20:
                raise ValueError(f"{value!r} is not an address")
            head.append(bytes(12) + raw)
        elif bits > _ARRAY:
            items = [_word(item, bits - _ARRAY) for item in value]
            head.append(offset.to_bytes(32, "big"))
            tail += (len(items).to_bytes(32, "big"), *items)
            offset += 32 * (1 + len(items))
        else:
            head.append(_word(value, bits))
    return b"".join(head + tail)


def _word(value: Any, bits: int) -> bytes:
    number = int(value)
    if not 0 <= number < 1 << bits:
        raise ValueError(f"{value} does not fit uint{bits}")
    return number.to_bytes(32, "big")


def decode_uints(data: bytes, bits: int) -> list[int]:
    """The one `uint<bits>[]` of an `abi.encode(uint<bits>[])` (a call's return), as eth-abi decodes it at a
    fraction of its CPU. `ValueError` when `data` is not that shape or a value does not fit."""
    start, count = dynamic_head(data, "array")
    end = start + 32 * count
    if end > len(data):
        raise ValueError(f"{(end - start) // 32} values do not fit the {len(data)} bytes")
    values = [int.from_bytes(data[at : at + 32], "big") for at in range(start, end, 32)]
    if any(value >> bits for value in values):
        raise ValueError(f"a value does not fit uint{bits}")
    return values


_BYTES, _ADDRESS = 0, -1
_ARRAY = 1 << 16  # plus the bits of its items: an array of unsigned integers


@functools.cache
def _flat_plan(types: tuple[str, ...]) -> tuple[int, ...] | None:
    """Per type: `_BYTES`, `_ADDRESS` or an unsigned integer's bits; None when one is none of them (eth-abi's)."""
    plan = []
    for kind in types:
        if kind == "bytes":
            plan.append(_BYTES)
        elif kind == "address":
            plan.append(_ADDRESS)
        elif kind.startswith("uint") and kind.endswith("[]"):
            plan.append(_ARRAY + int(kind.removeprefix("uint").removesuffix("[]") or 256))
        elif kind.startswith("uint"):
            plan.append(int(kind.removeprefix("uint") or 256))
        else:
            return None
    return tuple(plan)


RlpItem = int | bytes | list["RlpItem"]


def rlp_item(value: RlpItem) -> bytes:
    """The RLP encoding of an unsigned integer, a byte string or a list of them (what a transaction is made
    of), as the `rlp` package encodes them at a fraction of its CPU: a node signs one transaction per delivery."""
    if isinstance(value, list):
        return rlp_list(b"".join(rlp_item(item) for item in value))
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"RLP has no negative integers: {value}")
        value = value.to_bytes((value.bit_length() + 7) // 8, "big")
    if len(value) == 1 and value[0] < 0x80:
        return value
    return _rlp_prefix(len(value), 0x80) + value


def rlp_list(encoded_items: bytes) -> bytes:
    """The RLP list of items already encoded with `rlp_item`, joined."""
    return _rlp_prefix(len(encoded_items), 0xC0) + encoded_items


def _rlp_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(size)]) + size


def pack_pair(raw_hex: str, processed_hex: str) -> bytes:
    """`abi.encode(bytes raw, bytes processed)`: how the node delivers a service's input and output."""
    return encode_flat(["bytes", "bytes"], [_hex_bytes(raw_hex), _hex_bytes(processed_hex)])


def unpack_pair(data: bytes) -> tuple[bytes, bytes]:
    raw, processed = abi.decode(["bytes", "bytes"], data)
    return bytes(raw), bytes(processed)


@functools.cache
def selector(signature: str) -> bytes:
    """The 4-byte selector of a canonical function or error signature (`name(type,...)`)."""
    return keccak256(signature.encode())[:4]


def event_topic(signature: str) -> str:
    """The first log topic (hex) of a canonical event signature (`Name(type,...)`)."""
    return "0x" + keccak256(signature.encode()).hex()


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(_abi_type(arg) for arg in item.get('inputs', []))})"


def error_selectors(abi: Iterable[Any]) -> dict[bytes, str]:
    """Custom-error selectors of an ABI, mapped to their names."""
    return {selector(_signature(item)): item["name"] for item in abi if item.get("type") == "error"}


def function_signatures(abi: Iterable[dict[str, Any]]) -> set[str]:
    """Canonical signatures (`name(type,...)`) of an ABI's functions, to check fixed calldata against."""
    return {_signature(item) for item in abi if item.get("type") == "function"}


def event_abis(abi: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """An ABI's events by their first log topic (hex), to name and decode the logs a contract emits."""
    return {event_topic(_signature(item)): item for item in abi if item.get("type") == "event"}


def decode_event(item: dict[str, Any], topics: Sequence[bytes], data: bytes) -> dict[str, Any]:
    """A log's arguments by name, from its event's ABI item (indexed ones from the topics, the rest from data;
    an indexed dynamic value is only its hash); bytes as 0x-hex, addresses checksummed."""
    indexed = [arg for arg in item["inputs"] if arg.get("indexed")]
    plain = [arg for arg in item["inputs"] if not arg.get("indexed")]
    values: dict[str, Any] = {}
    for arg, topic in zip(indexed, topics[1:], strict=False):
        dynamic = arg["type"] in ("string", "bytes") or arg["type"].endswith("]") or arg["type"].startswith("tuple")
        values[arg["name"]] = "0x" + bytes(topic).hex() if dynamic else abi.decode([_abi_type(arg)], bytes(topic))[0]
    decoded = abi.decode([_abi_type(arg) for arg in plain], data) if plain else ()
    values.update({arg["name"]: value for arg, value in zip(plain, decoded, strict=True)})
    addresses = {arg["name"] for arg in item["inputs"] if arg["type"] == "address"}
    return {name: _readable(value, name in addresses) for name, value in values.items()}


def _readable(value: Any, address: bool) -> Any:
    if address:
        return checksum_address(value)
    return "0x" + value.hex() if isinstance(value, bytes) else value


def _abi_type(arg: dict[str, Any]) -> str:
    kind: str = arg["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in arg["components"]) + ")" + kind.removeprefix("tuple")
    return kind


def revert_data(value: Any) -> bytes | str | None:
    """Revert data out of the shapes RPCs and web3 hand it over in: hex text, bytes, or `{"data": ...}`."""
    if isinstance(value, dict):
        value = value.get("data")
    if isinstance(value, bytes) or (isinstance(value, str) and value.startswith("0x")):
        return value
    return None


def decode_revert(data: bytes | str | None, selectors: dict[bytes, str]) -> str:
    """A revert's custom-error name (or `Error(string)` reason); `unknown revert 0x…` otherwise."""
    raw = _hex_bytes(data) if isinstance(data, str) else (data or b"")
    if raw[:4] == bytes.fromhex("08c379a0"):
        (reason,) = abi.decode(["string"], raw[4:])
        return str(reason)
    if name := selectors.get(raw[:4]):
        return name
    return f"unknown revert 0x{raw.hex()}" if raw else "revert without data"
