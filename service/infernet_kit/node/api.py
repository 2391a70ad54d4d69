"""The node's REST API (PROTOCOL.md section 3), compatible with infernet-client 1.4 and the seeds' cURL lines.

This is the HTTP layer only: parsing, routing, and turning refusals into answers. Jobs are the runner's
(`node.jobs`), records the job store's (`node.store`), delegated subscriptions the chain service's.

Every refusal is `{"error": str, "params": {...}}` with a 4xx status that fits; bad input never causes a 500,
and a job store that cannot write answers 503 "job store unavailable: <reason>".
The client's address is the socket's peer address: a body's `id` or `ip` is ignored, and jobs are the client's
own (read, listed and reported per address).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import math
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError
from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from infernet_kit import __version__
from infernet_kit.chain.encoding import Signature, Subscription
from infernet_kit.jsonbody import BodyError, declared_length, parse_json, read_body
from infernet_kit.metrics import CONTENT_TYPE, exposition
from infernet_kit.node.chain.report import SubscriptionView
from infernet_kit.node.config import NodeConfig, describe_validation_error
from infernet_kit.node.events import MAX_READERS, EventFeed
from infernet_kit.node.guardian import CHAIN_DISABLED, Guardian, Rejection
from infernet_kit.node.job_stream import JobStream
from infernet_kit.node.jobs import JobRunner, Refused
from infernet_kit.node.orchestrator import Orchestrator
from infernet_kit.node.sse import EventStream, Snapshot
from infernet_kit.node.store import JobStore, NotReportable, StoreUnavailable
from infernet_kit.protocol.defaults import JOB_WAIT_HEADER, MAX_JOB_WAIT

log = logging.getLogger(__name__)

_M = TypeVar("_M", bound=BaseModel)

ECHOED_PATH_CHARS = 200  # how much of an unknown path a 404/405 answer repeats
# A batch's answer mixes ids, `{}` and refusals, a stream is its own result and a delegated subscription's
# results land on chain: only one off-chain job has a record to hold an answer for.
WAIT_ELSEWHERE = "wait applies to one off-chain job's POST /api/jobs or to a read of jobs by id"
MAX_SUBSCRIPTION_IDS = 100  # ids one `GET /api/subscriptions` may ask for
UINT32_MAX = 2**32 - 1
# The dashboard's files (package data in `node/dashboard/`) by route, with their media types.
DASHBOARD_FILES = {
    "/dashboard": ("index.html", "text/html; charset=utf-8"),
    "/dashboard/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
    "/dashboard/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
}


class JSONResponse(StarletteJSONResponse):
    """Starlette's JSON answer (same headers, same compact UTF-8 text), encoded by pydantic-core in Rust: several
    times faster than `json.dumps` on the job records every poll and waiting read answers."""

    def render(self, content: Any) -> bytes:
        return to_json(content)

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        """Starlette's headers for a plain answer (length, type), made without its general case."""
        if headers is None and self.status_code >= 200 and self.status_code not in (204, 304):
            self.raw_headers = [(b"content-length", str(len(self.body)).encode()), _JSON_CONTENT_TYPE]
        else:
            super().init_headers(headers)


_JSON_CONTENT_TYPE = (b"content-type", b"application/json")


class Query:
    """A request's query parameters read as Starlette's `request.query_params` reads them (`parse_qsl` with blank
    values kept; `get` gives the last of a repeated name), without building its multi-dict: every poll and
    waiting read has a query, and that parse was the API's largest cost per read."""

    __slots__ = ("_pairs",)

    def __init__(self, query_string: bytes) -> None:
        text = query_string.decode("latin-1")
        if "%" in text or "+" in text:
            self._pairs = parse_qsl(text, keep_blank_values=True)
        else:  # nothing to unquote: parse_qsl's split, which this equals
            self._pairs = [
                (name, value) for name, _, value in (part.partition("=") for part in text.split("&") if part)
            ]

    @classmethod
    def of(cls, request: Request) -> Query:
        return cls(request.scope["query_string"])

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]

    def get(self, name: str, default: str | None = None) -> str | None:
        found = default
        for key, value in self._pairs:
            if key == name:
                found = value
        return found

    def __contains__(self, name: str) -> bool:
        return any(key == name for key, _ in self._pairs)


