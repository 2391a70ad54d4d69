"""Reading and parsing JSON request bodies: the one way the node, the services and the dev backend do it.

`json.loads` recurses on the C stack, and importing eth_account/web3 (py_ecc) raises Python's recursion limit to
100,000, so a body nested ~70,000 levels deep crashes the process instead of raising. pydantic-core's parser
stops at `MAX_DEPTH` levels, refuses integers past Python's int-string limit, lone surrogates, invalid UTF-8 and
NaN, without recursing in Python. Every problem is a `BodyError` that each app turns into its own error shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic_core import from_json

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]

# pydantic-core's (jiter's) fixed nesting limit: arrays and objects deeper than this are refused.
MAX_DEPTH = 200
# Python's default int-string conversion limit: longer integer literals are refused.
MAX_INT_DIGITS = 4300

_POSITION = re.compile(r"^(?P<reason>.*) at line (?P<line>\d+) column (?P<column>\d+)$")


class BodyError(ValueError):
    """A request body the app refuses: `status`, a short `error` and its `params` (the node's shape), a service
    error `name` and a one-line `detail` naming the problem (the services' and the dev backend's shapes)."""

    def __init__(
        self, status: int, error: str, detail: str, params: dict[str, Any] | None = None, name: str = "InvalidJSON"
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.name = name
        self.detail = detail
        self.params = params or {}


def too_large(limit: int, declared: int | None = None) -> BodyError:
    size = f"request body of {declared} bytes" if declared is not None else "request body"
    detail = f"{size} exceeds {limit} bytes"
    return BodyError(413, "Request body too large", detail, {"limit_bytes": limit}, "PayloadTooLarge")


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The request's Content-Length, or None when absent or not a plausible number (the read still counts)."""
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() and len(value) <= 18 else None
    return None


async def read_body(receive: Receive, limit: int, content_length: int | None) -> bytes:
    """The whole body of an ASGI request, refusing (413) anything over `limit` bytes before reading it all."""
    if content_length is not None and content_length > limit:
        raise too_large(limit, content_length)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            detail = "client disconnected before sending the body"
            raise BodyError(499, "Client disconnected", detail, name="ClientDisconnected")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _invalid(reason: str, params: dict[str, Any]) -> BodyError:
    error = f"Request body is not valid JSON: {reason}"
    return BodyError(400, error, f"request body is not valid JSON: {reason}", params)


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(item) for item in value.values())
    if isinstance(value, list):
        return any(_non_finite(item) for item in value)
    return False


def parse_json(raw: bytes) -> Any:
    """`raw` as JSON; a `BodyError` (400) naming the problem when it is empty, invalid, too deep or has a number
    Python cannot hold exactly (an integer over `MAX_INT_DIGITS` digits, a float beyond its range)."""
    if not raw.strip():
        raise BodyError(400, "Request body is empty: expected JSON", "request body is empty: expected JSON")
    try:
        value = from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        text = str(exc)
        found = _POSITION.match(text)
        reason = found["reason"] if found else text
        where = {"line": int(found["line"]), "column": int(found["column"])} if found else {}
        if reason == "recursion limit exceeded":
            detail = f"request body is nested deeper than {MAX_DEPTH} levels"
            too_deep = "Request body is nested too deeply"
            raise BodyError(400, too_deep, detail, {"max_depth": MAX_DEPTH, **where}) from None
        if reason == "number out of range":
            detail = f"request body has an integer longer than {MAX_INT_DIGITS} digits"
            out_of_range = "Request body has a number out of range"
            raise BodyError(400, out_of_range, detail, {"max_digits": MAX_INT_DIGITS, **where}) from None
        raise _invalid(reason, where) from None
    # The parsed values are walked for a float that overflowed: cheaper than any scan of the bytes (a regex
    # costs ~30 ns a byte, 13-40 us for a 450-byte container answer full of hex digits; the walk ~2 us).
    if _non_finite(value):
        detail = "request body has a number beyond the range of a float"
        raise BodyError(400, "Request body has a number out of range", detail)
    return value
