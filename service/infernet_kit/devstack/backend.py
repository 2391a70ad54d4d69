"""The offline stand-in for a TGI server and the Hugging Face inference API (`infernet-kit backend`).

One raw ASGI app (no framework: it is the baseline of the services benchmark, so it stays lean) serving:

- TGI: `POST /` (the route `AsyncInferenceClient` and text-generation's client call given a server URL;
  `"stream": true` in the body switches to server-sent events), `POST /generate`, `POST /generate_stream`
  (SSE, one event per token with `token.text`, the last one carrying `generated_text`), `GET /info`,
  `GET /health`. `parameters.details: true` adds TGI's `details` (finish_reason, generated_tokens, seed,
  prefill, tokens; on a stream the last event's summary), which text-generation's client requires.
- HF inference: `POST /models/{model_id}` (the hf-inference route for every task but feature
  extraction). The route does not name the task, so it is read from the body the client sends:
  a `stream` key or `parameters.max_new_tokens`/`details` means text generation;
  `parameters.aggregation_strategy` token classification; `parameters.generate_parameters`, `truncation` or
  `clean_up_tokenization_spaces` summarization. A bare `{"inputs"}` (huggingface_hub 0.25 sends one for token
  classification and summarization) takes the task the model is the default of (`DEFAULT_MODELS`), else
  text classification. `GET /api/tasks` serves that table as the Hub does, for huggingface_hub's lookup of a
  task's default model (point `HF_ENDPOINT` at the backend).
- Control (tests): `POST /_control/faults` `{"fail_next": N, "status": 503, "error": "msg", "error_type": null,
  "latency_ms": 0, "token_delay_ms": 0}` fails the next N inference requests and/or delays every inference
  request and/or every streamed token after the first (a slow stream, to cut off mid-way);
  `GET /_control/stats` gives `{"requests": n, "failed": n, "by_path": {...}, "held_ports": [...],
  "peak_held": n}` (the client ports of the requests an injected latency holds right now, so that a test can
  tell which process has a call in flight, and the most it held at once: how many calls a client had in flight);
  `POST /_control/reset` clears faults and counters.

Answers come from `infernet_kit.devstack.fake_models` (pure functions tests import too). State lives in the
process, so run it with one worker (the default).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_json

from infernet_kit.devstack import fake_models
from infernet_kit.jsonbody import BodyError, declared_length, parse_json, read_body
from infernet_kit.protocol import hf
from infernet_kit.protocol.container import REQUEST_TAG_HEADER

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MODEL_ID = "infernet-kit/dev-backend"
MAX_BODY = 4 * 1024 * 1024
_JSON_HEADERS = [(b"content-type", b"application/json")]
_TAG_HEADER = REQUEST_TAG_HEADER.encode()
log = logging.getLogger("infernet_kit.backend")
_SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


class BackendRequestError(Exception):
    """A request the fake model rejects, answered like TGI does: `{"error", "error_type"}`."""

    def __init__(self, status: int, message: str, error_type: str = "validation") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


@dataclass
class Faults:
    """Faults injected through the control endpoint."""

    fail_next: int = 0
    status: int = 503
    error: str = "injected fault"
    error_type: str | None = None
    latency_ms: float = 0.0
    token_delay_ms: float = 0.0


@dataclass
class BackendState:
    faults: Faults = field(default_factory=Faults)
    requests: int = 0
    failed: int = 0
    by_path: Counter[str] = field(default_factory=Counter)
    held_ports: Counter[int] = field(default_factory=Counter)
    peak_held: int = 0


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    try:
        return await read_body(receive, MAX_BODY, declared_length(scope["headers"]))
    except BodyError as refused:
        raise BackendRequestError(refused.status, refused.detail) from None


async def _hold(state: BackendState, scope: Scope, latency_ms: float) -> None:
    """Wait out an injected latency, the client's port counted as held meanwhile."""
    client = scope.get("client")
    port = client[1] if client else 0
    state.held_ports[port] += 1
    state.peak_held = max(state.peak_held, state.held_ports.total())
    try:
        await asyncio.sleep(latency_ms / 1000)
    finally:
        state.held_ports[port] -= 1


async def _send_json(send: Send, status: int, payload: Any) -> None:
    body = to_json(payload)
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = parse_json(body)
    except BodyError as refused:
        raise BackendRequestError(refused.status, refused.detail) from None
    if not isinstance(payload, dict):
        raise BackendRequestError(422, "body must be a JSON object")
    return payload


def _text_input(payload: dict[str, Any]) -> str:
    inputs = payload.get("inputs")
    if not isinstance(inputs, str):
        raise BackendRequestError(422, "`inputs` must be a string")
    return inputs