class ChainServiceLike(Protocol):
    """What the API needs of the chain service (`node.chain.service.ChainService`)."""

    @property
    def address(self) -> str: ...

    def pending_count(self) -> int: ...

    @property
    def judged_block(self) -> int | None: ...

    async def submit_delegated(self, subscription: Subscription, signature: Signature, data: Any) -> None: ...

    def subscriptions(self, ids: list[int] | None = None) -> list[SubscriptionView]: ...


def bad_request(error: str, **params: Any) -> Refused:
    return Refused(Rejection(400, error, params))


# Request bodies.


class OffchainJobRequest(BaseModel):
    """`{"containers", "data", "requires_proof"?}`; anything else in the body (e.g. `id`, `ip`) is ignored."""

    model_config = ConfigDict(extra="ignore")

    containers: list[StrictStr]
    data: dict[str, Any]
    requires_proof: bool = False


class DelegatedSubscriptionBody(BaseModel):
    """A delegated subscription in the REST form: `containers` is the 0x-hex containerId hash."""

    model_config = ConfigDict(extra="ignore")

    owner: StrictStr
    active_at: int
    period: int
    frequency: int
    redundancy: int
    containers: StrictStr
    lazy: bool
    verifier: StrictStr
    payment_amount: int
    payment_token: StrictStr
    wallet: StrictStr

    def to_subscription(self) -> Subscription:
        fields = self.model_dump()
        fields["container_id"] = fields.pop("containers")
        return Subscription.model_validate(fields)


class DelegatedJobRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    subscription: DelegatedSubscriptionBody
    signature: Signature
    data: dict[str, Any]


class StatusReport(BaseModel):
    """`PUT /api/status` from a local process that ran a job itself."""

    model_config = ConfigDict(extra="ignore")

    id: StrictStr
    status: Literal["running", "success", "failed"]
    containers: list[StrictStr]
    result: dict[str, Any] | None = None


def _parse(model: type[_M], value: Any, what: str) -> _M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        reason = describe_validation_error(exc, source="").replace("\n", "; ")
        raise bad_request(f"Invalid {what}: {reason}") from None


def store_refusal(unavailable: StoreUnavailable) -> Rejection:
    """A write the job store refused: 503, so the client retries later; nothing of the request was kept."""
    return Rejection(503, str(unavailable))


@contextlib.contextmanager
def _job_request(peer: str) -> Iterator[None]:
    """A job the store could not record is refused on its own (503): a batch's other jobs are still tried."""
    try:
        yield
    except StoreUnavailable as unavailable:
        log.warning("job request from %s refused: %s", peer, unavailable)
        raise Refused(store_refusal(unavailable)) from None


def _subscription_id(text: str) -> int:
    """A subscription id from the query: a whole number in [1, 2**32 - 1] (the coordinator's uint32 ids)."""
    value = int(text) if text.isascii() and text.isdigit() else 0
    if not 1 <= value <= UINT32_MAX:
        raise bad_request(
            "Invalid subscription id: expected an integer from 1 to 4294967295", id=text[:ECHOED_PATH_CHARS]
        )
    return value


def _flag(request: Request, name: str, default: bool) -> bool:
    """A `true`/`false` query parameter (any case); 400 naming it otherwise."""
    text = Query.of(request).get(name)
    if text is None:
        return default
    if text.lower() not in ("true", "false"):
        raise bad_request(f"{name} must be true or false", **{name: text[:ECHOED_PATH_CHARS]})
    return text.lower() == "true"


