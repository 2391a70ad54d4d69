"""The node's Prometheus metrics (served on `GET /metrics`; documented in docs/METRICS.md)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from infernet_kit.metrics import LATENCY_BUCKETS

JOBS = Counter("infernet_node_jobs", "Off-chain jobs by final status (accepted counts every admitted job).", ["status"])
CONTAINER_SECONDS = Histogram(
    "infernet_node_container_seconds",
    "Time from sending a container its request to its full answer, by container and outcome.",
    ["container", "outcome"],
    buckets=LATENCY_BUCKETS,
)
DELIVERIES = Counter(
    "infernet_node_deliveries",
    "On-chain intervals settled by this node, by outcome (delivered, skipped, failed).",
    ["outcome"],
)
REVERTS = Counter("infernet_node_reverts", "Delivery reverts (simulated or mined) by custom error name.", ["name"])
GAS_USED = Counter("infernet_node_gas_used", "Gas used by this node's mined deliveries.")
DELIVERY_GAS = Histogram(
    "infernet_node_delivery_gas",
    "Gas used per mined delivery.",
    buckets=(50_000, 100_000, 150_000, 200_000, 300_000, 500_000, 1_000_000, 2_000_000, 5_000_000),
)
RPC_REQUESTS = Counter("infernet_node_rpc_requests", "JSON-RPC requests sent, by method.", ["method"])
RPC_SECONDS = Histogram(
    "infernet_node_rpc_round_trip_seconds",
    "Time per JSON-RPC round trip (one request or one batch).",
    buckets=LATENCY_BUCKETS,
)
RPC_ERRORS = Counter("infernet_node_rpc_failures", "JSON-RPC round trips that failed in transport.")
SYNC_LAG = Gauge("infernet_node_sync_lag_blocks", "Blocks between the chain head and the newest block judged.")
HEAD = Gauge("infernet_node_chain_head", "The newest block number seen.")


def settled(outcome: str, gas_used: int | None) -> None:
    """Count one interval settled (`delivered`, `skipped`, `failed`), with its delivery's gas when mined."""
    _child(DELIVERIES, outcome).inc()
    if gas_used is not None:
        GAS_USED.inc(gas_used)
        DELIVERY_GAS.observe(gas_used)


# Label children by label values, made on first use as `labels()` makes them (a series appears once counted), then
# looked up here: `labels()` itself validates, hashes and locks on every call, twice per job.
_CHILDREN: dict[tuple[object, ...], Any] = {}


def _child(metric: Counter | Histogram, *values: str) -> Any:
    key = (metric, *values)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*values)
    return child


def count_job(status: str) -> None:
    """Count one off-chain job `accepted`, or ended with `status`."""
    _child(JOBS, status).inc()


def count_rpc(method: str, calls: int = 1) -> None:
    """Count `calls` JSON-RPC calls of `method` (each element of a batch is one)."""
    _child(RPC_REQUESTS, method).inc(calls)


def container_call(container: str, outcome: str, seconds: float) -> None:
    """Time one container call (`ok` or `failed`)."""
    _child(CONTAINER_SECONDS, container, outcome).observe(seconds)
