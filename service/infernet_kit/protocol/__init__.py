"""Every fact on the wire, in one place: the container protocol, one module per service, the service registry.

This is the bottom layer: it imports nothing from the rest of the package (implementations are named by
dotted paths and imported only when used). The container protocol's names are re-exported lazily, so the
CLI can read `protocol.defaults` at start without loading pydantic and eth-abi (`--help` stays instant).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infernet_kit.protocol.container import (
        ComputeCapability,
        JobLocation,
        OnchainOutput,
        ProofTarget,
        ServiceError,
        ServiceRequest,
        ServiceResources,
    )

__all__ = [
    "ComputeCapability",
    "JobLocation",
    "OnchainOutput",
    "ProofTarget",
    "ServiceError",
    "ServiceRequest",
    "ServiceResources",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("infernet_kit.protocol.container"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