def _static(route: str) -> Callable[[Request, str], Awaitable[Response]]:
    """A handler answering one of the dashboard's files, read once when the app is built."""
    name, media_type = DASHBOARD_FILES[route]
    content = files("infernet_kit.node.dashboard").joinpath(name).read_bytes()

    async def handler(request: Request, peer: str) -> Response:
        return Response(content, media_type=media_type, headers={"cache-control": "no-cache"})

    return handler


def _wait_seconds(text: str) -> float:
    """`wait` from the query: seconds, a finite number >= 0; more than `MAX_JOB_WAIT` is cut to it."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise bad_request("Invalid wait: expected a number of seconds >= 0", wait=text[:ECHOED_PATH_CHARS])
    return min(value, MAX_JOB_WAIT)


def _is_delegated(body: Any) -> bool:
    """Whether a job request's body is a delegated subscription (else an off-chain job); 400 if not an object."""
    if not isinstance(body, dict):
        raise bad_request("Invalid job request: expected a JSON object")
    return "subscription" in body or "signature" in body


def _asked_wait(query: Query) -> tuple[str, float] | None:
    """The query's `wait` (its text and seconds), or None when not asked for; 400 when not a wait."""
    text = query.get("wait")
    return None if text is None else (text, _wait_seconds(text))


def _post_query(request: Request) -> Query | None:
    """A POST's query, None when it has none (nearly every POST: nothing to parse)."""
    return Query.of(request) if request.scope["query_string"] else None


def _refuse_wait(request: Request) -> None:
    """400 for a `wait` where no answer can be held (a batch, a stream)."""
    if (query := _post_query(request)) is not None and (asked := _asked_wait(query)) is not None:
        raise bad_request(WAIT_ELSEWHERE, wait=asked[0][:ECHOED_PATH_CHARS])


def _intermediate(query: Query) -> bool:
    """`intermediate=true` (any case) asks for a job record's intermediate results; anything else does not."""
    return (query.get("intermediate") or "false").lower() == "true"


