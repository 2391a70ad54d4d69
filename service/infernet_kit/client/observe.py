"""What happened in a running stack, decoded: the data behind `infernet-kit status`, `trace` and `logs`, for any
tool that looks at a stack from outside (the node's own live feed is `node.events`). Everything is read as a user
could: the chain over JSON-RPC, each node's REST API (`/health`, `/info`, `GET /api/subscriptions`,
`GET /api/jobs`), each service's `GET /`, and the log files.

Synchronous on purpose (the CLI calls it once per refresh); an async caller runs it in a thread. The models are
the stable shape: `StackStatus`, `Trace` (its `TraceStep`s in time order) and `LogLine`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from eth_abi.abi import decode
from eth_utils.address import to_checksum_address
from pydantic import BaseModel, Field
from web3 import Web3

from infernet_kit.chain.artifacts import load_artifact
from infernet_kit.chain.deploy import EXAMPLE_CONSUMERS
from infernet_kit.chain.encoding import (
    Subscription,
    container_id,
    decode_event,
    event_abis,
    event_topic,
    interval_at,
    selector,
    unpack_pair,
)
from infernet_kit.chain.transactions import connect
from infernet_kit.protocol import hf, tgi
from infernet_kit.tls import tls_context

HTTP_TIMEOUT = 2.0
MAX_SUBSCRIPTIONS = 20  # newest subscriptions `status` shows
MAX_JOBS = 500  # newest off-chain job ids `status` counts per node

CREATED = event_topic("SubscriptionCreated(uint32)")
FULFILLED = event_topic("SubscriptionFulfilled(uint32,address)")
_DELIVER_COMPUTE = selector("deliverCompute(uint32,uint32,bytes,bytes,bytes,address)")
_DELIVER_TYPES = ["uint32", "uint32", "bytes", "bytes", "bytes", "address"]
_GET_SUBSCRIPTION = selector("getSubscription(uint32)")
_SUBSCRIPTION_TYPES = ["(address,uint32,uint32,uint32,uint16,bytes32,bool,address,uint256,address,address)"]
_GET_INPUTS = selector("getContainerInputs(uint32,uint32,uint32,address)")
_SUBSCRIPTION_COUNT = selector("id()")


class Endpoints(BaseModel):
    """Where the stack's parts are: what `up`'s record (or a test's fixtures) says."""

    rpc_url: str
    coordinator: str
    nodes: list[str]
    services: dict[str, str] = Field(default_factory=dict, description="container id -> service URL")
    backend_url: str | None = None
    log_dir: Path | None = None


# -- status ------------------------------------------------------------------------------------------------------


class Component(BaseModel):
    """A process of the stack and whether it answers."""

    name: str
    url: str
    healthy: bool
    detail: str | None = None


class NodeState(BaseModel):
    url: str
    healthy: bool
    address: str | None = None
    judged_block: int | None = None
    pending_offchain: int | None = None
    pending_onchain: int | None = None
    error: str | None = None


class Delivery(BaseModel):
    """One `deliverCompute` mined: who, which interval, what it cost, what it delivered (decoded when known)."""

    subscription_id: int
    node: str
    interval: int | None
    tx_hash: str
    block: int
    time: datetime | None
    gas_used: int
    fee_wei: int
    output: Any = None


class NodeAccount(BaseModel):
    """One node's account of a subscription (its `GET /api/subscriptions` view, summed up)."""

    node: str
    status: str
    reason: str | None = None
    last_interval: int | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_tx: str | None = None


class SubscriptionRow(BaseModel):
    id: int
    owner: str
    containers: list[str] | None
    interval: int = Field(description="the current interval at the chain head")
    frequency: int
    period: int
    redundancy: int
    cancelled: bool
    deliveries: dict[str, int] = Field(default_factory=dict, description="node address -> deliveries mined")
    last_tx: str | None = None
    last_gas: int | None = None
    nodes: list[NodeAccount] = Field(default_factory=list)

    @property
    def last_problem(self) -> str | None:
        """The newest skip reason or error any node reports."""
        for account in self.nodes:
            if account.reason or account.last_error:
                return f"{account.node}: {account.reason or account.last_error}"
        return None


class StackStatus(BaseModel):
    taken_at: datetime
    chain_id: int | None = None
    head: int | None = None
    head_time: datetime | None = None
    components: list[Component]
    nodes: list[NodeState]
    subscriptions: list[SubscriptionRow]
    jobs: dict[str, int] = Field(default_factory=dict, description="off-chain jobs by status, over all nodes")
    errors: list[str] = Field(default_factory=list)


# -- trace -------------------------------------------------------------------------------------------------------

Actor = Literal["chain", "node", "service", "backend", "consumer"]


class TraceStep(BaseModel):
    """One thing that happened to a request, placed in time (`time` None when unknown: sorted last)."""

    time: datetime | None
    actor: Actor
    who: str = Field(description="component name, node address or contract")
    what: str
    block: int | None = None
    tx_hash: str | None = None
    gas_used: int | None = None
    fee_wei: int | None = None
    data: Any = None


class Trace(BaseModel):
    query: str
    subscription_id: int | None = None
    job_id: str | None = None
    subscription: SubscriptionRow | None = None
    deliveries: list[Delivery] = Field(default_factory=list)
    steps: list[TraceStep] = Field(default_factory=list)


# -- logs --------------------------------------------------------------------------------------------------------


class LogLine(BaseModel):
    time: datetime
    component: str
    text: str


_KIT_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (.*)$")
_ANVIL_BLOCK_TIME = re.compile(r'^\s*Block Time: "(.+)"')


def _kit_time(stamp: str, millis: str) -> datetime:
    """The kit's log time (Python logging's asctime: local time) as an aware datetime."""
    return datetime.strptime(f"{stamp}.{millis}", "%Y-%m-%d %H:%M:%S.%f").astimezone()


def parse_log(component: str, lines: Iterable[str]) -> Iterator[LogLine]:
    """A component's log as timed lines. The kit's own processes stamp each line (a line without a stamp, such as a
    traceback's, continues the previous one); anvil stamps only mined transactions: each transaction summary
    becomes one line at its block's time, and its RPC method lines are left out."""
    if component == "anvil":
        yield from _parse_anvil(lines)
        return
    current: LogLine | None = None
    for raw in lines:
        line = raw.rstrip("\n")
        if match := _KIT_TIME.match(line):
            if current is not None:
                yield current
            current = LogLine(time=_kit_time(match[1], match[2]), component=component, text=match[3])
        elif current is not None and line.strip():
            current.text += "\n" + line
    if current is not None:
        yield current


def _parse_anvil(lines: Iterable[str]) -> Iterator[LogLine]:
    """Anvil's transaction summaries (the indented `Name: value` lines after its banner), one line per block."""
    chunk: list[str] = []
    listening = False
    for raw in lines:
        line = raw.rstrip("\n")
        if not listening:
            listening = line.startswith("Listening on")
        elif match := _ANVIL_BLOCK_TIME.match(line):
            if chunk:
                time = datetime.strptime(match[1], "%a, %d %b %Y %H:%M:%S %z")
                yield LogLine(time=time, component="anvil", text="; ".join(chunk))
            chunk = []
        elif line.startswith("    ") and ":" in line and not line.lstrip().startswith("Block Hash"):
            chunk.append(line.strip())


def component_name(path: Path) -> str:
    return path.stem.removesuffix("-service")


def log_files(log_dir: Path) -> list[Path]:
    return sorted(log_dir.glob("*.log"))


def matches(line: LogLine, *, subscription: int | None = None, job: str | None = None) -> bool:
    """Whether a line concerns `subscription` (`subscription=N`) or `job` (its id anywhere in the line)."""
    if subscription is not None and not re.search(rf"subscription[= ]{subscription}(?!\d)", line.text):
        return False
    return job is None or job in line.text


def read_logs(log_dir: Path, *, subscription: int | None = None, job: str | None = None) -> list[LogLine]:
    """Every component's log in `log_dir` merged in time order, filtered to a subscription or a job."""
    merged: list[LogLine] = []
    for path in log_files(log_dir):
        with path.open(encoding="utf-8", errors="replace") as handle:
            merged.extend(
                line
                for line in parse_log(component_name(path), handle)
                if matches(line, subscription=subscription, job=job)
            )
    merged.sort(key=lambda line: line.time)
    return merged


# -- gathering ---------------------------------------------------------------------------------------------------


def _get_json(url: str, params: Any = None) -> Any:
    response = httpx.get(url, params=params, timeout=HTTP_TIMEOUT, verify=tls_context())
    response.raise_for_status()
    return response.json()


def _probe(name: str, url: str) -> Component:
    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT, verify=tls_context())
    except httpx.HTTPError as exc:
        return Component(name=name, url=url, healthy=False, detail=f"{type(exc).__name__}: {exc}")
    return Component(
        name=name,
        url=url,
        healthy=response.is_success,
        detail=None if response.is_success else "HTTP " + str(response.status_code),
    )


