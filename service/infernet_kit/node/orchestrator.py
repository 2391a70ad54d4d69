"""Runs a job through its chain of containers over the container protocol (PROTOCOL.md section 2).

A job's calls to an `http://` container go through `http_client` (the kit's lean keep-alive client: ~50 µs of
CPU per call where aiohttp's took ~240 µs, one at a time); calls to `https://` containers, streamed jobs and
`resources()` go through one aiohttp client session. Both count against one bound on the calls in flight
(`max_connections`: the lean pool's, which the aiohttp calls take a place in too), so a flood of jobs queues
inside the node instead of opening a connection per job and overflowing a service's listen queue, and a container
never sees more than that many calls at once, whichever client carries them. (httpx was measured too and
dropped: 3.4 ms of CPU per request one at a time, 7.4 ms at 64 in flight, its pool scanning every connection per
request.)

A kept-alive connection the container closed while idle never fails a call: `http_client` sends the request
again at once on a new connection (its one policy for that; this module only logs it). A call the container
never answered on a new connection either (`NoAnswer`: refused or reset, the worker died) is sent again a
bounded number of times after a short backoff (`retrying`): a service replaces a dead worker, and its other
workers can take the job meanwhile. Once any byte of an answer arrived, nothing is retried (a partial or
streamed answer cannot be taken back), and neither is a timeout (the container may still be working on the job).

aiohttp is imported on the first call that goes through it: most nodes never make one, and importing it costs
~0.1 s of CPU at each start (its connector builds SSL contexts; tests/toolchain/test_import_costs.py).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from infernet_kit import __version__
from infernet_kit.http_client import (
    Answer,
    BrokenAnswer,
    Endpoint,
    HttpPool,
    NoAnswer,
    UnreadableAnswer,
    resend_logger,
)
from infernet_kit.jsonbody import parse_json
from infernet_kit.node.config import ContainerConfig
from infernet_kit.node.metrics import container_call
from infernet_kit.protocol import JobLocation, ProofTarget, ServiceRequest
from infernet_kit.protocol.container import (
    REQUEST_TAG_HEADER,
    SERVER_TIMING_HEADER,
    BackendCall,
    parse_backend_timing,
)
from infernet_kit.retrying import RetryPolicy, call_with_retries, describe, exponential

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL

log = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 128
_DESCRIPTION_LIMIT = 1000
# Sends of one container call that got no answer at all on a new connection: the first plus retries, a short
# backoff between (a stale kept-alive connection is not counted: `http_client` resends at once on a new one).
UNANSWERED_ATTEMPTS = 4
UNANSWERED_BACKOFF = 0.05
UNANSWERED_MAX_WAIT = 0.5


class ContainerOutput(BaseModel):
    """One container's JSON answer within a job."""

    container: str
    output: Any


@dataclass(frozen=True)
class ContainerCall:
    """One answered container call: how long the node waited for it, and the backend calls its service named
    (a Server-Timing header; empty for a service that sends none)."""

    container: str
    ms: float
    server_timing: str | None  # the header as it came: read only when an event shows it (most are never shown)

    @property
    def backend(self) -> list[BackendCall]:
        return parse_backend_timing(self.server_timing)

    def event(self) -> dict[str, Any]:
        """The call as the node's event feed shows it."""
        return {"container": self.container, "ms": round(self.ms, 1), "backend": [b.model_dump() for b in self.backend]}


class ContainerFailure(Exception):
    """A container answered non-2xx, sent something that is not JSON, or could not be reached in time.

    `completed` holds the outputs of the containers before it in the chain (intermediate results).
    """

    def __init__(
        self,
        container: str,
        description: str,
        completed: Sequence[ContainerOutput] = (),
        *,
        status: int | None = None,
    ) -> None:
        super().__init__(f"{container}: {description}")
        self.container = container
        self.description = description
        self.completed = list(completed)
        self.status = status  # the container's HTTP status when it answered, None for transport errors


def _service_request(
    source: JobLocation,
    destination: JobLocation,
    data: Any,
    requires_proof: bool,
    proof_target: ProofTarget | None = None,
) -> bytes:
    """The `POST /service_output` body (JSON), built from the model the services parse it with; `proof_target` is
    sent only when given (an on-chain delivery whose verifier judges the proof)."""
    # Typed arguments (mypy checks the call sites): the model only serializes them.
    request = ServiceRequest.model_construct(
        source=source, destination=destination, data=data, requires_proof=requires_proof, proof_target=proof_target
    )
    return request.model_dump_json(exclude=None if proof_target is not None else {"proof_target"}).encode()


