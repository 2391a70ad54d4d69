"""The container protocol shared by the node and the inference services (PROTOCOL.md section 2)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from infernet_kit.protocol import abi

# Not in the reference protocol: which job or subscription interval a `POST /service_output` serves
# (`job=<id>` or `subscription=<id> interval=<n>`). The node sends it, a service logs it and passes it on to its
# backend, so one request can be followed through every log. Optional everywhere.
REQUEST_TAG_HEADER = "x-infernet-request"

# Not in the reference protocol either: a service's answer says how long its backend calls took, as W3C
# Server-Timing entries `backend;dur=<ms>;desc="<what>"`, so the node can show a request's backend step.
# Optional everywhere: a service without it (Ritual's) just leaves the step unreported.
SERVER_TIMING_HEADER = "server-timing"
_UNQUOTABLE = str.maketrans("", "", '"\\,')
_BACKEND_ENTRY = re.compile(r'^\s*backend\s*;\s*dur=([0-9]+(?:\.[0-9]+)?)\s*;\s*desc="([^"\\]*)"\s*$')


class BackendCall(BaseModel):
    """One backend call of a service's answer: what was called and how long it took (retries included)."""

    what: str
    ms: float


def backend_server_timing(calls: Sequence[BackendCall]) -> str:
    """The Server-Timing header value naming `calls` (quotes, backslashes and commas in `what` are dropped)."""
    return ", ".join(f'backend;dur={call.ms:.1f};desc="{call.what.translate(_UNQUOTABLE)}"' for call in calls)


def parse_backend_timing(value: str | None) -> list[BackendCall]:
    """The backend calls a Server-Timing header names; other entries and malformed ones are skipped."""
    calls = []
    for entry in (value or "").split(","):
        if match := _BACKEND_ENTRY.match(entry):
            calls.append(BackendCall(what=match.group(2), ms=float(match.group(1))))
    return calls


class JobLocation(IntEnum):
    """Where a job's input comes from and where its output goes."""

    ONCHAIN = 0
    OFFCHAIN = 1
    STREAM = 2


class ProofTarget(BaseModel):
    """What a proof must name: the chain and verifier contract judging it, and the interval delivered.

    The kit's addition to the request (`proof_target`), sent only with an on-chain delivery whose subscription names
    a verifier: a container that generates proofs binds its proof to them (docs/PROOFS.md). Containers that do not
    know the field ignore it.
    """

    chain_id: int = Field(ge=0)
    verifier: str
    subscription_id: int = Field(ge=0, lt=2**32)
    interval: int = Field(ge=0, lt=2**32)


class ServiceRequest(BaseModel):
    """Body of `POST /service_output`."""

    model_config = ConfigDict(extra="ignore")

    source: JobLocation
    destination: JobLocation
    data: Any = None
    requires_proof: bool = False
    proof_target: ProofTarget | None = None


class OnchainOutput(BaseModel):
    """A service's answer for an on-chain destination: hex strings without `0x`, `""` when empty."""

    raw_input: str = ""
    processed_input: str = ""
    raw_output: str = ""
    processed_output: str = ""
    proof: str = ""


class ServiceError(BaseModel):
    """Error body of a service: `code` is the HTTP status as a string."""

    code: str
    name: str
    description: str


class ComputeCapability(BaseModel):
    id: str = "ml"
    type: str
    task: list[str] = Field(default_factory=list)


class ServiceResources(BaseModel):
    """Answer of `GET /service-resources`."""

    service_id: str
    hardware_capabilities: list[dict[str, Any]] = Field(default_factory=list)
    compute_capability: list[ComputeCapability]


def encode_string(value: str) -> bytes:
    """`abi.encode(string)`: the on-chain shape of a text input or answer."""
    return abi.encode(["string"], [value])


def dynamic_head(data: bytes, what: str) -> tuple[int, int]:
    """Where the one dynamic value of an ABI encoding (`bytes`, or an array) starts, and its length word:
    the offset word, then the length word it points at. `ValueError` naming `what` when `data` holds neither."""
    if len(data) < 64:
        raise ValueError(f"{len(data)} bytes hold no ABI-encoded {what}")
    offset = int.from_bytes(data[:32], "big")
    if offset > len(data) - 32:
        raise ValueError(f"offset {offset} points past the {len(data)} bytes")
    start = offset + 32
    return start, int.from_bytes(data[offset:start], "big")


def decode_bytes(data: bytes) -> bytes:
    """The one `bytes` value of an `abi.encode(bytes)` (a call's return: offset word, length word, data), as
    eth-abi decodes it at a fraction of its CPU: a node reads one per delivery. `ValueError` when `data` is
    not that shape."""
    start, length = dynamic_head(data, "bytes value")
    end = start + length
    if end > len(data):
        raise ValueError(f"a {end - start}-byte value does not fit the {len(data)} bytes")
    return data[start:end]


def decode_string(raw: bytes) -> str:
    """The text of an `abi.encode(string)`; `ValueError` (a `UnicodeDecodeError` too) when it is not one."""
    return decode_bytes(raw).decode()
