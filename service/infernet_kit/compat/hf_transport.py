"""huggingface_hub 2.x internals the services lean on for speed (why: `infernet_kit.services.transport`).

- `hf_response_hook`: the library's response event hook, from its private `huggingface_hub.utils._http`; it
  reads error bodies so failures carry the backend's message.
- `LeanAsyncClient`: overrides `httpx2.AsyncClient.post`, the call the inference client makes for every
  non-streaming request, to send plain JSON POSTs straight to the kit's lean client (`infernet_kit.http_client`,
  `http://` backends) or aiohttp (`https://`).
`tests/toolchain/test_compat_shapes.py` fails, naming the change, when either moves or changes shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import httpx2
from huggingface_hub.utils._http import async_hf_response_event_hook as hf_response_hook

from infernet_kit.http_client import (
    Answer,
    BrokenAnswer,
    Endpoint,
    HttpPool,
    NoAnswer,
    UnreadableAnswer,
    resend_logger,
)
from infernet_kit.protocol.container import REQUEST_TAG_HEADER
from infernet_kit.retrying import describe
from infernet_kit.services.transport import AiohttpTransport, aiohttp_timeout, request_tag

log = logging.getLogger("infernet_kit.services")

__all__ = ["LEAN_POST_KEYWORDS", "LeanAsyncClient", "hf_response_hook", "pooled_async_client", "read_response"]

# The keyword arguments of `post` the lean path understands; any other sends the request the normal way.
LEAN_POST_KEYWORDS = frozenset({"json", "data", "headers", "cookies", "timeout"})


class LeanAsyncClient(httpx2.AsyncClient):
    """An `httpx2.AsyncClient` whose plain JSON POSTs skip httpx's request pipeline (see module docstring).

    The answer is a fully read `httpx2.Response` bound to its request, so `raise_for_status`, `.json()` and
    the inference client's error parsing behave as usual. Anything else (streams, cookies, form data,
    redirects) takes the normal httpx path over aiohttp's pool. `connections` is the worker's lean pool, whose
    bound the transport's requests take a place in too; its owner (the service) closes it.
    """

    def __init__(self, transport: AiohttpTransport, connections: HttpPool, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self._aiohttp = transport
        self._lean = connections
        self._urls: dict[str, tuple[Endpoint | None, httpx2.Request]] = {}

    def _url(self, url: str) -> tuple[Endpoint | None, httpx2.Request]:
        """The URL's lean endpoint when it is `http://`, and the request its responses are bound to (for the URL
        in errors; never sent, so one serves every call)."""
        known = self._urls.get(url)
        if known is None:
            if len(self._urls) > 1024:
                self._urls.clear()
            lean = Endpoint.of(url, {}) if url.startswith("http://") else None
            known = self._urls[url] = (lean, httpx2.Request("POST", url))
        return known

    async def post(self, url: Any, **kwargs: Any) -> httpx2.Response:
        lean = isinstance(url, str) and kwargs.keys() <= LEAN_POST_KEYWORDS
        if not lean or kwargs.get("data") is not None or kwargs.get("cookies"):
            return await super().post(url, **kwargs)
        body = json.dumps(kwargs.get("json"), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items() if v is not None}
        headers.setdefault("content-type", "application/json")
        timeout = kwargs.get("timeout")
        seconds = timeout if isinstance(timeout, int | float) else None
        endpoint, request = self._url(url)
        if endpoint is not None:
            return read_response(await self._lean_post(endpoint, url, body, headers, seconds, request), request)
        status, answer_headers, content = await self._aiohttp_post(url, body, headers, seconds, request)
        if status < 300:
            # Success: the inference client only reads `.content`, so skip copying the headers.
            return httpx2.Response(status, content=content, request=request)
        return httpx2.Response(status, headers=answer_headers, content=content, request=request)

    async def _lean_post(
        self,
        endpoint: Endpoint,
        url: str,
        body: bytes,
        headers: dict[str, str],
        seconds: float | None,
        request: httpx2.Request,
    ) -> Answer:
        """POST over the lean client; its failures come out as the httpx2 exceptions aiohttp's were mapped to.
        A stale kept-alive connection is the lean client's to resend on (`http_client`); this only logs it."""
        tag = request_tag.get()
        if tag is not None:
            headers[REQUEST_TAG_HEADER] = tag

        resent = resend_logger(log, f"backend {url} ({tag})" if tag else f"backend {url}")
        try:
            async with asyncio.timeout(seconds):
                return await self._lean.post(endpoint, body, headers=headers, on_resend=resent)
        except TimeoutError as exc:
            raise httpx2.ReadTimeout(f"timed out waiting for {url}", request=request) from exc
        except NoAnswer as exc:
            if exc.connecting:
                where = f"{endpoint.host}:{endpoint.port}"
                raise httpx2.ConnectError(f"cannot connect to {where}: {exc}", request=request) from exc
            raise httpx2.RemoteProtocolError(f"no answer: {describe(exc)}", request=request) from exc
        except (BrokenAnswer, UnreadableAnswer) as exc:
            raise httpx2.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc

    async def _aiohttp_post(
        self, url: str, body: bytes, headers: dict[str, str], seconds: float | None, request: httpx2.Request
    ) -> Answer:
        """POST over aiohttp (an `https://` backend)."""
        limits = {"connect": seconds, "read": seconds}
        response = await self._aiohttp.send("POST", url, headers, body, aiohttp_timeout(limits))
        try:
            content = await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx2.ReadTimeout(f"timed out reading the answer of {url}", request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx2.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc
        finally:
            self._aiohttp.release(response)
        return Answer(response.status, response.headers, content)


def read_response(answer: Answer, request: httpx2.Request) -> httpx2.Response:
    """A lean client's whole answer as the `httpx2.Response` httpx builds once it has read a body, without
    httpx's decode pass over it (the body came decoded: its `content-encoding` is dropped), which cost ~5 % of a
    worker's CPU per request. Sets httpx2's private `_content`, where `.content` reads it."""
    status, headers, body = answer
    kept = {k: v for k, v in headers.items() if k != "content-encoding"} if "content-encoding" in headers else headers
    response = httpx2.Response(status, headers=kept, stream=httpx2.ByteStream(body), request=request)
    response._content = body
    response.is_stream_consumed = response.is_closed = True
    return response


def pooled_async_client(connections: HttpPool) -> httpx2.AsyncClient:
    """The `httpx2.AsyncClient` factory for `huggingface_hub.set_async_client_factory` (with `connections`, the
    worker's lean pool, bound), every client of a worker counting against that pool's bound.

    The library's request hook only stamps a random trace id and logs at debug level; its response hook reads
    error bodies so failures carry the backend's message, so that one stays.
    """
    return LeanAsyncClient(
        AiohttpTransport(connections.slot()),
        connections,
        event_hooks={"response": [hf_response_hook]},
        follow_redirects=True,
        timeout=None,
    )