def _describe_error(status: int, raw: bytes) -> str:
    """The container's `description` when it sent a JSON error, else a short form of what it sent."""
    try:
        body = parse_json(raw)
    except ValueError:
        text = raw.decode("utf-8", errors="replace").strip()[:_DESCRIPTION_LIMIT]
        return f"HTTP {status}: {text}" if text else f"HTTP {status}"
    if isinstance(body, dict):
        for key in ("description", "error", "detail", "message"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])[:_DESCRIPTION_LIMIT]
    return f"HTTP {status}: {json.dumps(body)[:_DESCRIPTION_LIMIT]}"


def _describe_transport(error: BaseException, container: ContainerConfig, *, answering: bool = False) -> str:
    """Why a call failed in transport; `answering` once the container had begun its answer."""
    if isinstance(error, asyncio.TimeoutError):
        return f"no answer from {container.service_url} within {container.timeout:g}s"
    reason = describe(error)
    if isinstance(error, UnreadableAnswer):
        return f"the answer from {container.service_url} cannot be read: {reason}"
    if answering or isinstance(error, BrokenAnswer):
        return f"the answer from {container.service_url} broke off: {reason}"
    return f"cannot reach {container.service_url}: {reason}"


# What a call can fail with in transport (http_client's `NoAnswer` is a ConnectionError, so an OSError), and
# aiohttp's errors once a call went through it.
_TRANSPORT_ERRORS = (asyncio.TimeoutError, OSError, BrokenAnswer, UnreadableAnswer)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """`_TRANSPORT_ERRORS`, with aiohttp's `ClientError` when aiohttp is loaded (it raises nothing before)."""
    aiohttp = sys.modules.get("aiohttp")
    return _TRANSPORT_ERRORS if aiohttp is None else (*_TRANSPORT_ERRORS, aiohttp.ClientError)


def unanswered(error: BaseException) -> bool:
    """Whether a request failed before the container sent any byte back, so sending it again is safe: the lean
    client's `NoAnswer`, which aiohttp's failures before an answer are mapped to (`_post_once`)."""
    return isinstance(error, NoAnswer)


_UNANSWERED = RetryPolicy(
    attempts=UNANSWERED_ATTEMPTS, wait=exponential(UNANSWERED_BACKOFF, cap=UNANSWERED_MAX_WAIT), transient=unanswered
)


def _no_answer(error: BaseException) -> str:
    return f"sent no answer: {describe(error)}"


def _call_label(config: ContainerConfig, tag: str | None) -> str:
    """Who a call's log lines are about: the container, its URL and the job or interval it serves."""
    label = f"container {config.id} at {config.service_url}"
    return f"{label} ({tag})" if tag else label


USER_AGENT = f"infernet-kit-node/{__version__}"


def request_headers(config: ContainerConfig) -> dict[str, str]:
    """The headers of every request to a container, through either client: who is calling (the node and its
    version), that a JSON answer is wanted, and the container's bearer token when it has one.

    No `accept-encoding`: answers are small JSON read whole, from a service next to the node, where compressing
    them costs both sides more CPU than the bytes saved (http_client still decodes gzip and deflate sent unasked);
    aiohttp adds its own for `https://` containers, and decodes what comes."""
    headers = {"content-type": "application/json", "accept": "application/json", "user-agent": USER_AGENT}
    if config.bearer:
        headers["authorization"] = f"Bearer {config.bearer}"
    return headers


@dataclass(frozen=True)
class _Endpoint:
    """A container's `/service_output` as each call sends to it, built once per container: aiohttp parses a URL
    string, builds a timeout and copies a header dict on every call otherwise (a job's hot path), and the lean
    client's request head is these bytes. `lean` is set for an `http://` container: its job calls go through
    `http_client`; aiohttp's URL and timeout are built on its first call through aiohttp."""

    address: str
    headers: dict[str, str]
    seconds: float
    lean: Endpoint | None

    @classmethod
    def of(cls, config: ContainerConfig) -> _Endpoint:
        headers = request_headers(config)
        url = config.service_url + "/service_output"
        lean = Endpoint.of(url, headers) if url.startswith("http://") else None
        return cls(url, headers, config.timeout, lean)

    @functools.cached_property
    def url(self) -> URL:
        from yarl import URL

        return URL(self.address)

    @functools.cached_property
    def timeout(self) -> aiohttp.ClientTimeout:
        import aiohttp

        return aiohttp.ClientTimeout(total=self.seconds)

    def headers_for(self, tag: str | None) -> dict[str, str]:
        return {**self.headers, REQUEST_TAG_HEADER: tag} if tag else self.headers