def _held_answer(body: Any, wait: float) -> Response:
    """An answer the node held until the jobs ended or `wait` passed: `JOB_WAIT_HEADER` says so, with the
    seconds granted (a node without it, like the reference, answered at once)."""
    return JSONResponse(body, headers={JOB_WAIT_HEADER: f"{wait:g}"})


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@dataclass
class NodeApi:
    """The API's state and handlers."""

    config: NodeConfig
    store: JobStore
    jobs: JobRunner
    orchestrator: Orchestrator
    guardian: Guardian
    chain: ChainServiceLike | None = None
    events: EventFeed = field(default_factory=EventFeed)

    # Plumbing.

    async def _read_json(self, request: Request) -> Any:
        limit = self.config.server.max_body_bytes
        try:
            raw = await read_body(request.receive, limit, declared_length(request.scope["headers"]))
            return parse_json(raw)
        except BodyError as refused:
            peer = request.client.host if request.client else ""
            route = f"{request.method} {request.url.path}"
            log.info("%s from %s refused: %s %s", route, peer, refused.detail, refused.params)
            raise Refused(Rejection(refused.status, refused.error, refused.params)) from None

    def endpoint(
        self, handler: Callable[[Request, str], Awaitable[Response]], *, limited: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a handler with the peer address, the rate limit and JSON rejections."""

        async def wrapped(request: Request) -> Response:
            peer = request.client.host if request.client else ""
            try:
                if limited and (rejection := self.guardian.allow_request(peer)):
                    log.info("client %s rate limited on %s", peer, request.url.path)
                    return JSONResponse(
                        rejection.body(),
                        status_code=rejection.status,
                        headers={"retry-after": str(max(1, round(rejection.params["retry_after"])))},
                    )
                return await handler(request, peer)
            except Refused as refused:
                return JSONResponse(refused.rejection.body(), status_code=refused.rejection.status)
            except StoreUnavailable as unavailable:
                log.warning("%s %s from %s refused: %s", request.method, request.url.path, peer, unavailable)
                rejection = store_refusal(unavailable)
                return JSONResponse(rejection.body(), status_code=rejection.status)
            except Exception:
                # A bug, not bad input: say so in JSON and keep the details in the log.
                log.exception("%s %s from %s failed", request.method, request.url.path, peer)
                return JSONResponse({"error": "Internal node error", "params": {}}, status_code=500)

        return wrapped

    # Jobs.

    async def _submit_offchain(self, request: OffchainJobRequest, peer: str) -> dict[str, Any]:
        with _job_request(peer):
            job_id = await self.jobs.submit(
                request.containers, request.data, requires_proof=request.requires_proof, client=peer
            )
        return {"id": job_id}

    async def _submit_delegated(self, body: dict[str, Any]) -> dict[str, Any]:
        request = _parse(DelegatedJobRequest, body, "delegated subscription request")
        try:
            subscription = request.subscription.to_subscription()
        except ValidationError as exc:
            reason = describe_validation_error(exc, source="").replace("\n", "; ")
            raise bad_request(f"Invalid subscription: {reason}") from None
        if self.chain is None:
            raise Refused(Rejection(400, CHAIN_DISABLED))
        from infernet_kit.node.chain.delegation import DelegationRejected

        try:
            await self.chain.submit_delegated(subscription, request.signature, request.data)
        except DelegationRejected as rejected:
            log.info("delegated subscription owner=%s rejected: %s", subscription.owner, rejected.reason)
            raise Refused(Rejection(400, rejected.reason, rejected.params)) from None
        log.info("delegated subscription accepted: owner=%s nonce=%d", subscription.owner, request.signature.nonce)
        return {}

    async def _submit(self, body: Any, peer: str) -> dict[str, Any]:
        if _is_delegated(body):
            return await self._submit_delegated(body)
        return await self._submit_offchain(_parse(OffchainJobRequest, body, "job request"), peer)

    async def post_job(self, request: Request, peer: str) -> Response:
        query = _post_query(request)
        asked = _asked_wait(query) if query is not None else None
        body = await self._read_json(request)
        if query is None or asked is None:
            return JSONResponse(await self._submit(body, peer))
        text, wait = asked
        if _is_delegated(body):
            raise bad_request(WAIT_ELSEWHERE, wait=text[:ECHOED_PATH_CHARS])
        job = _parse(OffchainJobRequest, body, "job request")
        job_id = (await self._submit_offchain(job, peer))["id"]
        return await self._held_job(job_id, peer, wait, _intermediate(query))

    async def _held_job(self, job_id: str, peer: str, wait: float, intermediate: bool) -> Response:
        """A waiting POST's answer: the job's record as a waiting read of its id gives it, once the job has ended
        or `wait` passed. The job runs on its own task: a client that goes away meanwhile changes nothing of it."""
        try:
            records = await self.store.wait([job_id], client=peer, seconds=wait)
        except StoreUnavailable as unavailable:
            records = []
            log.warning("job %s: held answer not read (%s); answered with the id", job_id, unavailable)
        if not records:  # the job exists: answer as a node that does not hold, so the client reads it later
            return JSONResponse({"id": job_id})
        return _held_answer(records[0].as_rest(intermediate=intermediate), wait)

    async def post_batch(self, request: Request, peer: str) -> Response:
        _refuse_wait(request)
        body = await self._read_json(request)
        if not isinstance(body, list):
            raise bad_request("Invalid batch request: expected a JSON list of job requests")
        limit = self.config.server.max_batch_jobs
        if len(body) > limit:
            log.info("batch of %d jobs from %s refused: over server.max_batch_jobs=%d", len(body), peer, limit)
            raise Refused(Rejection(413, "Too many jobs in one batch", {"limit": limit, "jobs": len(body)}))
        answers: list[dict[str, Any]] = []
        for index, item in enumerate(body):
            # The request paid for its first job; each further job costs a rate-limit token of its own.
            if index and (rejection := self.guardian.allow_request(peer)):
                answers.append(rejection.body())
                continue
            try:
                answers.append(await self._submit(item, peer))
            except Refused as refused:
                answers.append(refused.rejection.body())
        return JSONResponse(answers)

    async def post_stream(self, request: Request, peer: str) -> Response:
        _refuse_wait(request)
        job = _parse(OffchainJobRequest, await self._read_json(request), "job request")
        with _job_request(peer):
            streamed = await self.jobs.stream(job.containers, job.data, requires_proof=job.requires_proof, client=peer)
        return JobStream(streamed)

    async def get_jobs(self, request: Request, peer: str) -> Response:
        query = Query.of(request)
        ids = query.getlist("id")
        wait_text = query.get("wait")
        wait = _wait_seconds(wait_text) if wait_text is not None else None
        if ids:
            intermediate = _intermediate(query)
            if wait is None:
                records = await self.store.get(ids, client=peer)
                return JSONResponse([record.as_rest(intermediate=intermediate) for record in records])
            records = await self.store.wait(ids, client=peer, seconds=wait)
            return _held_answer([record.as_rest(intermediate=intermediate) for record in records], wait)
        if wait is not None:
            raise bad_request("wait applies to a read of jobs by id", wait=wait_text)
        pending = _flag(request, "pending", False) if "pending" in query else None
        return JSONResponse(await self.store.ids(client=peer, pending=pending))

    async def put_status(self, request: Request, peer: str) -> Response:
        if not _is_loopback(peer):
            raise Refused(Rejection(403, "Only local clients may record job status", {"address": peer}))
        report = _parse(StatusReport, await self._read_json(request), "status report")
        try:
            await self.store.record(
                report.id, client=peer, containers=report.containers, status=report.status, result=report.result
            )
        except NotReportable:
            log.info("job %s status report from %s refused: the node runs this job", report.id, peer)
            reason = "Job is run by this node: its status cannot be reported"
            raise Refused(Rejection(409, reason, {"id": report.id})) from None
        log.info("job %s status recorded: %s (from %s)", report.id, report.status, peer)
        return JSONResponse({})

    # Subscriptions.

    async def get_subscriptions(self, request: Request, peer: str) -> Response:
        """The chain side's view: tracked subscriptions, skipped ones with the reason, each interval's outcome."""
        texts = Query.of(request).getlist("id")
        if len(texts) > MAX_SUBSCRIPTION_IDS:
            raise bad_request("Too many subscription ids", limit=MAX_SUBSCRIPTION_IDS, ids=len(texts))
        ids = [_subscription_id(text) for text in texts]
        if self.chain is None:
            raise Refused(Rejection(400, CHAIN_DISABLED))
        views = self.chain.subscriptions(ids or None)
        return JSONResponse(
            {
                "judged_block": self.chain.judged_block,
                "subscriptions": [view.model_dump(mode="json") for view in views],
            }
        )

    # The live feed (the dashboard's source).

    async def get_events(self, request: Request, peer: str) -> Response:
        """Server-sent events: a snapshot (subscriptions, recent events), then each event as it happens. Local
        clients only: the feed shows every client's jobs, which `GET /api/jobs` keeps to their owners."""
        follow = _flag(request, "follow", True)
        if not _is_loopback(peer):
            raise Refused(Rejection(403, "Only local clients may read the event feed", {"address": peer}))
        # Taken and joined with no await between: no event can fall in the gap.
        snapshot = Snapshot(
            node=self.chain.address if self.chain else "",
            judged_block=self.chain.judged_block if self.chain else None,
            containers=[c.id for c in self.config.containers],
            subscriptions=self.chain.subscriptions() if self.chain else [],
            events=self.events.history(),
        )
        reader = self.events.join()
        if reader is None and self.events.closed:
            raise Refused(Rejection(503, "Node is stopping"))
        if reader is None:
            log.info("event feed refused %s: %d readers already", peer, MAX_READERS)
            raise Refused(Rejection(503, "Too many event feed readers", {"limit": MAX_READERS}))
        return EventStream(self.events, reader, snapshot, follow=follow)

    # Node information.

    async def health(self, request: Request, peer: str) -> Response:
        return JSONResponse({"status": "healthy"})

    async def info(self, request: Request, peer: str) -> Response:
        return JSONResponse(
            {
                "version": __version__,
                "containers": [
                    {"id": c.id, "description": c.description, "external": c.external, "image": c.image}
                    for c in self.config.containers
                ],
                "pending": {
                    "offchain": self.store.pending_count(),
                    "onchain": self.chain.pending_count() if self.chain else 0,
                },
                "chain": {
                    "enabled": self.chain is not None,
                    "address": self.chain.address if self.chain else "",
                    # Not in the reference: the newest block the node has acted on (tests and dashboards wait on it).
                    "judged_block": self.chain.judged_block if self.chain else None,
                },
            }
        )

    async def resources(self, request: Request, peer: str) -> Response:
        return JSONResponse(await self.orchestrator.resources(Query.of(request).get("model_id")))

    def app(self) -> ASGIApp:
        """The ASGI app: a table lookup per request instead of a framework's middleware stack and route regexes
        (the API is polled, so its per-request cost is most of the node's cost per job)."""
        from infernet_kit.node import openapi

        # Built when first asked for: its JSON schemas cost ~40 ms of CPU, at every start otherwise.
        spec = functools.cache(openapi.document)

        async def openapi_json(request: Request, peer: str) -> Response:
            return JSONResponse(spec())

        async def metrics(request: Request, peer: str) -> Response:
            return Response(exposition(), media_type=CONTENT_TYPE)

        routes: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]] = {
            ("GET", "/health"): self.endpoint(self.health, limited=False),
            ("GET", "/info"): self.endpoint(self.info),
            ("GET", "/resources"): self.endpoint(self.resources),
            ("POST", "/api/jobs"): self.endpoint(self.post_job),
            ("GET", "/api/jobs"): self.endpoint(self.get_jobs),
            ("POST", "/api/jobs/batch"): self.endpoint(self.post_batch),
            ("POST", "/api/jobs/stream"): self.endpoint(self.post_stream),
            ("PUT", "/api/status"): self.endpoint(self.put_status),
            ("GET", "/api/subscriptions"): self.endpoint(self.get_subscriptions),
            ("GET", "/metrics"): self.endpoint(metrics, limited=False),
            ("GET", "/api/events"): self.endpoint(self.get_events),
            **{("GET", route): self.endpoint(_static(route), limited=False) for route in DASHBOARD_FILES},
            ("GET", "/openapi.json"): self.endpoint(openapi_json, limited=False),
        }
        if undocumented := set(routes) ^ {(o.method, o.path) for o in openapi.OPERATIONS}:
            raise RuntimeError(f"routes and node.openapi.OPERATIONS differ: {sorted(undocumented)}")
        paths = {path for _, path in routes}

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return  # no lifespan or websockets: the node starts and stops its parts itself
            client = scope.get("client")
            if client and client[0].startswith("::ffff:") and "." in client[0]:
                # An IPv4 client of a dual-stack socket: its own address, for the rate limit and loopback checks.
                scope["client"] = (client[0].removeprefix("::ffff:"), client[1])
            method, path = scope["method"], scope["path"]
            handler = routes.get((method, path))
            if handler is not None:
                response = await handler(Request(scope, receive))
            else:
                status, error = (405, "Method Not Allowed") if path in paths else (404, "Not Found")
                # The path is echoed cut short: it is the client's text, of any length.
                params = {"path": path[:ECHOED_PATH_CHARS], "method": method}
                response = JSONResponse({"error": error, "params": params}, status)
            await response(scope, receive, send)

        return app
