"""The HF inference client service on the wire (PROTOCOL.md section 2.2): task ids, on-chain shapes, names.

A consumer sends `abi.encode(uint8 task_id, string model_id, string prompt)`; the service answers
`abi.encode(string)` for text and `abi.encode(string[] labels, uint256[] scores)` for classifications,
scores as integer millionths.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import Any

from infernet_kit.protocol import abi
from infernet_kit.protocol.container import decode_string, encode_string
from infernet_kit.protocol.service import ServiceEntry

KIND = "hf"
CONTAINER_ID = "hf_inference_client_service"
CAPABILITY_TYPE = "hf_client"


class HFTaskId(IntEnum):
    """Hugging Face task types, as in seed 001 (0 is UNSET and always refused)."""

    UNSET = 0
    TEXT_GENERATION = 1
    TEXT_CLASSIFICATION = 2
    TOKEN_CLASSIFICATION = 3
    SUMMARIZATION = 4


TASK_NAMES: dict[HFTaskId, str] = {
    HFTaskId.TEXT_GENERATION: "text_generation",
    HFTaskId.TEXT_CLASSIFICATION: "text_classification",
    HFTaskId.TOKEN_CLASSIFICATION: "token_classification",
    HFTaskId.SUMMARIZATION: "summarization",
}

# Used when a request names no model (`""` on-chain); `HF_INF_DEFAULT_MODELS` overrides them per task.
DEFAULT_MODELS: dict[str, str] = {
    "text_generation": "HuggingFaceTB/SmolLM2-1.7B-Instruct",
    "text_classification": "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
    "token_classification": "dslim/bert-base-NER",
    "summarization": "facebook/bart-large-cnn",
}
DEFAULT_MAX_NEW_TOKENS = 20

TOKEN_ENV = "HF_INF_TOKEN"
ENDPOINT_ENV = "HF_INF_ENDPOINT"
TIMEOUT_ENV = "HF_INF_TIMEOUT"
RETRY_ENV = "HF_INF_RETRY_PARAMS"
MODELS_ENV = "HF_INF_DEFAULT_MODELS"
HUB_ENDPOINT = "https://router.huggingface.co/hf-inference"

INPUT_TYPES = ("uint8", "string", "string")
INPUT_SHAPE = "abi.encode(uint8 task_id, string model_id, string prompt)"
_SCORED = ("string[]", "uint256[]")

SCORE_SCALE = 1_000_000


def scaled(score: float) -> int:
    """A probability as an integer number of millionths (what contracts receive)."""
    return max(0, round(score * SCORE_SCALE))


def unscaled(millionths: int) -> float:
    return millionths / SCORE_SCALE


def label_key(task: HFTaskId) -> str:
    """The key naming each item of a classification: a label or an entity group."""
    return "label" if task == HFTaskId.TEXT_CLASSIFICATION else "entity_group"


def scored_items(task: HFTaskId, names: Sequence[str], scores: Sequence[int]) -> list[dict[str, Any]]:
    """On-chain `(labels, scores)` in the off-chain shape, scores scaled back from millionths."""
    key = label_key(task)
    return [{key: str(name), "score": unscaled(score)} for name, score in zip(names, scores, strict=True)]


def encode_input(task: HFTaskId, prompt: str, model: str = "") -> bytes:
    """What a consumer sends on chain: `abi.encode(uint8 task_id, string model_id, string prompt)`."""
    return abi.encode(INPUT_TYPES, [int(task), model, prompt])


def encode_output(task: HFTaskId, output: Any) -> bytes:
    """The service's on-chain `raw_output` for a task's off-chain answer; scores become integer millionths."""
    if task == HFTaskId.TEXT_GENERATION:
        return encode_string(str(output))
    if task == HFTaskId.SUMMARIZATION:
        return encode_string(str(output["summary_text"]))
    key = label_key(task)
    names = [str(item[key]) for item in output]
    return abi.encode(_SCORED, [names, [scaled(float(item["score"])) for item in output]])


def decode_output(task: HFTaskId, raw: bytes) -> Any:
    """A task's on-chain answer in the off-chain shape (scores to the nearest millionth)."""
    if task == HFTaskId.TEXT_GENERATION:
        return decode_string(raw)
    if task == HFTaskId.SUMMARIZATION:
        return {"summary_text": decode_string(raw)}
    names, scores = abi.decode(_SCORED, raw)
    return scored_items(task, names, scores)


def service_env(
    endpoint: str, *, timeout: float | None = None, retry: Mapping[str, Any] | None = None, token: str | None = None
) -> dict[str, str]:
    """The environment for an HF-compatible `endpoint`, with an optional timeout, retry params and token."""
    env = {ENDPOINT_ENV: endpoint}
    if timeout is not None:
        env[TIMEOUT_ENV] = json.dumps(timeout)
    if retry is not None:
        env[RETRY_ENV] = json.dumps(dict(retry))
    if token is not None:
        env[TOKEN_ENV] = token
    return env


SERVICE = ServiceEntry(
    kind=KIND,
    container_id=CONTAINER_ID,
    description="HF inference client service",
    app="infernet_kit.services.hf:create_app",
    settings="infernet_kit.services.settings:load_hf_settings",
    dev_env=service_env,
    image_words=("hf_inference", "hf-inference", "huggingface"),
)
