"""The TGI client inference service (PROTOCOL.md section 2.1): text generation on a TGI server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
from huggingface_hub import AsyncInferenceClient

from infernet_kit.protocol import JobLocation, ServiceRequest
from infernet_kit.protocol import tgi as wire
from infernet_kit.services.app import ServiceApp
from infernet_kit.services.base import BackendService
from infernet_kit.services.calls import call_backend
from infernet_kit.services.clients import inference_client
from infernet_kit.services.errors import bad_request
from infernet_kit.services.onchain import abi_input, onchain_answer
from infernet_kit.services.settings import TGISettings, load_tgi_settings
from infernet_kit.services.streaming import open_token_stream

PROOFS_MESSAGE = "Proofs are not supported for TGI Client Inference Service"


def offchain_prompt(data: Any) -> str:
    """`{"text": str}` -> the prompt."""
    if not isinstance(data, dict):
        raise bad_request(f'data must be an object {{"text": str}}, got {type(data).__name__}', "InvalidInput")
    text = data.get("text")
    if not isinstance(text, str):
        problem = "is missing" if "text" not in data else f"must be a string, got {type(text).__name__}"
        raise bad_request(f"data.text {problem}", "InvalidInput")
    return text


class TGIService(BackendService):
    """Generates text on the configured TGI server; one pooled client per worker process."""

    service_id = wire.CONTAINER_ID
    proofs_message: str | None = PROOFS_MESSAGE
    capability_type = wire.CAPABILITY_TYPE
    tasks = wire.TASKS

    def __init__(self, settings: TGISettings) -> None:
        super().__init__(settings.max_connections)
        self.settings = settings
        self.max_body_bytes = settings.max_body_bytes
        self._generation = settings.generation.kwargs()

    def _new_client(self) -> AsyncInferenceClient:
        s = self.settings
        return inference_client(
            base_url=s.server_url,
            token=s.token,
            timeout=s.timeout,
            connections=self.connections,
            headers=s.headers,
            cookies=s.cookies,
        )

    def describe(self) -> str:
        s = self.settings
        return (
            f"server={s.server_url} timeout={s.timeout} token={'set' if s.token else 'none'} "
            f"headers={sorted(s.headers)} generation={self._generation} retry={s.retry.model_dump()} "
            f"max_connections={s.max_connections}"
        )

    async def supports_model(self, model_id: str) -> bool:
        """Whether the TGI server serves `model_id` (its `GET /info`); False if it cannot be asked."""
        try:
            async with httpx2.AsyncClient(timeout=5.0) as http:
                response = await http.get(f"{self.settings.server_url}/info", headers=self.settings.headers)
            info = response.json() if response.is_success else {}
        except (httpx2.HTTPError, ValueError):
            return False
        return isinstance(info, dict) and info.get("model_id") == model_id

    def _prompt(self, request: ServiceRequest) -> tuple[str, bytes]:
        """The prompt and the raw on-chain input (empty for off-chain sources)."""
        if request.source == JobLocation.ONCHAIN:
            (prompt,) = abi_input(request.data, wire.INPUT_TYPES, wire.INPUT_SHAPE)
            return str(prompt), bytes.fromhex(request.data.removeprefix("0x"))
        return offchain_prompt(request.data), b""

    async def _generate(self, prompt: str) -> str:
        async def call() -> str:
            text = await self.client.text_generation(prompt, **self._generation)
            return str(text)

        return await call_backend(self.settings.retry, call, "tgi generate")

    async def answer(self, request: ServiceRequest) -> Any:
        prompt, raw_input = self._prompt(request)
        generated = await self._generate(prompt)
        if request.destination == JobLocation.ONCHAIN:
            return onchain_answer(raw_input=raw_input, raw_output=wire.encode_output(generated))
        return {"output": generated}

    async def open_stream(self, request: ServiceRequest) -> AsyncIterator[bytes]:
        prompt, _ = self._prompt(request)
        return await open_token_stream(self._new_client(), self.settings.retry, prompt, self._generation)


def create_app() -> ServiceApp:
    """ASGI app factory (`uvicorn --factory`): settings from the environment."""
    return ServiceApp(TGIService(load_tgi_settings()))
