"""The backend HTTP client of a service worker: one `AsyncInferenceClient` and one connection pool per process.

`huggingface_hub` builds an `httpx2.AsyncClient` per inference client; the factory installed here
(`infernet_kit.compat.hf_transport`) gives it the worker's pools: the kit's lean client for JSON POSTs to an
`http://` backend, the aiohttp transport for the rest (`https://`, streams), every call of every client of the
worker holding a place in the lean pool's one bound (`SERVICE_MAX_CONNECTIONS`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor, Future
from functools import partial
from typing import Any, TypeVar

from huggingface_hub import AsyncInferenceClient, set_async_client_factory

from infernet_kit.compat.hf_transport import pooled_async_client
from infernet_kit.http_client import HttpPool

# The library looks the token up on every call when none is given (environment, then a file read), and would
# send an ambient Hugging Face login to whatever server is configured. A placeholder stops the look-up; the
# `authorization` header below decides what is really sent (None removes the header).
_NO_TOKEN = "no-token"
T = TypeVar("T")


def inference_client(
    *,
    base_url: str | None,
    token: str | None,
    timeout: float | None,
    connections: HttpPool,
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    ambient_token: bool = False,
) -> AsyncInferenceClient:
    """An inference client sending exactly `token` as bearer (or, with `ambient_token`, the user's HF login), its
    calls going through `connections` (the worker's lean pool) or taking a place in its bound."""
    set_async_client_factory(partial(pooled_async_client, connections))
    request_headers: dict[str, str | None] = dict(headers or {})
    if token is not None:
        request_headers["authorization"] = f"Bearer {token}"
    elif not ambient_token:
        request_headers["authorization"] = None
    client_token = token if token is not None else (None if ambient_token else _NO_TOKEN)
    return AsyncInferenceClient(
        model=base_url,
        token=client_token,
        timeout=timeout,
        headers=request_headers,  # type: ignore[arg-type]
        cookies=cookies or None,
    )


async def close_client(client: AsyncInferenceClient) -> None:
    """Close an inference client and its connection pool."""
    await client.close()  # type: ignore[no-untyped-call]


class InlineExecutor(Executor):
    """Runs submitted functions at once on the calling thread.

    The inference client hands each parsed response to `asyncio.to_thread` just to return it unchanged; a
    thread hop per request costs more than the whole call. Installed as a worker's default executor, where
    nothing else uses it (uvloop resolves host names on its own thread pool).
    """

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def use_inline_executor() -> None:
    """Make the running loop's default executor inline (call from the worker's event loop)."""
    asyncio.get_running_loop().set_default_executor(InlineExecutor())
