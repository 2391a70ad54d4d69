"""A test-only third service, registered through `$INFERNET_KIT_SERVICES=reverse_service` and nothing else:
it answers a text reversed (repeated `REVERSE_REPEAT` times), off chain, on chain and as a stream.

Its wire facts and its registry entry are the first half; the implementation, found by the entry's dotted
paths, the second. The kit's own services are laid out the same way, in `protocol/<kind>.py` and `services/`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from infernet_kit.config import ConfigError
from infernet_kit.protocol import ComputeCapability, JobLocation, ServiceRequest, ServiceResources
from infernet_kit.protocol.container import encode_string
from infernet_kit.protocol.service import ServiceEntry
from infernet_kit.services.app import ServiceApp
from infernet_kit.services.errors import bad_request
from infernet_kit.services.onchain import abi_input, hex_input, onchain_answer

KIND = "reverse"
CONTAINER_ID = "reverse_service"
REPEAT_ENV = "REVERSE_REPEAT"
INPUT_TYPES = ("string",)


SERVICE = ServiceEntry(
    kind=KIND,
    container_id=CONTAINER_ID,
    description="reverses text (tests only)",
    app="reverse_service:create_app",
    settings="reverse_service:load_repeat",
    dev_env=lambda _url: {REPEAT_ENV: "1"},
    image_words=("text-reverser",),
)


def load_repeat() -> int:
    """`REVERSE_REPEAT`: how many times the reversed text is repeated, a positive integer (default 1)."""
    value = os.environ.get(REPEAT_ENV, "1")
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"environment variable {REPEAT_ENV}: must be a positive integer, got {value!r}")
    return int(value)


class ReverseService:
    """The `InferenceService` the shared ASGI app serves."""

    service_id = CONTAINER_ID
    max_body_bytes = 64 * 1024
    proofs_message = "Proofs are not supported by the reverse service"

    def __init__(self, repeat: int) -> None:
        self.repeat = repeat

    def resources(self) -> ServiceResources:
        return ServiceResources(service_id=CONTAINER_ID, compute_capability=[ComputeCapability(type=KIND)])

    async def supports_model(self, model_id: str) -> bool:
        return False

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _text(self, request: ServiceRequest) -> str:
        if request.source == JobLocation.ONCHAIN:
            (text,) = abi_input(request.data, INPUT_TYPES, "abi.encode(string text)")
            return str(text)
        if not isinstance(request.data, dict) or not isinstance(request.data.get("text"), str):
            raise bad_request('data must be an object {"text": str}', "InvalidInput")
        return str(request.data["text"])

    async def answer(self, request: ServiceRequest) -> Any:
        reversed_text = self._text(request)[::-1] * self.repeat
        if request.destination == JobLocation.ONCHAIN:
            return onchain_answer(raw_input=hex_input(request.data), raw_output=encode_string(reversed_text))
        return {"output": reversed_text}

    async def open_stream(self, request: ServiceRequest) -> AsyncIterator[bytes]:
        reversed_text = self._text(request)[::-1] * self.repeat

        async def chunks() -> AsyncIterator[bytes]:
            for character in reversed_text:
                yield character.encode()

        return chunks()


def create_app() -> ServiceApp:
    return ServiceApp(ReverseService(load_repeat()))
