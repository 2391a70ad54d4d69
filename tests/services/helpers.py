"""Assertions and requests shared by the services tests."""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx


@cache
def client() -> httpx.Client:
    """One keep-alive client for the whole test session (a new one per call costs ~50 ms of TLS setup)."""
    return httpx.Client(timeout=10, trust_env=False)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return client().get(url, **kwargs)


def post(url: str, payload: Any = None, *, content: bytes | None = None, timeout: float = 10) -> httpx.Response:
    """`POST {url}/service_output` with a JSON payload (or raw `content`)."""
    if content is not None:
        return client().post(f"{url}/service_output", content=content, timeout=timeout)
    return client().post(f"{url}/service_output", json=payload, timeout=timeout)


def assert_error(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    """An error answer in the services' model with `status`, whose description mentions every fragment."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "name", "description"}, body
    assert body["code"] == str(status)
    for fragment in fragments:
        assert fragment.lower() in body["description"].lower(), body
    return body