def _parameters(payload: dict[str, Any]) -> dict[str, Any]:
    parameters = payload.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BackendRequestError(422, "`parameters` must be an object")
    return parameters


def _optional_int(parameters: dict[str, Any], name: str) -> int | None:
    value = parameters.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BackendRequestError(422, f"`{name}` must be an integer")
    return value


def _tokens(payload: dict[str, Any], model: str) -> list[str]:
    parameters = _parameters(payload)
    return fake_models.generate_tokens(_text_input(payload), _optional_int(parameters, "max_new_tokens"), model)


def _details(parameters: dict[str, Any], tokens: list[str], *, stream: bool) -> dict[str, Any]:
    """TGI's `details` (asked for with `parameters.details: true`): why generation stopped, how many tokens,
    the seed; a whole answer also lists the tokens (no prefill: that needs `decoder_input_details`)."""
    limit = _optional_int(parameters, "max_new_tokens")
    details: dict[str, Any] = {
        "finish_reason": "length" if len(tokens) == (limit or fake_models.DEFAULT_MAX_NEW_TOKENS) else "eos_token",
        "generated_tokens": len(tokens),
        "seed": _optional_int(parameters, "seed"),
    }
    if not stream:
        details["prefill"] = []
        details["tokens"] = [_token(index, text) for index, text in enumerate(tokens, start=1)]
    return details


def _token(index: int, text: str) -> dict[str, Any]:
    return {"id": index, "text": text, "logprob": 0.0, "special": False}


def _generation(payload: dict[str, Any], model: str) -> dict[str, Any]:
    """A whole (non-streamed) TGI answer: `generated_text`, with `details` when asked for."""
    parameters = _parameters(payload)
    text = fake_models.generate(
        _text_input(payload),
        _optional_int(parameters, "max_new_tokens"),
        model,
        return_full_text=bool(parameters.get("return_full_text")),
    )
    answer: dict[str, Any] = {"generated_text": text}
    if parameters.get("details") is True:
        answer["details"] = _details(parameters, _tokens(payload, model), stream=False)
    return answer


async def _send_token_stream(send: Send, payload: dict[str, Any], model: str, token_delay_ms: float = 0.0) -> None:
    """TGI's server-sent events: one `data:` event per token, the last one with the whole text (and the
    `details` summary when asked for)."""
    tokens = _tokens(payload, model)
    parameters = _parameters(payload)
    await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
    for index, text in enumerate(tokens, start=1):
        if index > 1 and token_delay_ms > 0:
            await asyncio.sleep(token_delay_ms / 1000)
        last = index == len(tokens)
        event = {
            "index": index,
            "token": _token(index, text),
            "generated_text": "".join(tokens) if last else None,
            "details": _details(parameters, tokens, stream=True) if last and parameters.get("details") else None,
        }
        await send({"type": "http.response.body", "body": b"data:" + to_json(event) + b"\n\n", "more_body": True})
    await send({"type": "http.response.body", "body": b""})


# The default model of each task, as `GET /api/tasks` serves them (huggingface_hub looks a task's default up
# there when no model is given) and as requests naming them are routed.
DEFAULT_MODELS: dict[str, str] = {task.replace("_", "-"): model for task, model in hf.DEFAULT_MODELS.items()}
_TASK_OF_MODEL = {model: task for task, model in DEFAULT_MODELS.items()}


def hf_task_of(model: str, payload: dict[str, Any]) -> str:
    """Which task an hf-inference request is for: what the body says (see the module docstring), else the
    task the model is the default of (huggingface_hub sends a bare `{"inputs"}` for several tasks), else
    text classification."""
    parameters = _parameters(payload)
    if "stream" in payload or {"max_new_tokens", "details"} & parameters.keys():
        return "text-generation"
    if "aggregation_strategy" in parameters:
        return "token-classification"
    if {"generate_parameters", "truncation", "clean_up_tokenization_spaces"} & parameters.keys():
        return "summarization"
    return _TASK_OF_MODEL.get(model, "text-classification")


def tasks_table() -> dict[str, dict[str, Any]]:
    """`GET /api/tasks` as the Hub answers it, reduced to what clients read: each task's default models."""
    return {task: {"id": task, "widgetModels": [model], "type": "text"} for task, model in DEFAULT_MODELS.items()}


def _summary_length(parameters: dict[str, Any]) -> int | None:
    generate_parameters = parameters.get("generate_parameters") or {}
    if not isinstance(generate_parameters, dict):
        raise BackendRequestError(422, "`generate_parameters` must be an object")
    return _optional_int(generate_parameters, "max_length")


