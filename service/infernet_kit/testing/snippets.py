"""Run a documentation snippet as printed: Python with top-level `await`, as the seed pages write it."""

from __future__ import annotations

import ast
from typing import Any


async def run_python_snippet(text: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Run `text` in `namespace` (the names the snippet leaves to its reader) and return its variables."""
    code = compile(text, "<snippet>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)
    if result is not None:
        await result
    return namespace
