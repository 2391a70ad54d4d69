"""A service's OpenAPI document (`GET /openapi.json`): the container protocol's routes (PROTOCOL.md section 2),
with the request body from the model the service parses and errors in its `{"code", "name", "description"}` model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from infernet_kit import __version__
from infernet_kit.openapi import Answer, Operation, Query, build_document
from infernet_kit.protocol import ServiceError, ServiceRequest, ServiceResources


class Ready(BaseModel):
    status: Literal["ready"]
    service_id: str
    worker: int


class Supported(BaseModel):
    supported: bool


_ERROR = Answer("Refused or failed: what is wrong in `description`", ServiceError)
_ERRORS: dict[int | str, Answer] = {status: _ERROR for status in (400, 413, 422, 502, 503, 504)}
_STREAM = "text/plain; charset=utf-8"


def document(service_id: str) -> dict[str, Any]:
    operations = [
        Operation("GET", "/", "Readiness", {200: Answer("The service is serving", Ready)}),
        Operation(
            "GET",
            "/service-resources",
            "What the service runs; with `model_id`, whether it supports that model",
            {200: Answer("Resources, or `{supported}`", ServiceResources | Supported)},
            query=(Query("model_id", str, "A model id to ask about"),),
        ),
        Operation(
            "POST",
            "/service_output",
            "Run one job: the answer as JSON, or streamed text for destination 2 (stream)",
            {**_ERRORS, 200: Answer("The output (JSON), or the stream (text)", Any, raw=_STREAM)},
            body=ServiceRequest,
        ),
        Operation(
            "GET",
            "/metrics",
            "Prometheus metrics of the worker that answers (docs/METRICS.md)",
            {200: Answer("Prometheus text exposition format", raw="text/plain")},
        ),
        Operation("GET", "/openapi.json", "This document", {200: Answer("OpenAPI 3.1", dict[str, Any])}),
    ]
    return build_document(f"Infernet service {service_id}", __version__, "Infernet container protocol", operations)
