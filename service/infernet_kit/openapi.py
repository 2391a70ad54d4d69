"""OpenAPI 3.1 documents built from the pydantic models at an app's boundary, so the document cannot drift from
what the app parses. Each app lists its `Operation`s (node: `node.openapi`, services: `services.openapi`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

JSON = "application/json"


@dataclass(frozen=True)
class Query:
    """A query parameter; `schema` is a Python type (`str`, `bool`, `list[str]`...)."""

    name: str
    schema: Any
    description: str = ""


@dataclass(frozen=True)
class Answer:
    """One response: a JSON body of type `schema` (when given) and/or raw text of media type `raw`."""

    description: str
    schema: Any = None
    raw: str | None = None
    # For `raw="text/event-stream"`: the type of each server-sent event (else the raw body is a string).
    event: Any = None


@dataclass(frozen=True)
class Operation:
    """One route: `body` is the request body's Python type (a pydantic model, a union, a list...) or None;
    `answers` by status (an int, or a range such as "4XX")."""

    method: str
    path: str
    summary: str
    answers: dict[int | str, Answer]
    body: Any = None
    query: tuple[Query, ...] = ()


class _Schemas:
    """JSON Schemas of Python types with their definitions gathered under `components.schemas`."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def of(self, python_type: Any) -> dict[str, Any]:
        schema = TypeAdapter(python_type).json_schema(ref_template="#/components/schemas/{model}")
        self.components.update(schema.pop("$defs", {}))
        return schema


def build_document(title: str, version: str, description: str, operations: list[Operation]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `operations`."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        entry: dict[str, Any] = {"summary": operation.summary, "responses": {}}
        if operation.query:
            entry["parameters"] = [
                {
                    "name": query.name,
                    "in": "query",
                    "required": False,
                    "description": query.description,
                    "schema": schemas.of(query.schema),
                    **({"style": "form", "explode": True} if _is_list(query.schema) else {}),
                }
                for query in operation.query
            ]
        if operation.body is not None:
            entry["requestBody"] = {"required": True, "content": {JSON: {"schema": schemas.of(operation.body)}}}
        for status, answer in operation.answers.items():
            content: dict[str, Any] = {}
            if answer.schema is not None:
                content[JSON] = {"schema": schemas.of(answer.schema)}
            if answer.raw is not None:
                item = {"type": "string"} if answer.event is None else schemas.of(answer.event)
                content[answer.raw] = {"schema": item}
            entry["responses"][str(status)] = {"description": answer.description, "content": content}
        paths.setdefault(operation.path, {})[operation.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": schemas.components},
    }


def _is_list(python_type: Any) -> bool:
    return getattr(python_type, "__origin__", None) is list
