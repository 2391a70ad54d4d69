"""The container protocol shared by the node and the inference services (PROTOCOL.md section 2)."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from eth_abi.abi import decode, encode
from pydantic import BaseModel, ConfigDict, Field

# Not in the reference protocol: which job or subscription interval a `POST /service_output` serves
# (`job=<id>` or `subscription=<id> interval=<n>`). The node sends it, a service logs it and passes it on to its
# backend, so one request can be followed through every log. Optional everywhere.
REQUEST_TAG_HEADER = "x-infernet-request"


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
    return encode(["string"], [value])


def decode_string(raw: bytes) -> str:
    (text,) = decode(["string"], raw)
    return str(text)