class DevBackend:
    """The ASGI app; one instance per process holds the fault and counter state."""

    def __init__(self) -> None:
        self.state = BackendState()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        path: str = scope["path"]
        try:
            if path.startswith("/_control/"):
                await self._control(method, path, scope, receive, send)
            elif method == "GET":
                await self._get(path, send)
            elif method == "POST" and (path in ("/", "/generate", "/generate_stream") or path.startswith("/models/")):
                await self._inference(path, scope, receive, send)
            else:
                await _send_json(send, 404, {"error": f"no route {method} {path}", "error_type": "not_found"})
        except BackendRequestError as exc:
            await _send_json(send, exc.status, {"error": exc.message, "error_type": exc.error_type})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _get(self, path: str, send: Send) -> None:
        if path == "/health":
            await _send_json(send, 200, {})
        elif path == "/api/tasks":
            await _send_json(send, 200, tasks_table())
        elif path == "/info":
            await _send_json(
                send,
                200,
                {
                    "model_id": MODEL_ID,
                    "model_dtype": "none",
                    "model_device_type": "cpu",
                    "max_input_tokens": 4096,
                    "max_total_tokens": 8192,
                    "version": "dev",
                    "router": "infernet-kit-dev-backend",
                },
            )
        else:
            await _send_json(send, 404, {"error": f"no route GET {path}", "error_type": "not_found"})

    async def _inference(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        body = await _read_body(scope, receive)
        state.requests += 1
        state.by_path[path] += 1
        if log.isEnabledFor(logging.INFO):
            tag = next((v.decode("latin-1") for k, v in scope["headers"] if k == _TAG_HEADER), "untagged")
            log.info("request %s %s", tag, path)
        faults = state.faults
        if faults.latency_ms > 0:
            await _hold(state, scope, faults.latency_ms)
        if faults.fail_next > 0:
            faults.fail_next -= 1
            state.failed += 1
            error: dict[str, Any] = {"error": faults.error}
            if faults.error_type is not None:
                error["error_type"] = faults.error_type
            await _send_json(send, faults.status, error)
            return
        payload = _json_object(body)
        if path.startswith("/models/"):
            await self._hf(path.removeprefix("/models/"), payload, send)
        elif path == "/generate_stream" or (path == "/" and payload.get("stream") is True):
            await _send_token_stream(send, payload, "", faults.token_delay_ms)
        elif path == "/generate":
            await _send_json(send, 200, _generation(payload, ""))
        else:
            await _send_json(send, 200, [_generation(payload, "")])

    async def _hf(self, model: str, payload: dict[str, Any], send: Send) -> None:
        task = hf_task_of(model, payload)
        if task == "text-generation":
            if payload.get("stream") is True:
                await _send_token_stream(send, payload, model, self.state.faults.token_delay_ms)
            else:
                await _send_json(send, 200, [_generation(payload, model)])
            return
        text = _text_input(payload)
        if task == "token-classification":
            await _send_json(send, 200, fake_models.token_classify(text))
        elif task == "summarization":
            summary = fake_models.summarize(text, _summary_length(_parameters(payload)))
            await _send_json(send, 200, [summary])
        else:
            await _send_json(send, 200, [fake_models.classify(text)])

    async def _control(self, method: str, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        if method == "GET" and path == "/_control/stats":
            stats = {
                "requests": state.requests,
                "failed": state.failed,
                "by_path": dict(state.by_path),
                "held_ports": sorted(+state.held_ports),
                "peak_held": state.peak_held,
            }
            await _send_json(send, 200, stats)
        elif method == "POST" and path == "/_control/reset":
            self.state = BackendState()
            await _send_json(send, 200, {})
        elif method == "POST" and path == "/_control/faults":
            payload = _json_object(await _read_body(scope, receive))
            try:
                state.faults = Faults(
                    fail_next=int(payload.get("fail_next", 0)),
                    status=int(payload.get("status", 503)),
                    error=str(payload.get("error", "injected fault")),
                    error_type=payload.get("error_type"),
                    latency_ms=float(payload.get("latency_ms", 0.0)),
                    token_delay_ms=float(payload.get("token_delay_ms", 0.0)),
                )
            except (TypeError, ValueError) as exc:
                raise BackendRequestError(400, f"bad fault spec: {exc}") from exc
            await _send_json(send, 200, {})
        else:
            await _send_json(send, 404, {"error": f"no route {method} {path}", "error_type": "not_found"})


def create_app() -> DevBackend:
    """A fresh dev backend (its own fault and counter state)."""
    return DevBackend()
