"""Prometheus metrics, the one way: each process's metrics live in the `prometheus_client` default registry and are
served as text on `GET /metrics` (the node's REST port, each service's port). Metrics are module-level objects
updated once per event (a counter or histogram step): nothing is allocated per request beyond that."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: a container call on a dev backend takes milliseconds, a real model seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def exposition() -> bytes:
    """This process's metrics in Prometheus' text format."""
    return generate_latest(REGISTRY)
