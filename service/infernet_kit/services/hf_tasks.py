"""The HF inference client service's task inputs (PROTOCOL.md section 2.2): off-chain objects and the decoded
on-chain tuple as one input model per task; the ids and on-chain shapes are in `infernet_kit.protocol.hf`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infernet_kit.protocol.hf import DEFAULT_MAX_NEW_TOKENS, TASK_NAMES, HFTaskId
from infernet_kit.services.errors import bad_request, describe_validation
from infernet_kit.services.generation import GenerationParams


def task_id_of(value: Any) -> HFTaskId:
    """A request's task id, refusing UNSET and unknown ids with the list of valid ones."""
    valid = ", ".join(f"{task.value} ({TASK_NAMES[task]})" for task in TASK_NAMES)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"task_id must be an integer, one of {valid}; got {value!r}", "InvalidTask")
    if value not in TASK_NAMES:
        reason = "0 is UNSET" if value == 0 else f"unknown task_id {value}"
        raise bad_request(f"{reason}; task_id must be one of {valid}", "InvalidTask")
    return HFTaskId(value)


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    task_id: int
    model: str | None = None


class TextGenerationInput(_Input):
    """Task 1: `prompt` plus generation options (`max_new_tokens` defaults to 20)."""

    prompt: str
    max_new_tokens: int | None = Field(default=DEFAULT_MAX_NEW_TOKENS, ge=0)
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    do_sample: bool | None = None
    seed: int | None = None
    stop_sequences: list[str] | None = None
    stop: list[str] | None = None
    return_full_text: bool | None = None
    truncate: int | None = None
    typical_p: float | None = None
    watermark: bool | None = None

    def generation(self) -> GenerationParams:
        options = self.model_dump(exclude={"task_id", "model", "prompt"}, exclude_none=True)
        return GenerationParams.model_validate(options)


class TextInput(_Input):
    """Tasks 2 and 3: `text`."""

    text: str


class SummarizationInput(_Input):
    """Task 4: `text` plus `parameters` (`min_length`, `max_length`, ... passed as generation parameters)."""

    text: str
    parameters: dict[str, Any] | None = None


INPUT_MODELS: dict[HFTaskId, type[_Input]] = {
    HFTaskId.TEXT_GENERATION: TextGenerationInput,
    HFTaskId.TEXT_CLASSIFICATION: TextInput,
    HFTaskId.TOKEN_CLASSIFICATION: TextInput,
    HFTaskId.SUMMARIZATION: SummarizationInput,
}


def parse_offchain(data: Any) -> tuple[HFTaskId, _Input]:
    """An off-chain `data` object as its task's input model; 400 naming the bad field otherwise."""
    if not isinstance(data, dict):
        raise bad_request(f"data must be an object with task_id, got {type(data).__name__}", "InvalidInput")
    if "task_id" not in data:
        raise bad_request("data.task_id is missing", "InvalidInput")
    task = task_id_of(data["task_id"])
    try:
        return task, INPUT_MODELS[task].model_validate(data)
    except ValidationError as exc:
        raise bad_request(
            f"invalid {TASK_NAMES[task]} input: {describe_validation(exc, prefix='data.')}", "InvalidInput"
        ) from exc


def onchain_input(task_id: int, model: str, prompt: str) -> tuple[HFTaskId, _Input]:
    """The decoded on-chain `(uint8 task_id, string model_id, string prompt)` as an input model."""
    task = task_id_of(task_id)
    model_id = model or None
    if task == HFTaskId.TEXT_GENERATION:
        return task, TextGenerationInput(task_id=task, model=model_id, prompt=prompt)
    if task == HFTaskId.SUMMARIZATION:
        return task, SummarizationInput(task_id=task, model=model_id, text=prompt)
    return task, TextInput(task_id=task, model=model_id, text=prompt)
