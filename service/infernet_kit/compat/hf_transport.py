"""huggingface_hub 2.x internals the services lean on for speed (why: `infernet_kit.services.transport`).

- `hf_response_hook`: the library's response event hook, from its private `huggingface_hub.utils._http`; it
  reads error bodies so failures carry the backend's message.
- `LeanAsyncClient`: overrides `httpx2.AsyncClient.post`, the call the inference client makes for every
  non-streaming request, to send plain JSON POSTs straight to aiohttp.
`tests/toolchain/test_compat_shapes.py` fails, naming the change, when either moves or changes shape.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import httpx2
from huggingface_hub.utils._http import async_hf_response_event_hook as hf_response_hook

from infernet_kit.services.transport import AiohttpTransport, aiohttp_timeout

__all__ = ["LEAN_POST_KEYWORDS", "LeanAsyncClient", "hf_response_hook", "pooled_async_client"]

# The keyword arguments of `post` the lean path understands; any other sends the request the normal way.
LEAN_POST_KEYWORDS = frozenset({"json", "data", "headers", "cookies", "timeout"})


class LeanAsyncClient(httpx2.AsyncClient):
    """An `httpx2.AsyncClient` whose plain JSON POSTs skip httpx's request pipeline (see module docstring).

    The answer is a fully read `httpx2.Response` bound to its request, so `raise_for_status`, `.json()` and
    the inference client's error parsing behave as usual. Anything else (streams, cookies, form data,
    redirects) takes the normal httpx path over the same aiohttp pool.
    """

    def __init__(self, transport: AiohttpTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self._aiohttp = transport
        self._urls: dict[str, httpx2.URL] = {}

    def _url(self, url: str) -> httpx2.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) > 1024:
                self._urls.clear()
            parsed = self._urls[url] = httpx2.URL(url)
        return parsed

    async def post(self, url: Any, **kwargs: Any) -> httpx2.Response:
        lean = isinstance(url, str) and kwargs.keys() <= LEAN_POST_KEYWORDS
        if not lean or kwargs.get("data") is not None or kwargs.get("cookies"):
            return await super().post(url, **kwargs)
        body = json.dumps(kwargs.get("json"), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items() if v is not None}
        headers.setdefault("content-type", "application/json")
        timeout = kwargs.get("timeout")
        seconds = timeout if isinstance(timeout, int | float) else None
        limits = {"connect": seconds, "read": seconds}
        request = httpx2.Request("POST", self._url(url))
        response = await self._aiohttp.send("POST", url, headers, body, aiohttp_timeout(limits))
        try:
            content = await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx2.ReadTimeout(f"timed out reading the answer of {url}", request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx2.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc
        finally:
            response.release()
        if response.status < 300:
            # Success: the inference client only reads `.content`, so skip copying the headers.
            return httpx2.Response(response.status, content=content, request=request)
        return httpx2.Response(response.status, headers=response.raw_headers, content=content, request=request)


def pooled_async_client() -> httpx2.AsyncClient:
    """The `httpx2.AsyncClient` factory for `huggingface_hub.set_async_client_factory`.

    The library's request hook only stamps a random trace id and logs at debug level; its response hook reads
    error bodies so failures carry the backend's message, so that one stays.
    """
    return LeanAsyncClient(
        AiohttpTransport(), event_hooks={"response": [hf_response_hook]}, follow_redirects=True, timeout=None
    )
