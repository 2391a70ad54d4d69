"""The fuzzing of test_api_fuzz.py (schemathesis over hypothesis), apart so that only the worker that fuzzes imports
them: pyproject's addopts keeps their pytest plugins out of every other pytest process (~2 CPU-s each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 25  # per route and generation mode
# Container chains a fuzzed job names instead of its random ones, so that jobs really run (the echo container
# answers with what it received, or fails as the job's data asks).
AnyCase = Case[Any]
Rewrite = Callable[[AnyCase], None]


def job_containers(chain: list[str]) -> Rewrite:
    """Point a fuzzed job (or each job of a fuzzed batch) at configured containers, so that jobs really run
    (the echo container answers with what it received, or fails as the job's data asks)."""

    def rewrite(case: AnyCase) -> None:
        for job in case.body if isinstance(case.body, list) else [case.body]:
            if isinstance(job, dict) and isinstance(job.get("containers"), list):
                job["containers"] = list(chain)

    return rewrite


def service_data(**fields: Any) -> Rewrite:
    """Make a fuzzed service request one the service runs: off-chain input of the right shape (the text stays
    fuzzed when it is one); the destination stays fuzzed."""

    def rewrite(case: AnyCase) -> None:
        if isinstance(case.body, dict):
            data = case.body.get("data")
            text = data if isinstance(data, str) else "fuzz"
            case.body.update(source=1, requires_proof=False, data={"text": text, "prompt": text, **fields})

    return rewrite


NODE_REWRITES = [job_containers(["echo"]), job_containers(["echo", "echo2"]), job_containers(["internal"])]
SERVICE_REWRITES = {
    "tgi": [service_data()],
    "hf": [service_data(task_id=task) for task in (1, 2, 3, 4)],
}


def rewritten(case: AnyCase, rewrite: Rewrite | None) -> AnyCase:
    if rewrite is not None:
        rewrite(case)
    if case.operation.path == "/api/events" and str((case.query or {}).get("follow", "true")).lower() == "true":
        # The event feed is endless when followed: ask for its snapshot only (invalid values stay, for a 400).
        case.query = {**(case.query or {}), "follow": "false"}
    return case


def fuzz(url: str, rewrites: list[Rewrite]) -> list[AnyCase]:
    """Run every operation of the document at `url/openapi.json` with generated valid and invalid requests, some
    of them passed through one of `rewrites`; the cases run, for the caller's own checks."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    sent: list[AnyCase] = []
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results) >= 3, [o.label for o in operations]  # all but /openapi.json
    for operation in operations:
        # Invalid requests need something to get wrong: a body or a query parameter.
        variable = any(True for _ in operation.iter_parameters()) or bool(operation.get_request_payload_content_types())
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if variable else [GenerationMode.POSITIVE]
        for mode in modes:
            strategy = operation.as_strategy(generation_mode=mode)
            strategy = st.builds(rewritten, strategy, st.sampled_from([None, *rewrites]))

            @given(strategy)
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: AnyCase) -> None:
                sent.append(case)
                case.call_and_validate(base_url=url, checks=CHECKS, timeout=10)

            run()
    return sent
