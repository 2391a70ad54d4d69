"""A service worker's Prometheus metrics (served on its `GET /metrics`; documented in docs/METRICS.md).

Each worker process counts its own requests, labelled with its pid: a scrape reaches one worker, so with
several workers sum over `worker` in queries (or serve with `--workers 1` for exact totals per scrape)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from infernet_kit.metrics import LATENCY_BUCKETS

REQUESTS = Counter(
    "infernet_service_requests",
    "`POST /service_output` requests by service, worker and outcome.",
    ["service", "worker", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "infernet_service_request_seconds",
    "Time to answer `POST /service_output` (including the backend call), by service and worker.",
    ["service", "worker"],
    buckets=LATENCY_BUCKETS,
)
