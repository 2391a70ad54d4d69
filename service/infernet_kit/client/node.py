"""`NodeClient`: the async client for an Infernet node's REST API (PROTOCOL.md sections 3 and 4).

Speaks both the seeds' forms (`request_job("<container>", data)`, `request_delegated_subscription(sub=…)`)
and the official infernet-client 1.4 forms (`request_job({"containers": …, "data": …})`). One pooled
HTTP client serves all calls; use `async with NodeClient(url) as client:` or `await client.aclose()`.
"""

# The official client's signatures take `timeout` arguments; keeping them is the point (ASYNC109).
# ruff: noqa: ASYNC109
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx
from pydantic import TypeAdapter, ValidationError

from infernet_kit.client.errors import APIError, NodeUnreachableError
from infernet_kit.client.types import (
    ErrorResponse,
    JobID,
    JobRequest,
    JobResponse,
    JobResult,
    JobStatus,
    ModelSupport,
    NodeInfo,
)
from infernet_kit.protocol.defaults import DEFAULT_NODE_URL, JOB_WAIT_HEADER, MAX_JOB_WAIT
from infernet_kit.tls import tls_context

if TYPE_CHECKING:
    # Only for annotations: off-chain use of the client never loads web3 and eth-account.
    from infernet_kit.client.chain_utils import RPC, Subscription

T = TypeVar("T")

_JOB_RESULT = TypeAdapter(JobResult)
_JOB_RESULTS = TypeAdapter(list[JobResult])
_NODE_INFO = TypeAdapter(NodeInfo)


def _as_job_request(
    job: Mapping[str, Any] | str, data: Mapping[str, Any] | None, requires_proof: bool | None
) -> dict[str, Any]:
    """Either form of `request_job`'s arguments as the REST body."""
    if isinstance(job, str):
        if data is None:
            raise TypeError("request_job(container, data): data is required")
        body: dict[str, Any] = {"containers": [c.strip() for c in job.split(",") if c.strip()], "data": dict(data)}
    elif isinstance(job, Mapping):
        body = dict(job)
        if data is not None:
            raise TypeError("request_job(job): pass data inside the job request, not as a second argument")
    else:
        raise TypeError(f"request_job expects a container name or a JobRequest, not {type(job).__name__}")
    if requires_proof is not None:
        body["requires_proof"] = requires_proof
    return body


