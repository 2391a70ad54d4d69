"""The TGI client inference service on the wire (PROTOCOL.md section 2.1): names, environment, on-chain shapes.

A consumer sends `abi.encode(string prompt)`; the service answers `abi.encode(string generated)`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from infernet_kit.protocol.container import decode_string, encode_string
from infernet_kit.protocol.service import ServiceEntry

KIND = "tgi"
CONTAINER_ID = "tgi_client_inference_service"
CAPABILITY_TYPE = "tgi_client"
TASKS = ("text_generation",)

TOKEN_ENV = "TGI_INF_TOKEN"
POSITIONAL_ENV = "TGI_INF_WORKFLOW_POSITIONAL_ARGS"
KW_ENV = "TGI_INF_WORKFLOW_KW_ARGS"
# Seed 002's individual retry settings, each overriding the matching field of `retry_params`.
RETRY_ENV = {
    "tries": "TGI_REQUEST_TRIES",
    "delay": "TGI_REQUEST_DELAY",
    "max_delay": "TGI_REQUEST_MAX_DELAY",
    "backoff": "TGI_REQUEST_BACKOFF",
    "jitter": "TGI_REQUEST_JITTER",
}

INPUT_TYPES = ("string",)
INPUT_SHAPE = "abi.encode(string prompt)"


def encode_input(prompt: str) -> bytes:
    """What a consumer sends on chain: `abi.encode(string prompt)`."""
    return encode_string(prompt)


def encode_output(text: str) -> bytes:
    """The service's on-chain `raw_output`: `abi.encode(string generated)`."""
    return encode_string(text)


def decode_output(raw: bytes) -> str:
    return decode_string(raw)


def service_env(
    server_url: str, *, timeout: float = 30, retry: Mapping[str, Any] | None = None, **generation: Any
) -> dict[str, str]:
    """The seeds' environment for a TGI server at `server_url`: timeout, retry params, generation options."""
    kw_args = {**generation, **({"retry_params": dict(retry)} if retry is not None else {})}
    return {POSITIONAL_ENV: json.dumps([server_url, timeout]), KW_ENV: json.dumps(kw_args)}


def dev_env(server_url: str) -> dict[str, str]:
    """The dev stack's TGI service: short, near-deterministic answers."""
    return service_env(server_url, max_new_tokens=30, temperature=0.01)


SERVICE = ServiceEntry(
    kind=KIND,
    container_id=CONTAINER_ID,
    description="TGI client service",
    app="infernet_kit.services.tgi:create_app",
    settings="infernet_kit.services.settings:load_tgi_settings",
    dev_env=dev_env,
    image_words=("tgi",),
)
