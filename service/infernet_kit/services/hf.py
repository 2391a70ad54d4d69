"""The HF inference client service (PROTOCOL.md section 2.2): four tasks on the Hugging Face inference API
or any HF-compatible endpoint (`HF_INF_ENDPOINT`, e.g. the dev backend)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from huggingface_hub import AsyncInferenceClient

from infernet_kit.protocol import JobLocation, ServiceRequest
from infernet_kit.protocol import hf as wire
from infernet_kit.protocol.hf import DEFAULT_MODELS, TASK_NAMES, HFTaskId
from infernet_kit.services.app import ServiceApp
from infernet_kit.services.base import BackendService
from infernet_kit.services.calls import call_backend
from infernet_kit.services.clients import inference_client
from infernet_kit.services.errors import bad_request
from infernet_kit.services.hf_tasks import (
    SummarizationInput,
    TextGenerationInput,
    TextInput,
    onchain_input,
    parse_offchain,
)
from infernet_kit.services.onchain import abi_input, hex_input, onchain_answer
from infernet_kit.services.settings import HFSettings, load_hf_settings
from infernet_kit.services.streaming import open_token_stream

PROOFS_MESSAGE = "Proofs are not supported for HF Inference Client Service"
# A Hub repo id: it becomes part of the request URL, so nothing else gets through.
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


class HFService(BackendService):
    """Runs the four tasks through one pooled `AsyncInferenceClient` per worker process."""

    service_id = wire.CONTAINER_ID
    proofs_message = PROOFS_MESSAGE
    capability_type = wire.CAPABILITY_TYPE
    tasks = tuple(TASK_NAMES.values())

    def __init__(self, settings: HFSettings) -> None:
        super().__init__(settings.max_connections)
        self.settings = settings
        self.max_body_bytes = settings.max_body_bytes
        self.models = {**DEFAULT_MODELS, **settings.default_models}

    def _new_client(self) -> AsyncInferenceClient:
        s = self.settings
        # An ambient Hugging Face login is only ever sent to the Hugging Face router itself.
        return inference_client(
            base_url=None,
            token=s.token,
            timeout=s.timeout,
            connections=self.connections,
            ambient_token=s.endpoint == wire.HUB_ENDPOINT,
        )

    def describe(self) -> str:
        s = self.settings
        return (
            f"endpoint={s.endpoint} timeout={s.timeout} token={'set' if s.token else 'none'} "
            f"models={self.models} retry={s.retry.model_dump()} max_connections={s.max_connections}"
        )

    async def supports_model(self, model_id: str) -> bool:
        return bool(_REPO_ID.match(model_id))

    def model_url(self, task: HFTaskId, model: str | None) -> str:
        """The hf-inference route for a model: `{endpoint}/models/{model_id}`."""
        model_id = model or self.models[TASK_NAMES[task]]
        if not _REPO_ID.match(model_id):
            raise bad_request(f"model {model_id!r} is not a Hugging Face model id like 'org/name'", "InvalidInput")
        return f"{self.settings.endpoint}/models/{model_id}"

    def _input(self, request: ServiceRequest) -> tuple[HFTaskId, Any, bytes]:
        """The task, its input model and the raw on-chain input (empty for off-chain sources)."""
        if request.source == JobLocation.ONCHAIN:
            task_id, model, prompt = abi_input(request.data, wire.INPUT_TYPES, wire.INPUT_SHAPE)
            task, parsed = onchain_input(task_id, model, prompt)
            return task, parsed, hex_input(request.data)
        task, parsed = parse_offchain(request.data)
        return task, parsed, b""

    async def _run(self, task: HFTaskId, parsed: Any) -> Any:
        """The task's result in the off-chain answer's shape."""
        client = self.client
        url = self.model_url(task, parsed.model)

        async def call() -> Any:
            if isinstance(parsed, TextGenerationInput):
                # `stream=False` is sent explicitly: it is how an hf-inference body says "text generation".
                options = parsed.generation().kwargs()
                return str(await client.text_generation(parsed.prompt, model=url, stream=False, **options))
            if isinstance(parsed, SummarizationInput):
                result = await client.summarization(
                    parsed.text, model=url, clean_up_tokenization_spaces=True, generate_parameters=parsed.parameters
                )
                return {"summary_text": result.summary_text}
            assert isinstance(parsed, TextInput)
            if task == HFTaskId.TEXT_CLASSIFICATION:
                labels = await client.text_classification(parsed.text, model=url)
                return [{"label": item.label, "score": item.score} for item in labels]
            entities = await client.token_classification(parsed.text, model=url, aggregation_strategy="simple")
            return [
                {"entity_group": e.entity_group, "score": e.score, "word": e.word, "start": e.start, "end": e.end}
                for e in entities
            ]

        return await call_backend(self.settings.retry, call, f"hf {TASK_NAMES[task]}")

    async def answer(self, request: ServiceRequest) -> Any:
        task, parsed, raw_input = self._input(request)
        output = await self._run(task, parsed)
        if request.destination == JobLocation.ONCHAIN:
            return onchain_answer(raw_input=raw_input, raw_output=wire.encode_output(task, output))
        return {"output": output}

    async def open_stream(self, request: ServiceRequest) -> AsyncIterator[bytes]:
        task, parsed, _ = self._input(request)
        if not isinstance(parsed, TextGenerationInput):
            raise bad_request(
                f"streaming is supported for text_generation only, not {TASK_NAMES[task]}", "InvalidInput"
            )
        url = self.model_url(task, parsed.model)
        return await open_token_stream(
            self._new_client(), self.settings.retry, parsed.prompt, parsed.generation().kwargs(), model=url
        )


def create_app() -> ServiceApp:
    """ASGI app factory (`uvicorn --factory`): settings from the environment."""
    return ServiceApp(HFService(load_hf_settings()))