class Observer:
    """Reads one stack; one instance per refresh keeps the web3 connection and the block-time cache."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        self.w3: Web3 = connect(endpoints.rpc_url, timeout=HTTP_TIMEOUT * 2)
        self.coordinator = to_checksum_address(endpoints.coordinator)
        self._block_times: dict[int, datetime] = {}
        self._known = {container_id(c): [c] for c in endpoints.services}
        self._consumer_events: dict[str, dict[str, Any]] | None = None

    # chain reads

    def _call(self, to: str, data: bytes) -> bytes:
        return bytes(self.w3.eth.call({"to": to, "data": data}))

    def _receipt(self, tx_hash: str) -> Any:
        """A mined transaction's receipt (`TransactionNotFound`, naming the hash, when there is none)."""
        return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]

    def block_time(self, number: int) -> datetime:
        if number not in self._block_times:
            block = self.w3.eth.get_block(number)
            self._block_times[number] = datetime.fromtimestamp(int(block["timestamp"]), UTC)
        return self._block_times[number]

    def subscription(self, sub_id: int) -> Subscription:
        data = self._call(self.coordinator, _GET_SUBSCRIPTION + sub_id.to_bytes(32, "big"))
        (values,) = decode(_SUBSCRIPTION_TYPES, data)
        return Subscription.from_tuple(values)

    def subscription_count(self) -> int:
        return int.from_bytes(self._call(self.coordinator, _SUBSCRIPTION_COUNT)[-32:], "big")

    def _logs(self, topic: str, sub_id: int | None = None, *, from_block: int = 0) -> list[Any]:
        topics: list[Any] = [topic]
        if sub_id is not None:
            topics.append("0x" + sub_id.to_bytes(32, "big").hex())
        query: Any = {"address": self.coordinator, "topics": topics, "fromBlock": from_block}
        return list(self.w3.eth.get_logs(query))

    def deliveries(self, sub_id: int, *, decode_output: bool = False) -> list[Delivery]:
        """Every mined delivery of `sub_id`, oldest first, with gas, fee and (optionally) the decoded output."""
        return [self._delivery(entry, decode_output) for entry in self._logs(FULFILLED, sub_id)]

    def deliveries_since(self, from_block: int) -> list[Delivery]:
        """Every delivery of any subscription mined from `from_block` on, oldest first."""
        if from_block > self.w3.eth.block_number:
            return []  # the RPC refuses a range that starts past the head
        return [self._delivery(entry, False) for entry in self._logs(FULFILLED, from_block=from_block)]

    def _delivery(self, entry: Any, decode_output: bool) -> Delivery:
        sub_id = int.from_bytes(bytes(entry["topics"][1]), "big")
        tx_hash = "0x" + bytes(entry["transactionHash"]).hex()
        receipt = self._receipt(tx_hash)
        interval, output = None, None
        payload = bytes(self.w3.eth.get_transaction(tx_hash)["input"])  # type: ignore[arg-type]
        if payload[:4] == _DELIVER_COMPUTE:
            _, interval, _, raw_output, _, _ = decode(_DELIVER_TYPES, payload[4:])
            if decode_output:
                output = self._decode_output(sub_id, int(interval), bytes(raw_output))
        gas = int(receipt["gasUsed"])
        return Delivery(
            subscription_id=sub_id,
            node=to_checksum_address("0x" + bytes(entry["topics"][2])[-20:].hex()),
            interval=None if interval is None else int(interval),
            tx_hash=tx_hash,
            block=int(entry["blockNumber"]),
            time=self.block_time(int(entry["blockNumber"])),
            gas_used=gas,
            fee_wei=gas * int(receipt.get("effectiveGasPrice", 0)),
            output=output,
        )

    def container_inputs(self, sub: Subscription, sub_id: int, interval: int, timestamp: int, node: str) -> bytes:
        args = sub_id.to_bytes(32, "big") + interval.to_bytes(32, "big") + timestamp.to_bytes(32, "big")
        (inputs,) = decode(["bytes"], self._call(sub.owner, _GET_INPUTS + args + bytes(12) + bytes.fromhex(node[2:])))
        return bytes(inputs)

    def _decode_output(self, sub_id: int, interval: int, packed: bytes) -> Any:
        """The delivered output in the service's off-chain shape when its container is known, else hex."""
        try:
            raw, processed = unpack_pair(packed)
        except Exception:
            return "0x" + packed.hex()
        sub = self.subscription(sub_id)
        containers = self._known.get(sub.container_id) or []
        try:
            if containers == [tgi.CONTAINER_ID]:
                return tgi.decode_output(raw)
            if containers == [hf.CONTAINER_ID]:
                inputs = decode_inputs(containers, self.container_inputs(sub, sub_id, interval, 0, sub.owner))
                if isinstance(inputs, list | tuple):
                    return hf.decode_output(hf.HFTaskId(int(inputs[0])), raw)
        except Exception:
            pass
        return {"raw": "0x" + raw.hex(), "processed": "0x" + processed.hex()}

    # node reads

    def node_state(self, url: str) -> NodeState:
        try:
            info = _get_json(f"{url}/info")
        except (httpx.HTTPError, ValueError) as exc:
            return NodeState(url=url, healthy=False, error=f"{type(exc).__name__}: {exc}")
        chain, pending = info.get("chain") or {}, info.get("pending") or {}
        return NodeState(
            url=url,
            healthy=True,
            address=chain.get("address") or None,
            judged_block=chain.get("judged_block"),
            pending_offchain=pending.get("offchain"),
            pending_onchain=pending.get("onchain"),
        )

    def node_views(self, url: str, ids: Sequence[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        try:
            body = _get_json(f"{url}/api/subscriptions", params=[("id", str(i)) for i in ids])
        except (httpx.HTTPError, ValueError):
            return []
        return list(body.get("subscriptions") or [])

    def job_counts(self, url: str) -> dict[str, int]:
        """This caller's jobs on the node at `url` by status (the node shows each client its own jobs)."""
        try:
            ids = _get_json(f"{url}/api/jobs")[-MAX_JOBS:]
            results = _get_json(f"{url}/api/jobs", params=[("id", i) for i in ids]) if ids else []
        except (httpx.HTTPError, ValueError):
            return {}
        counts: dict[str, int] = {}
        for result in results:
            counts[result["status"]] = counts.get(result["status"], 0) + 1
        return counts

    # assembled views

    def subscription_row(self, sub_id: int, head_time: int, views: dict[str, dict[str, Any]]) -> SubscriptionRow:
        sub = self.subscription(sub_id)
        delivered = self.deliveries(sub_id)
        counts: dict[str, int] = {}
        for delivery in delivered:
            counts[delivery.node] = counts.get(delivery.node, 0) + 1
        accounts = [_account(node, view) for node, view in views.items()]
        containers = next((v.get("containers") for v in views.values() if v.get("containers")), None)
        return SubscriptionRow(
            id=sub_id,
            owner=sub.owner,
            containers=containers or self._known.get(sub.container_id),
            interval=interval_at(sub.active_at, sub.period, head_time) if not sub.cancelled else 0,
            frequency=sub.frequency,
            period=sub.period,
            redundancy=sub.redundancy,
            cancelled=sub.cancelled,
            deliveries=counts,
            last_tx=delivered[-1].tx_hash if delivered else None,
            last_gas=delivered[-1].gas_used if delivered else None,
            nodes=accounts,
        )

    def status(self) -> StackStatus:
        """The whole stack at one moment: processes, nodes, the newest subscriptions, off-chain jobs."""
        ends = self.endpoints
        components = [_probe(f"service {cid}", f"{url}/") for cid, url in ends.services.items()]
        if ends.backend_url:
            components.append(_probe("dev backend", f"{ends.backend_url}/health"))
        nodes = [self.node_state(url) for url in ends.nodes]
        status = StackStatus(taken_at=datetime.now(UTC), components=[], nodes=nodes, subscriptions=[])
        try:
            status.chain_id = self.w3.eth.chain_id
            head = self.w3.eth.get_block("latest")
        except Exception as exc:  # whatever the RPC or the transport raised: the chain is not answering
            status.components = [Component(name="chain", url=ends.rpc_url, healthy=False, detail=str(exc)), *components]
            return status
        status.components = [Component(name="chain", url=ends.rpc_url, healthy=True), *components]
        status.head = int(head["number"])
        status.head_time = datetime.fromtimestamp(int(head["timestamp"]), UTC)
        try:
            status.subscriptions = self._newest_subscriptions(nodes, int(head["timestamp"]))
        except Exception as exc:
            status.errors.append(f"subscriptions: {type(exc).__name__}: {exc}")
        for node in nodes:
            if node.healthy:
                for name, count in self.job_counts(node.url).items():
                    status.jobs[name] = status.jobs.get(name, 0) + count
        return status

    def _newest_subscriptions(self, nodes: Sequence[NodeState], head_time: int) -> list[SubscriptionRow]:
        next_id = self.subscription_count()  # the coordinator's `id`: the id the next subscription gets
        ids = list(range(max(1, next_id - MAX_SUBSCRIPTIONS), next_id))
        per_node = {n.address or n.url: self.node_views(n.url, ids) for n in nodes if n.healthy}
        rows = []
        for sub_id in ids:
            views = {node: v for node, found in per_node.items() for v in found if v.get("id") == sub_id}
            rows.append(self.subscription_row(sub_id, head_time, views))
        return rows

    def trace(self, query: str) -> Trace:
        """The story of a request transaction, a delivery transaction, a subscription id or a job id."""
        text = query.strip()
        if re.fullmatch(r"0x[0-9a-fA-F]{64}", text):
            return self._trace_subscription(text, self._subscription_of_tx(text))
        if text.isdigit():
            return self._trace_subscription(text, int(text))
        return self._trace_job(text)

    def _subscription_of_tx(self, tx_hash: str) -> int:
        receipt = self._receipt(tx_hash)
        for entry in receipt["logs"]:
            topics = ["0x" + bytes(t).hex() for t in entry["topics"]]
            if to_checksum_address(entry["address"]) == self.coordinator and topics[0] in (CREATED, FULFILLED):
                return int(topics[1], 16)
        raise LookupError(f"transaction {tx_hash} neither created nor fulfilled an Infernet subscription")

    def _trace_subscription(self, query: str, sub_id: int) -> Trace:
        head = self.w3.eth.get_block("latest")
        nodes = [self.node_state(url) for url in self.endpoints.nodes]
        views = {n.address or n.url: view for n in nodes if n.healthy for view in self.node_views(n.url, [sub_id])}
        row = self.subscription_row(sub_id, int(head["timestamp"]), views)
        if row.owner == "0x0000000000000000000000000000000000000000":
            raise LookupError(f"subscription {sub_id} does not exist on this chain (head block {head['number']})")
        trace = Trace(query=query, subscription_id=sub_id, subscription=row)
        logged = self._log_steps(subscription=sub_id)
        for entry in self._logs(CREATED, sub_id):
            trace.steps.append(self._tx_step(entry, f"subscription {sub_id} created (request transaction)"))
        sub = self.subscription(sub_id)
        trace.deliveries = self.deliveries(sub_id, decode_output=True)
        for delivery in trace.deliveries:
            if delivery.interval is not None:
                raw = self.container_inputs(sub, sub_id, delivery.interval, 0, delivery.node)
                trace.steps.append(
                    TraceStep(
                        time=_first_logged(logged, f"interval={delivery.interval}", delivery.time),
                        actor="consumer",
                        who=sub.owner,
                        what=f"getContainerInputs interval {delivery.interval}",
                        data=decode_inputs(row.containers or [], raw),
                    )
                )
            trace.steps.append(
                TraceStep(
                    time=_last_logged(logged, delivery.tx_hash, delivery.time),
                    actor="chain",
                    who=delivery.node,
                    what=f"delivered interval {delivery.interval}",
                    block=delivery.block,
                    tx_hash=delivery.tx_hash,
                    gas_used=delivery.gas_used,
                    fee_wei=delivery.fee_wei,
                    data=delivery.output,
                )
            )
            for what, values in self.consumer_events(delivery.tx_hash, sub.owner):
                trace.steps.append(
                    TraceStep(time=trace.steps[-1].time, actor="consumer", who=sub.owner, what=what, data=values)
                )
        for account in row.nodes:
            if account.reason:
                trace.steps.append(
                    TraceStep(time=None, actor="node", who=account.node, what=f"skipped: {account.reason}")
                )
            elif account.last_error:
                what = f"interval {account.last_interval} {account.last_status}: {account.last_error}"
                trace.steps.append(TraceStep(time=None, actor="node", who=account.node, what=what))
        trace.steps.extend(logged)
        trace.steps.sort(key=_step_order)
        return trace

    def _trace_job(self, job_id: str) -> Trace:
        trace = Trace(query=job_id, job_id=job_id)
        for url in self.endpoints.nodes:
            try:
                records = _get_json(f"{url}/api/jobs", params=[("id", job_id), ("intermediate", "true")])
            except (httpx.HTTPError, ValueError):
                continue
            for record in records:
                what = f"job {record.get('status')}"
                trace.steps.append(TraceStep(time=None, actor="node", who=url, what=what, data=record.get("result")))
        trace.steps.extend(self._log_steps(job=job_id))
        if not trace.steps:
            raise LookupError(f"no node knows job {job_id} and no log mentions it")
        trace.steps.sort(key=_step_order)
        return trace

    def consumer_events(self, tx_hash: str, consumer: str) -> list[tuple[str, dict[str, Any]]]:
        """The events `consumer` emitted in a transaction, named and decoded when they are the example consumers'
        (an unknown event is given by its topic)."""
        if self._consumer_events is None:
            self._consumer_events = {}
            for name in EXAMPLE_CONSUMERS:
                self._consumer_events.update(event_abis(load_artifact(name).abi))
        found = []
        for entry in self._receipt(tx_hash)["logs"]:
            if to_checksum_address(entry["address"]) != to_checksum_address(consumer) or not entry["topics"]:
                continue
            topics = [bytes(topic) for topic in entry["topics"]]
            item = self._consumer_events.get("0x" + topics[0].hex())
            if item is None:
                found.append((f"event 0x{topics[0].hex()}", {"data": "0x" + bytes(entry["data"]).hex()}))
            else:
                found.append((f"event {item['name']}", decode_event(item, topics, bytes(entry["data"]))))
        return found

    def _tx_step(self, entry: Any, what: str) -> TraceStep:
        tx_hash = "0x" + bytes(entry["transactionHash"]).hex()
        receipt = self._receipt(tx_hash)
        gas = int(receipt["gasUsed"])
        return TraceStep(
            time=self.block_time(int(entry["blockNumber"])),
            actor="chain",
            who=to_checksum_address(receipt["from"]),
            what=what,
            block=int(entry["blockNumber"]),
            tx_hash=tx_hash,
            gas_used=gas,
            fee_wei=gas * int(receipt.get("effectiveGasPrice", 0)),
        )

    def _log_steps(self, *, subscription: int | None = None, job: str | None = None) -> list[TraceStep]:
        if self.endpoints.log_dir is None or not self.endpoints.log_dir.is_dir():
            return []
        lines = read_logs(self.endpoints.log_dir, subscription=subscription, job=job)
        return [
            TraceStep(time=line.time, actor=_actor(line.component), who=line.component, what=line.text)
            for line in lines
        ]


def _actor(component: str) -> Actor:
    if component.startswith("node"):
        return "node"
    if component == "anvil":
        return "chain"
    return "backend" if component == "backend" else "service"


def _first_logged(steps: Sequence[TraceStep], text: str, default: datetime | None) -> datetime | None:
    """When the first log line containing `text` was written (block times have whole seconds only: a line is
    the finer clock for what happened around a transaction)."""
    return next((step.time for step in steps if text in step.what), default)


def _last_logged(steps: Sequence[TraceStep], text: str, default: datetime | None) -> datetime | None:
    """When the last log line containing `text` was written, if later than `default`."""
    times = [step.time for step in steps if step.time is not None and text in step.what]
    return max([*times, default]) if default is not None else max(times, default=None)


def _step_order(step: TraceStep) -> tuple[int, datetime]:
    return (0, step.time) if step.time is not None else (1, datetime.max.replace(tzinfo=UTC))


def _account(node: str, view: dict[str, Any]) -> NodeAccount:
    intervals = view.get("intervals") or []
    last = intervals[-1] if intervals else {}
    return NodeAccount(
        node=node,
        status=str(view.get("status")),
        reason=view.get("reason"),
        last_interval=last.get("interval"),
        last_status=last.get("status"),
        last_error=last.get("error"),
        last_tx=last.get("tx_hash"),
    )


def decode_inputs(containers: Sequence[str], raw: bytes) -> Any:
    """A consumer's `getContainerInputs` answer decoded by the first container's on-chain input shape."""
    types = {tgi.CONTAINER_ID: tgi.INPUT_TYPES, hf.CONTAINER_ID: hf.INPUT_TYPES}.get(
        containers[0] if containers else ""
    )
    if types is None:
        return "0x" + raw.hex()
    try:
        values = decode(list(types), raw)
    except Exception:
        return "0x" + raw.hex()
    return list(values) if len(values) > 1 else values[0]