class NodeClient:
    """Client for one node; safe to share between tasks of one event loop."""

    def __init__(
        self,
        base_url: str = DEFAULT_NODE_URL,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- connection management -------------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        """The pooled client of the running loop (a fresh one if the caller moved to another loop)."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._http.is_closed or self._loop is not loop:
            # A pool from a finished loop cannot be reused (e.g. one `asyncio.run` per call, as CLIs do).
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=self.timeout,
                transport=self._transport,
                verify=tls_context(),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            )
            self._loop = loop
        return self._http

    async def aclose(self) -> None:
        if self._http is not None and self._loop is asyncio.get_running_loop():
            await self._http.aclose()
        self._http = None
        self._loop = None

    async def __aenter__(self) -> NodeClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        timeout: float | None,
        json: Any = None,
        params: Any = None,
    ) -> httpx.Response:
        try:
            response = await self._client().request(
                method, path, json=json, params=params, timeout=self.timeout if timeout is None else timeout
            )
        except httpx.TimeoutException as exc:
            raise NodeUnreachableError(self.base_url, f"no answer within {timeout or self.timeout:g}s") from exc
        except httpx.TransportError as exc:
            raise NodeUnreachableError(self.base_url, _transport_cause(exc)) from exc
        _raise_for_status(response)
        return response

    # -- node information ------------------------------------------------------------------------------------

    async def health(self, timeout: float = 1) -> bool:
        """True when the node answers `{"status": "healthy"}`."""
        response = await self._request("GET", "/health", timeout=timeout)
        return bool(_json(response).get("status") == "healthy")

    async def get_info(self, timeout: float = 1) -> NodeInfo:
        """The node's containers, pending job counts and chain settings."""
        response = await self._request("GET", "/info", timeout=timeout)
        return _validated(_NODE_INFO, _json(response), "/info")

    async def get_resources(self, model_id: str | None = None, timeout: float = 1) -> dict[str, Any]:
        """Each container's `/service-resources` answer (or model support, given `model_id`)."""
        params = {"model_id": model_id} if model_id is not None else None
        response = await self._request("GET", "/resources", params=params, timeout=timeout)
        return cast(dict[str, Any], _json(response))

    async def check_model_support(self, model_id: str, timeout: float = 1) -> dict[str, ModelSupport]:
        return cast(dict[str, ModelSupport], await self.get_resources(model_id, timeout))

    # -- off-chain jobs --------------------------------------------------------------------------------------

    async def request_job(
        self,
        job: JobRequest | Mapping[str, Any] | str,
        data: Mapping[str, Any] | float | None = None,
        *,
        requires_proof: bool | None = None,
        timeout: float = 5,
    ) -> JobID:
        """Submit a job; returns its id. `request_job("container", {...})` or `request_job({"containers": …})`."""
        if isinstance(data, int | float) and not isinstance(data, bool):
            timeout, data = float(data), None  # official positional form: request_job(job, timeout)
        body = _as_job_request(job, cast(Mapping[str, Any] | None, data), requires_proof)
        response = await self._request("POST", "/api/jobs", json=body, timeout=timeout)
        return _job_id(response, _json(response))

    async def run_job(
        self,
        job: JobRequest | Mapping[str, Any] | str,
        data: Mapping[str, Any] | None = None,
        *,
        requires_proof: bool | None = None,
        wait: float = 5.0,
        timeout: float = 5,
        poll_interval: float = 1.0,
    ) -> JobResult:
        """Submit a job and return its record once it has ended; TimeoutError if still running after `wait`
        seconds (the official client's 5 retries x 1 s by default), `APIError` if the node then does not know it.

        The POST asks the node to answer with the job's record once it ends (`wait`): one exchange on this kit's
        node. A node that answers with the id alone (an older kit node, or the reference, which ignores `wait`)
        is then read as `get_job_result_sync` reads: a waiting read, or polls every up to `poll_interval` s.
        """
        body = _as_job_request(job, data, requires_proof)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        held = min(max(wait, 0.0), MAX_JOB_WAIT)
        response = await self._request(
            "POST", "/api/jobs", json=body, params={"wait": f"{held:.3f}"}, timeout=timeout + held
        )
        answer = _json(response)
        job_id = _job_id(response, answer)
        if JOB_WAIT_HEADER in response.headers:
            record = _validated(_JOB_RESULT, answer, "/api/jobs")
            if record["status"] != "running":
                return record
        result = await self._await_result(job_id, deadline, wait, timeout=timeout, poll_interval=poll_interval)
        if result is None:
            raise APIError(404, "node does not know the job it accepted", {"id": job_id})
        return result

    async def request_jobs(
        self, jobs: Sequence[JobRequest | Mapping[str, Any]], timeout: float = 10
    ) -> list[JobResponse | ErrorResponse]:
        """Submit a batch; answers are in request order, each `{"id"}` or `{"error", "params"}`."""
        body = [_as_job_request(job, None, None) for job in jobs]
        response = await self._request("POST", "/api/jobs/batch", json=body, timeout=timeout)
        return cast(list[JobResponse | ErrorResponse], _json(response))

    async def get_job_results(
        self, job_ids: Sequence[JobID], intermediate: bool = False, timeout: float = 5
    ) -> list[JobResult]:
        """Status and results of the given jobs (unknown ids are left out)."""
        results, _ = await self._job_results(job_ids, intermediate=intermediate, timeout=timeout, wait=None)
        return results

    async def _job_results(
        self, job_ids: Sequence[JobID], *, intermediate: bool, timeout: float, wait: float | None
    ) -> tuple[list[JobResult], bool]:
        """The records, and whether the node held the answer for up to `wait` seconds (a node that does not
        know `wait`, like the reference, ignores it and answers at once)."""
        params: list[tuple[str, str]] = [("id", job_id) for job_id in job_ids]
        if intermediate:
            params.append(("intermediate", "true"))
        if wait is not None:
            params.append(("wait", f"{wait:.3f}"))
        response = await self._request("GET", "/api/jobs", params=params, timeout=timeout + (wait or 0))
        held = wait is not None and JOB_WAIT_HEADER in response.headers
        return _validated(_JOB_RESULTS, _json(response), "/api/jobs"), held

    async def get_job_result_sync(
        self, job_id: JobID, retries: int = 5, timeout: float = 5, *, poll_interval: float = 1.0
    ) -> JobResult | None:
        """Wait for a job to finish; None if the node does not know it, TimeoutError if still running.

        Waits up to `retries * poll_interval` seconds (the official client's 5 x 1 s by default). Each read asks
        the node to hold its answer until the job ends (`wait`), so the result comes as soon as it exists; a
        node that answers at once (the reference) is polled, quickly at first.
        """
        budget = max(retries, 1) * poll_interval
        deadline = asyncio.get_running_loop().time() + budget
        return await self._await_result(job_id, deadline, budget, timeout=timeout, poll_interval=poll_interval)

    async def _await_result(
        self, job_id: JobID, deadline: float, budget: float, *, timeout: float, poll_interval: float
    ) -> JobResult | None:
        """Read a job until it has ended or the loop's clock passes `deadline` (`budget` seconds from the start:
        TimeoutError); None if the node does not know it. Held reads where the node holds them, else polls."""
        loop = asyncio.get_running_loop()
        delay = min(0.05, poll_interval)
        while True:
            remaining = max(deadline - loop.time(), 0.0)
            results, held = await self._job_results(
                [job_id], intermediate=False, timeout=timeout, wait=min(remaining, MAX_JOB_WAIT)
            )
            if not results:
                return None
            if results[0]["status"] != "running":
                return results[0]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"job {job_id} still running after {budget:g}s")
            if not held:
                await asyncio.sleep(min(delay, remaining))
                delay = min(delay * 2, poll_interval)

    async def get_jobs(self, pending: bool | None = None, timeout: float = 5) -> list[JobID]:
        """This caller's job ids; `pending=True` only running ones, `False` only finished ones."""
        params = {"pending": str(pending).lower()} if pending is not None else None
        response = await self._request("GET", "/api/jobs", params=params, timeout=timeout)
        return cast(list[JobID], _json(response))

    async def request_stream(
        self, job: JobRequest | Mapping[str, Any], timeout: float = 180
    ) -> AsyncIterator[str | bytes]:
        """Run a streamed job: yields the job id (str) first, then the output as it arrives (bytes)."""
        body = _as_job_request(job, None, None)
        try:
            async with self._client().stream("POST", "/api/jobs/stream", json=body, timeout=timeout) as response:
                if response.status_code != 200:
                    await response.aread()
                    _raise_for_status(response)
                header = b""
                job_id: str | None = None
                async for chunk in response.aiter_bytes():
                    if job_id is None:
                        header += chunk
                        if b"\n" not in header:
                            continue
                        first, _, rest = header.partition(b"\n")
                        job_id = first.decode().strip()
                        yield job_id
                        if rest:
                            yield rest
                    elif chunk:
                        yield chunk
                if job_id is None and header:
                    yield header.decode().strip()
        except httpx.TimeoutException as exc:
            raise NodeUnreachableError(self.base_url, f"stream did not finish within {timeout:g}s") from exc
        except httpx.TransportError as exc:
            raise NodeUnreachableError(self.base_url, _transport_cause(exc)) from exc

    async def record_status(self, id: JobID, status: JobStatus, job: JobRequest, timeout: float = 5) -> None:
        """Record a job's status with the node (`PUT /api/status`; the node accepts it from local callers only)."""
        await self._request("PUT", "/api/status", json={"id": id, "status": status, **job}, timeout=timeout)

    # -- delegated subscriptions -----------------------------------------------------------------------------

    async def request_delegated_subscription(
        self,
        sub: Subscription | None = None,
        rpc: RPC | None = None,
        coordinator_address: str | None = None,
        expiry: int | None = None,
        nonce: int | None = None,
        private_key: str | None = None,
        data: Mapping[str, Any] | None = None,
        timeout: float = 5,
        *,
        subscription: Subscription | None = None,
        chain_id: int | None = None,
    ) -> None:
        """Sign `sub` for the coordinator (EIP-712) and hand it to the node, which creates and serves it.

        `subscription=` is accepted as well (the official client's keyword); `chain_id` skips the RPC call.
        """
        subscription = sub or subscription
        if subscription is None:
            raise TypeError("request_delegated_subscription: sub is required")
        if coordinator_address is None or expiry is None or nonce is None or private_key is None:
            raise TypeError("request_delegated_subscription: coordinator_address, expiry, nonce, private_key required")
        if chain_id is None:
            if rpc is None:
                raise TypeError("request_delegated_subscription: rpc (or chain_id) is required")
            chain_id = await rpc.get_chain_id()
        signature = subscription.sign(
            nonce=nonce, expiry=expiry, chain_id=chain_id, coordinator=coordinator_address, private_key=private_key
        )
        body = {
            "subscription": subscription.serialized,
            "signature": signature.model_dump(),
            "data": dict(data or {}),
        }
        await self._request("POST", "/api/jobs", json=body, timeout=timeout)


def _job_id(response: httpx.Response, answer: Any) -> JobID:
    """The id in a job request's answer (`{"id"}`, or a held answer's record)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
        raise APIError(response.status_code, "node answered a job request without a job id", {"body": answer})
    return cast(JobID, answer["id"])


def _transport_cause(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        return "connection refused" if not text or "refused" in text or "All connection attempts" in text else text
    return str(exc) or type(exc).__name__


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise APIError(response.status_code, f"node answered {response.request.url.path} with non-JSON") from exc


def _raise_for_status(response: httpx.Response) -> None:
    """Turn a non-2xx answer into `APIError` with the node's own message and params."""
    if response.is_success:
        return
    message = response.reason_phrase or "request failed"
    params: Any = None
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        if text:
            message = text[:200]
    else:
        if isinstance(body, dict):
            raw = body.get("error", body.get("detail", body.get("description", message)))
            message = raw if isinstance(raw, str) else str(raw)
            params = body.get("params")
    raise APIError(response.status_code, message, params)


def _validated(adapter: TypeAdapter[T], value: Any, what: str) -> T:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise APIError(200, f"node answered {what} in an unexpected shape: {exc.errors()[0]['msg']}") from exc
