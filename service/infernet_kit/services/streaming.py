"""Streaming generated tokens from a TGI-compatible backend (both services' stream destination)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from huggingface_hub import AsyncInferenceClient

from infernet_kit.services.calls import call_backend
from infernet_kit.services.clients import close_client
from infernet_kit.services.retry import RetryParams


async def open_token_stream(
    client: AsyncInferenceClient, retry: RetryParams, prompt: str, parameters: dict[str, Any], model: str | None = None
) -> AsyncIterator[bytes]:
    """Stream generated tokens' text as bytes, retrying until the first token arrives.

    Streams use their own short-lived client: the library keeps every streamed response in the client's
    exit stack until the client is closed, which would grow without bound on the shared one.
    """

    async def first_token() -> tuple[AsyncIterator[str], str | None]:
        tokens = await client.text_generation(prompt, stream=True, model=model, **parameters)
        iterator = aiter(tokens)
        return iterator, await anext(iterator, None)

    try:
        iterator, first = await call_backend(retry, first_token, "text generation stream")
    except BaseException:
        await close_client(client)
        raise

    async def chunks() -> AsyncIterator[bytes]:
        try:
            if first is not None:
                yield first.encode()
            async for token in iterator:
                yield token.encode()
        finally:
            await close_client(client)

    return chunks()
