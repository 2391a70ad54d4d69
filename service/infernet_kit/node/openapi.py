"""The node's OpenAPI document (`GET /openapi.json`): its routes, with request bodies from the models the API
parses and answers in the reference's shapes (PROTOCOL.md section 3)."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import BaseModel

from infernet_kit import __version__
from infernet_kit.node.api import DASHBOARD_FILES, DelegatedJobRequest, OffchainJobRequest, StatusReport
from infernet_kit.node.chain.report import SubscriptionView
from infernet_kit.node.sse import ServerSentEvent
from infernet_kit.openapi import Answer, Operation, Query, build_document


class ErrorBody(BaseModel):
    """Every refusal: the reason and the values it concerns."""

    error: str
    params: dict[str, Any]


class Health(BaseModel):
    status: Literal["healthy"]


class ContainerInfo(BaseModel):
    id: str
    description: str
    external: bool
    image: str


class Pending(BaseModel):
    offchain: int
    onchain: int


class ChainInfo(BaseModel):
    enabled: bool
    address: str
    judged_block: int | None = None


class NodeInfo(BaseModel):
    version: str
    containers: list[ContainerInfo]
    pending: Pending
    chain: ChainInfo


class JobId(BaseModel):
    id: str


class JobRecord(BaseModel):
    """A job as `GET /api/jobs?id=` reports it; `intermediate_results` only when asked for."""

    id: str
    status: Literal["running", "success", "failed"]
    result: dict[str, Any] | None
    intermediate_results: list[dict[str, Any]] | None = None


class SubscriptionsAnswer(BaseModel):
    """The chain side's view; `judged_block` is the newest block it has acted on."""

    judged_block: int | None
    subscriptions: list[SubscriptionView]


class Empty(BaseModel):
    """`{}`: accepted."""


JobRequest = OffchainJobRequest | DelegatedJobRequest
_REFUSED = Answer("Refused: the reason in `error`, the values in `params`", ErrorBody)


def _answers(ok: Answer, *refused: int | str, limited: bool = True) -> dict[int | str, Answer]:
    answers: dict[int | str, Answer] = {200: ok}
    if limited:
        answers[429] = Answer("Rate limited (`server.rate_limit`)", ErrorBody)
    answers.update({status: _REFUSED for status in refused})
    return answers


OPERATIONS = [
    Operation("GET", "/health", "Liveness", _answers(Answer("The node is serving", Health), limited=False)),
    Operation("GET", "/info", "Version, containers, pending jobs, chain", _answers(Answer("Info", NodeInfo))),
    Operation(
        "GET",
        "/resources",
        "Each container's `/service-resources` answer, by container id",
        _answers(Answer("By container id", dict[str, Any])),
        query=(Query("model_id", str, "Ask each container whether it supports this model"),),
    ),
    Operation(
        "POST",
        "/api/jobs",
        "Run an off-chain job, or accept a delegated subscription",
        _answers(
            Answer(
                "The job's id (off-chain) or `{}` (delegated); with `wait`, the job's record (`x-infernet-wait`)",
                JobId | JobRecord | Empty,
            ),
            400,
            403,
            404,
            413,
            503,
        ),
        body=JobRequest,
        query=(
            Query(
                "wait",
                float,
                "Off-chain job only: hold the answer until the job is no longer running, for up to this many seconds "
                "(at most 30), and answer with its record as `GET /api/jobs?id=` gives it instead of its id alone "
                "(the `x-infernet-wait` header gives the seconds granted). 400 with a delegated subscription, "
                "a batch or a stream",
            ),
            Query("intermediate", bool, "With `wait`: include the record's intermediate results"),
        ),
    ),
    Operation(
        "GET",
        "/api/jobs",
        "Job records by id, else the caller's job ids",
        _answers(Answer("Records (with `id`) or ids", list[JobRecord] | list[str]), 400, 503),
        query=(
            Query("id", list[str], "Job ids to report"),
            Query("intermediate", bool, "Include intermediate results"),
            Query("pending", bool, "Only running (true) or finished (false) jobs of the caller"),
            Query(
                "wait",
                float,
                "With `id`: hold the answer until none of the jobs is running, for up to this many seconds "
                "(at most 30; the answer's `x-infernet-wait` header gives the seconds granted)",
            ),
        ),
    ),
    Operation(
        "POST",
        "/api/jobs/batch",
        "Several job requests; one answer per request, in order (each job costs a rate-limit token)",
        _answers(Answer("Per request: its id, `{}` or its refusal", list[JobId | ErrorBody | Empty]), 400, 413, 503),
        body=list[JobRequest],
    ),
    Operation(
        "POST",
        "/api/jobs/stream",
        "Run an off-chain job and stream its output: the job id line, then the bytes; a container's refusal "
        "before the first byte is passed on with its 4xx status",
        _answers(Answer("Job id line, then the output", raw="application/octet-stream"), "4XX", 502, 503),
        body=OffchainJobRequest,
    ),
    Operation(
        "PUT",
        "/api/status",
        "Record the status of a job a local process ran itself (loopback clients only)",
        _answers(Answer("Recorded", Empty), 400, 403, 409, 413, 503),
        body=StatusReport,
    ),
    Operation(
        "GET",
        "/api/subscriptions",
        "Subscriptions this node has seen: tracked, or skipped with the reason; per interval delivered (tx, block, "
        "gas) or the last error",
        _answers(Answer("The node's view", SubscriptionsAnswer), 400),
        query=(Query("id", list[int], "Subscription ids to report (default: all the node remembers)"),),
    ),
    Operation(
        "GET",
        "/metrics",
        "Prometheus metrics: jobs, container latency, deliveries, reverts, gas, RPC calls, sync lag (docs/METRICS.md)",
        _answers(Answer("Prometheus text exposition format", raw="text/plain"), limited=False),
    ),
    Operation(
        "GET",
        "/api/events",
        "Server-sent events (loopback clients only): `snapshot` (subscriptions, recent events), then each "
        "`subscription`, `compute` and `job` event as it happens",
        _answers(Answer("The event stream", raw="text/event-stream", event=ServerSentEvent), 400, 403, 503),
        query=(
            Query(
                "follow", bool, "Keep the stream open for new events (default true); false ends it after the snapshot"
            ),
        ),
    ),
    *(
        Operation(
            "GET", route, f"The live dashboard: {name}", _answers(Answer(name, raw=media.split(";")[0]), limited=False)
        )
        for route, (name, media) in DASHBOARD_FILES.items()
    ),
    Operation("GET", "/openapi.json", "This document", _answers(Answer("OpenAPI 3.1", dict[str, Any]), limited=False)),
]


@cache
def document() -> dict[str, Any]:
    return build_document("Infernet node", __version__, "Infernet-compatible node REST API", OPERATIONS)
