"""A minimal container that speaks the container protocol and answers with what it was sent.

Like Infernet's hello-world container, it stands for any user container in node tests: chaining (what the
second container receives), per-container bearer tokens, timeouts and error answers. Its behaviour is
steered by the job's data:
- `{"sleep": seconds}` delays the answer;
- `{"hold": name}` answers once `POST /release/<name>` is called (a test decides when a job may end, instead of
  hoping a sleep outlasts what it does meanwhile);
- `{"fail": status, "description": text}` answers `status` with a JSON error `{"code", "name", "description"}`;
- `{"fail_plain": status}` answers `status` with a plain-text body;
- `{"break_after": n}` answers 200, sends the first `n` bytes of its answer and drops the connection;
- `{"answer_raw": text, "repeat": n}` answers 200 with `text` repeated `n` times as its body (a hostile answer).
Otherwise it answers `{"output": {"received": <request body>, "authorization": <header or null>}}`; with
destination STREAM it streams the JSON of that answer in small chunks.

Run: `python -m infernet_kit.testing.echo_container PORT`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from infernet_kit.protocol import JobLocation

_holds: dict[str, asyncio.Event] = {}


def _hold(name: str) -> asyncio.Event:
    return _holds.setdefault(name, asyncio.Event())


async def _release(request: Request) -> Response:
    _hold(request.path_params["name"]).set()
    return JSONResponse({"released": request.path_params["name"]})


async def _service_output(request: Request) -> Response:
    body: dict[str, Any] = await request.json()
    data = body.get("data")
    if isinstance(data, dict):
        if isinstance(data.get("sleep"), int | float):
            await asyncio.sleep(float(data["sleep"]))
        if isinstance(data.get("hold"), str):
            await _hold(data["hold"]).wait()
        if isinstance(data.get("fail"), int):
            description = str(data.get("description", "echo container failure"))
            error = {"code": str(data["fail"]), "name": "EchoFailure", "description": description}
            return JSONResponse(error, status_code=data["fail"])
        if isinstance(data.get("fail_plain"), int):
            return PlainTextResponse("plain failure", status_code=data["fail_plain"])
        if isinstance(data.get("answer_raw"), str):
            raw = data["answer_raw"] * int(data.get("repeat", 1))
            return Response(raw.encode(), media_type="application/json")
    answer = {"output": {"received": body, "authorization": request.headers.get("authorization")}}
    if isinstance(data, dict) and isinstance(data.get("break_after"), int):
        return StreamingResponse(_broken(json.dumps(answer).encode()[: data["break_after"]]))
    if body.get("destination") == JobLocation.STREAM:
        text = json.dumps(answer).encode()

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(text), 16):
                yield text[start : start + 16]

        return StreamingResponse(chunks(), media_type="application/octet-stream")
    return JSONResponse(answer)


async def _broken(head: bytes) -> AsyncIterator[bytes]:
    yield head
    raise ConnectionAbortedError("echo container: answer broken off on purpose")


async def _root(request: Request) -> Response:
    return JSONResponse({"service": "echo"})


async def _resources(request: Request) -> Response:
    if "model_id" in request.query_params:
        return JSONResponse({"supported": request.query_params["model_id"] == "echo"})
    return JSONResponse(
        {"service_id": "echo", "hardware_capabilities": [], "compute_capability": [{"id": "ml", "type": "echo"}]}
    )


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/", _root, methods=["GET"]),
            Route("/service-resources", _resources, methods=["GET"]),
            Route("/service_output", _service_output, methods=["POST"]),
            Route("/release/{name}", _release, methods=["POST"]),
        ]
    )


def main() -> None:
    import uvicorn

    uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()
