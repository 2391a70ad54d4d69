"""The backend HTTP client of a service worker: one `AsyncInferenceClient` and one connection pool per process.

`huggingface_hub` builds a fresh `httpx2.AsyncClient` per inference client, with httpx's small default pool;
under 64 requests in flight that means connection churn, so the factory installed here keeps a large pool.
"""

from __future__ import annotations

import httpx2
from huggingface_hub import AsyncInferenceClient, set_async_client_factory
from huggingface_hub.utils._http import async_hf_request_event_hook, async_hf_response_event_hook

POOL_LIMITS = httpx2.Limits(max_connections=512, max_keepalive_connections=256, keepalive_expiry=30.0)
# The library looks the token up on every call when none is given (environment, then a file read), and would
# send an ambient Hugging Face login to whatever server is configured. A placeholder stops the look-up; the
# `authorization` header below decides what is really sent (None removes the header).
_NO_TOKEN = "no-token"


def _pooled_async_client() -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        event_hooks={"request": [async_hf_request_event_hook], "response": [async_hf_response_event_hook]},
        follow_redirects=True,
        timeout=None,
        limits=POOL_LIMITS,
    )


def inference_client(
    *,
    base_url: str | None,
    token: str | None,
    timeout: float | None,
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    ambient_token: bool = False,
) -> AsyncInferenceClient:
    """An inference client sending exactly `token` as bearer (or, with `ambient_token`, the user's HF login)."""
    set_async_client_factory(_pooled_async_client)
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