class Orchestrator:
    """Sends jobs to containers and collects their answers."""

    def __init__(
        self, containers: Mapping[str, ContainerConfig], *, max_connections: int = DEFAULT_MAX_CONNECTIONS
    ) -> None:
        self._containers = dict(containers)
        self._endpoints = {config.id: _Endpoint.of(config) for config in self._containers.values()}
        self._max_connections = max_connections
        self._http = HttpPool(max_connections)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use: an aiohttp session belongs to the running event loop.
        if self._session is None:
            import aiohttp

            # No limit of its own: every aiohttp call takes a place in the lean pool's bound (`slot()`).
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ttl_dns_cache=300)
            # No cookie jar: a container's cookies are never sent anywhere, and filtering them costs every call.
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=False, auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    @property
    def open_connections(self) -> int:
        """Connections currently open to containers (in use or idle, both clients'), for tests and diagnostics."""
        connector = self._session.connector if self._session is not None else None
        if connector is None:
            return self._http.open_connections
        from infernet_kit.compat.aiohttp_pool import open_connections

        return self._http.open_connections + open_connections(connector)

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _config(self, container_id: str, completed: Sequence[ContainerOutput]) -> ContainerConfig:
        config = self._containers.get(container_id)
        if config is None:
            raise ContainerFailure(container_id, "Container not supported", completed)
        return config

    async def _post_once(self, config: ContainerConfig, data: bytes, tag: str | None) -> aiohttp.ClientResponse:
        """One POST through aiohttp; a failure before the response's headers is `NoAnswer`, as the lean client's
        (a timeout is not one: the container may still be working on it)."""
        import aiohttp

        endpoint = self._endpoints[config.id]
        try:
            return await self._client().post(
                endpoint.url, data=data, headers=endpoint.headers_for(tag), timeout=endpoint.timeout
            )
        except TimeoutError:
            raise  # aiohttp's ServerTimeoutError is one too
        except (aiohttp.ClientConnectionError, ConnectionError) as exc:
            connecting = isinstance(exc, aiohttp.ClientConnectorError)
            raise NoAnswer(describe(exc), connecting=connecting) from exc

    async def _post(self, config: ContainerConfig, data: bytes, tag: str | None) -> aiohttp.ClientResponse:
        """POST `data` (a JSON body) through aiohttp; until the response's headers arrive, a send that got no
        answer is retried (the failed connection is already closed; a retry takes another or opens one)."""
        return await call_with_retries(
            lambda: self._post_once(config, data, tag),
            _UNANSWERED,
            label=_call_label(config, tag),
            log=log,
            reason=_no_answer,
        )

    async def _call(
        self, container_id: str, body: bytes, completed: Sequence[ContainerOutput], tag: str | None
    ) -> tuple[Any, ContainerCall]:
        started = time.perf_counter()
        outcome = "failed"
        try:
            answer, timing = await self._call_once(container_id, body, completed, tag)
            outcome = "ok"
            return answer, ContainerCall(container_id, (time.perf_counter() - started) * 1000, timing)
        finally:
            container_call(container_id, outcome, time.perf_counter() - started)

    async def _answer(self, config: ContainerConfig, body: bytes, tag: str | None) -> Answer:
        """The container's whole answer to `body`; a send that got no answer is retried (see the module doc)."""
        lean = self._endpoints[config.id].lean
        if lean is None:
            return await self._aiohttp_answer(config, body, tag)
        headers = {REQUEST_TAG_HEADER: tag} if tag else None

        label = _call_label(config, tag)
        resent = resend_logger(log, label)

        async def send() -> Answer:
            return await self._http.post(lean, body, headers=headers, on_resend=resent, timeout=config.timeout)

        return await call_with_retries(send, _UNANSWERED, label=label, log=log, reason=_no_answer)

    async def _aiohttp_answer(self, config: ContainerConfig, body: bytes, tag: str | None) -> Answer:
        """`_answer` of an `https://` container, through aiohttp (holding a place in the shared bound)."""
        async with self._http.slot():
            return await self._aiohttp_read(config, body, tag)

    async def _aiohttp_read(self, config: ContainerConfig, body: bytes, tag: str | None) -> Answer:
        response = await self._post(config, body, tag)
        async with response:
            try:
                raw = await response.read()
            except TimeoutError:
                raise
            except _transport_errors() as exc:
                raise BrokenAnswer(describe(exc)) from exc
        return Answer(response.status, response.headers, raw)

    async def _call_once(
        self, container_id: str, body: bytes, completed: Sequence[ContainerOutput], tag: str | None
    ) -> tuple[Any, str | None]:
        config = self._config(container_id, completed)
        try:
            answer = await self._answer(config, body, tag)
        except _transport_errors() as exc:
            raise ContainerFailure(container_id, _describe_transport(exc, config), completed) from exc
        if not 200 <= answer.status < 300:
            description = _describe_error(answer.status, answer.body)
            raise ContainerFailure(container_id, description, completed, status=answer.status)
        try:
            return parse_json(answer.body), answer.headers.get(SERVER_TIMING_HEADER)
        except ValueError:
            raise ContainerFailure(container_id, "answer is not JSON", completed) from None

    async def run(
        self,
        containers: list[str],
        data: Any,
        *,
        source: JobLocation,
        destination: JobLocation,
        requires_proof: bool = False,
        proof_target: ProofTarget | None = None,
        tag: str | None = None,
        on_call: Callable[[ContainerCall], None] | None = None,
    ) -> list[ContainerOutput]:
        """Run `containers` in order; one output per container, the last is the job's result.

        The first container gets `source` and `data`; each later one gets source off-chain and the previous
        container's JSON answer; only the last gets `destination`. `proof_target` goes to each when a verifier
        will judge the proof; `tag` names the job or interval to the services; `on_call` hears of each answered
        call.
        """
        if not containers:
            raise ValueError("No containers specified")
        outputs: list[ContainerOutput] = []
        current = data
        for index, container_id in enumerate(containers):
            body = _service_request(
                source if index == 0 else JobLocation.OFFCHAIN,
                destination if index == len(containers) - 1 else JobLocation.OFFCHAIN,
                current,
                requires_proof,
                proof_target,
            )
            current, call = await self._call(container_id, body, outputs, tag)
            if on_call is not None:
                on_call(call)
            outputs.append(ContainerOutput(container=container_id, output=current))
        return outputs

    async def stream(
        self, containers: list[str], data: Any, *, requires_proof: bool = False, tag: str | None = None
    ) -> AsyncIterator[bytes | list[ContainerOutput]]:
        """Run all but the last container as usual, then stream the last one's bytes.

        The first item is the list of intermediate outputs, so a failure before any byte is raised on the first
        `anext()`; then come the raw bytes of the stream.
        """
        if not containers:
            raise ValueError("No containers specified")
        intermediate: list[ContainerOutput] = []
        if len(containers) > 1:
            intermediate = await self.run(
                containers[:-1],
                data,
                source=JobLocation.OFFCHAIN,
                destination=JobLocation.OFFCHAIN,
                requires_proof=requires_proof,
                tag=tag,
            )
            data = intermediate[-1].output
        last = containers[-1]
        config = self._config(last, intermediate)
        body = _service_request(JobLocation.OFFCHAIN, JobLocation.STREAM, data, requires_proof)
        async with self._http.slot():  # held until the stream ends: it is a call in flight all along
            try:
                response = await self._post(config, body, tag)
            except _transport_errors() as exc:
                raise ContainerFailure(last, _describe_transport(exc, config), intermediate) from exc
            try:
                if not 200 <= response.status < 300:
                    raw = await response.read()
                    raise ContainerFailure(
                        last, _describe_error(response.status, raw), intermediate, status=response.status
                    )
                yield intermediate
                try:
                    async for chunk in response.content.iter_any():
                        if chunk:
                            yield chunk
                except _transport_errors() as exc:
                    description = _describe_transport(exc, config, answering=True)
                    raise ContainerFailure(last, description, intermediate) from exc
            finally:
                response.release()

    async def resources(self, model_id: str | None = None) -> dict[str, Any]:
        """Each reachable container's `/service-resources` answer (or model support when `model_id` is given)."""

        import aiohttp

        async def one(config: ContainerConfig) -> tuple[str, Any]:
            params = {"model_id": model_id} if model_id is not None else None
            headers = {k: v for k, v in self._endpoints[config.id].headers.items() if k != "content-type"}
            try:
                async with (
                    self._http.slot(),
                    self._client().get(
                        config.service_url + "/service-resources",
                        params=params,
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(total=5.0),
                    ) as response,
                ):
                    if 200 <= response.status < 300:
                        return config.id, parse_json(await response.read())
            except (*_TRANSPORT_ERRORS, aiohttp.ClientError, ValueError):
                pass
            return config.id, None

        answers = await asyncio.gather(*(one(config) for config in self._containers.values()))
        return {container_id: answer for container_id, answer in answers if answer is not None}
