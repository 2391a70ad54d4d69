"""httpx's one-call functions (`get`, `post`, ...) for tests, with the process's one TLS context
(`infernet_kit.tls`): each call still makes its own client and connection, as `httpx.get()` does, but no longer
parses the CA bundle again (~50 ms of CPU a call on a slow core, most of a polling test's CPU)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from infernet_kit.tls import tls_context

__all__ = ["delete", "get", "post", "put", "request", "stream"]


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, url, verify=tls_context(), **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, verify=tls_context(), **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, verify=tls_context(), **kwargs)


def put(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.put(url, verify=tls_context(), **kwargs)


def delete(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.delete(url, verify=tls_context(), **kwargs)


@contextmanager
def stream(method: str, url: str, **kwargs: Any) -> Iterator[httpx.Response]:
    with httpx.stream(method, url, verify=tls_context(), **kwargs) as response:
        yield response
