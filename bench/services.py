"""Benchmark: `POST /service_output` through the TGI client service vs the dev backend called directly.

Same run, same load: N connections each keeping one request in flight (64 by default), the service on 2
workers, loopback only. The backend request is exactly the one the service sends for the job, so the
difference is the service's own cost. Goal on 2 cores: < 2 ms added at p50, >= 1,500 requests/s.
CPU time per request of each target's processes is printed too: latency and throughput depend on what
else the machine runs, CPU per request much less.

Load generator: `wrk` when installed (`apt-get install wrk`), else a bounded asyncio/aiohttp generator.

    .venv/bin/python bench/services.py [--duration 10] [--connections 64] [--workers 2] [--loadgen auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from infernet_kit.processes import ManagedProcess, free_port, kit_command

PROMPT = "Is the sky blue during a clear day?"
MAX_NEW_TOKENS = 6
GOAL_OVERHEAD_MS = 2.0
GOAL_RPS = 1500.0


@dataclass
class Figures:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_us: float = 0.0  # CPU of the target's processes per request: comparable even on a busy machine


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and its direct children (a service's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@dataclass
class Target:
    name: str
    url: str
    body: bytes


def _wrk_ms(text: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no {percentile}% latency:\n{text}")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run_wrk(target: Target, connections: int, seconds: float) -> Figures:
    """wrk with a POST script; its percentiles are over every request of the run."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(target.body.decode())}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", "-s", script.name]
    try:
        output = subprocess.run([*command, target.url], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(x) for x in m.groups())
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return Figures(target.name, rps, _wrk_ms(output, "50"), _wrk_ms(output, "99"), requests, errors)


async def _python_load(target: Target, connections: int, seconds: float, max_requests: int) -> Figures:
    """`connections` loops, each with one request in flight, until `seconds` or `max_requests` pass."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(connector=connector) as session:

        async def loop() -> None:
            nonlocal errors
            while time.perf_counter() < deadline and len(latencies) < max_requests:
                start = time.perf_counter()
                try:
                    async with session.post(target.url, data=target.body, headers=headers) as response:
                        await response.read()
                        if response.status != 200:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return Figures(target.name, len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000, len(latencies), errors)


def run_python(target: Target, connections: int, seconds: float) -> Figures:
    return asyncio.run(_python_load(target, connections, seconds, max_requests=500_000))


def measure(loadgen: str, target: Target, connections: int, seconds: float, pid: int) -> Figures:
    # A short warm-up first: connection set-up and first-request imports are not the steady state.
    runner = run_wrk if loadgen == "wrk" else run_python
    runner(target, connections, min(2.0, seconds))
    cpu = tree_cpu_seconds(pid)
    figures = runner(target, connections, seconds)
    figures.cpu_us = (tree_cpu_seconds(pid) - cpu) / max(figures.requests, 1) * 1e6
    return figures


def print_table(rows: list[Figures]) -> None:
    print(f"{'target':<46} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>6} {'CPU us/req':>10}")
    for r in rows:
        latency = f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f}"
        print(f"{r.name:<46} {r.rps:>7.0f} {latency} {r.requests:>9} {r.errors:>6} {r.cpu_us:>10.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="requests in flight (default 64)")
    parser.add_argument("--workers", type=int, default=2, help="service worker processes (default 2)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args()
    loadgen = args.loadgen if args.loadgen != "auto" else ("wrk" if shutil.which("wrk") else "python")
    if loadgen == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), use --loadgen=python")

    logs = Path(tempfile.mkdtemp(prefix="infernet-kit-bench-"))
    backend_port, service_port = free_port(), free_port()
    backend_url = f"http://127.0.0.1:{backend_port}"
    service_url = f"http://127.0.0.1:{service_port}"
    env = {
        "TGI_INF_WORKFLOW_POSITIONAL_ARGS": json.dumps([backend_url, 30]),
        "TGI_INF_WORKFLOW_KW_ARGS": json.dumps({"max_new_tokens": MAX_NEW_TOKENS}),
    }
    backend = ManagedProcess("backend", kit_command("backend", f"--port={backend_port}"), log_path=logs / "backend.log")
    service = ManagedProcess(
        "tgi service",
        kit_command(
            "serve", "tgi", f"--bind=127.0.0.1:{service_port}", f"--workers={args.workers}", "--log-level=warning"
        ),
        log_path=logs / "service.log",
        env=env,
    )
    direct = Target(
        "dev backend, direct (POST /)",
        f"{backend_url}/",
        json.dumps({"inputs": PROMPT, "parameters": {"max_new_tokens": MAX_NEW_TOKENS}}).encode(),
    )
    through = Target(
        f"TGI service, {args.workers} workers (POST /service_output)",
        f"{service_url}/service_output",
        json.dumps({"source": 1, "destination": 1, "data": {"text": PROMPT}}).encode(),
    )
    with backend, service:
        backend.wait_for_http(f"{backend_url}/health")
        service.wait_for_http(f"{service_url}/")
        time.sleep(1.0)  # every worker up, not just the first
        print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}, load generator: {loadgen}")
        print(f"{args.connections} connections, {args.duration:.0f} s per measurement, logs in {logs}\n")
        pids = {direct.name: backend.pid or 0, through.name: service.pid or 0}
        rows = [measure(loadgen, t, args.connections, args.duration, pids[t.name]) for t in (direct, through)]
        single = [measure(loadgen, t, 1, min(args.duration, 5.0), pids[t.name]) for t in (direct, through)]
        alive = service.running() and backend.running()
    print_table(rows)
    print("\none connection at a time:")
    print_table(single)
    base, svc = rows
    overhead = svc.p50_ms - base.p50_ms
    print(f"\nadded by the service at p50: {overhead:.2f} ms (goal < {GOAL_OVERHEAD_MS} ms)")
    print(f"throughput through the service: {svc.rps:.0f} req/s (goal >= {GOAL_RPS:.0f})")
    print(f"added at p50, one connection: {single[1].p50_ms - single[0].p50_ms:.2f} ms")
    print(
        f"CPU per request: service workers {svc.cpu_us:.0f} us, backend {base.cpu_us:.0f} us "
        "(the service's figure excludes the backend it calls)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if not alive:
        print("a process died during the run; see the logs", file=sys.stderr)
        return 1
    return 1 if svc.errors or base.errors else 0


if __name__ == "__main__":
    sys.exit(main())
