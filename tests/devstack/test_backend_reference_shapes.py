"""The dev backend answers the wire shapes Ritual's reference services depend on: TGI's `details` (text-generation's
client always asks for them), HF requests routed by model when the body is a bare `{"inputs"}` (what
huggingface_hub 0.25 sends for token classification and summarization), and the Hub's `GET /api/tasks` table of
default models."""

from __future__ import annotations

import httpx
import pytest
from huggingface_hub import AsyncInferenceClient

from infernet_kit.devstack import fake_models
from infernet_kit.protocol import hf
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.service_fixtures import DevBackendHandle

PROMPT = "Is the sky blue during a clear day?"
TEXT = "Alice met Bob in Paris. the weather was fine and everyone was happy about it all day long"


def _post(url: str, body: object) -> httpx.Response:
    return httpx_calls.post(url, json=body, timeout=10, trust_env=False)


# The fake model stops early only when the prompt has no words to echo (see fake_models).
@pytest.mark.parametrize(("prompt", "finish_reason"), [(PROMPT, "length"), ("", "eos_token")])
def test_tgi_details_as_text_generations_client_reads_them(
    backend: DevBackendHandle, prompt: str, finish_reason: str
) -> None:
    max_new_tokens = 3
    body = {"inputs": prompt, "parameters": {"details": True, "max_new_tokens": max_new_tokens, "seed": 7}}
    (answer,) = _post(f"{backend.url}/", body).json()
    tokens = fake_models.generate_tokens(prompt, max_new_tokens)
    assert answer["generated_text"] == "".join(tokens)
    details = answer["details"]
    assert details["finish_reason"] == finish_reason
    assert details["generated_tokens"] == len(tokens)
    assert details["seed"] == 7
    assert details["prefill"] == []
    assert [token["text"] for token in details["tokens"]] == tokens
    assert all(set(token) == {"id", "text", "logprob", "special"} for token in details["tokens"])
    # `/generate` is the same answer as an object; without `details` none is added.
    assert _post(f"{backend.url}/generate", body).json() == answer
    assert "details" not in _post(f"{backend.url}/generate", {"inputs": prompt}).json()


async def test_tgi_details_through_huggingface_hub(backend: DevBackendHandle) -> None:
    client = AsyncInferenceClient(model=backend.url)
    whole = await client.text_generation(PROMPT, max_new_tokens=4, details=True)
    assert whole.generated_text == fake_models.generate(PROMPT, 4)
    assert whole.details is not None and whole.details.finish_reason == "length"
    assert whole.details.generated_tokens == 4

    stream = await client.text_generation(PROMPT, max_new_tokens=4, details=True, stream=True)
    events = [event async for event in stream]
    assert [event.token.text for event in events] == fake_models.generate_tokens(PROMPT, 4)
    assert [event.details is not None for event in events] == [False, False, False, True]
    last = events[-1].details
    assert last is not None and (last.finish_reason, last.generated_tokens) == ("length", 4)


def test_hf_bare_inputs_are_routed_by_model(backend: DevBackendHandle) -> None:
    bare = {"inputs": TEXT}
    routes = {
        hf.DEFAULT_MODELS["token_classification"]: fake_models.token_classify(TEXT),
        hf.DEFAULT_MODELS["summarization"]: [fake_models.summarize(TEXT)],
        hf.DEFAULT_MODELS["text_classification"]: [fake_models.classify(TEXT)],
        "someone/any-other-model": [fake_models.classify(TEXT)],
    }
    for model, expected in routes.items():
        assert _post(f"{backend.url}/models/{model}", bare).json() == expected, model
    # The body still wins when it names its task.
    tagged = {"inputs": TEXT, "parameters": {"aggregation_strategy": "simple"}}
    assert _post(f"{backend.url}/models/{hf.DEFAULT_MODELS['summarization']}", tagged).json() == (
        fake_models.token_classify(TEXT)
    )
    stats = backend.http.get(f"{backend.url}/_control/stats").json()
    assert stats["requests"] == len(routes) + 1 and stats["failed"] == 0


def test_api_tasks_lists_each_tasks_default_model_and_that_model_serves_the_task(backend: DevBackendHandle) -> None:
    table = httpx_calls.get(f"{backend.url}/api/tasks", timeout=10, trust_env=False).json()
    defaults = {task: details["widgetModels"][0] for task, details in table.items()}
    assert defaults == {task.replace("_", "-"): model for task, model in hf.DEFAULT_MODELS.items()}
    (generated,) = _post(f"{backend.url}/models/{defaults['text-generation']}", {"inputs": PROMPT}).json()
    assert generated["generated_text"] == fake_models.generate(PROMPT, model=defaults["text-generation"])
    assert _post(f"{backend.url}/models/{defaults['summarization']}", {"inputs": TEXT}).json() == [
        fake_models.summarize(TEXT)
    ]
