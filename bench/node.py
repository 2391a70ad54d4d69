"""Node benchmarks. Each section prints its figures next to a baseline measured in the same run.

offchain: jobs/s and p50/p99 latency of an off-chain job through node -> TGI service -> dev backend
  (POST /api/jobs, then poll GET /api/jobs until done, as a client does), against the TGI service called
  directly (POST /service_output), 1 at a time and 64 in flight. Goal: the node adds under 3 ms at p50.

onchain: seconds and blocks from a consumer's request transaction to the node's callback, anvil automining
  and 1-second blocks, 1 and `--burst` concurrent subscriptions (bench/node_onchain.py). Goals: with 1-second
  blocks the callback lands in the next block at p50; 200 concurrent callbacks within 5 blocks.

Run: .venv/bin/python bench/node.py [--section offchain|onchain] [--jobs N] [--samples N] [--burst N]
Everything runs on loopback; every loop is bounded by a request count or a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from infernet_kit.processes import ManagedProcess, free_port, kit_command

PROMPT = "Is the sky blue during a clear day?"
ROUNDS = 5  # alternating direct/node rounds per measurement
POLL_DEADLINE = 30.0  # seconds a single job may take before the run is declared broken


class HttpConnection:
    """A minimal keep-alive HTTP/1.1 client, so the load generator costs little CPU next to the measured parts."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        raw_head = await self._reader.readuntil(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if headers.get("transfer-encoding") == "chunked":
            chunks = []
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).strip(), 16)
                data = await self._reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(data[:-2])
            return status, b"".join(chunks)
        return status, await self._reader.readexactly(int(headers.get("content-length", "0")))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), to report the node's CPU cost per job."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    label: str
    concurrency: int
    count: int
    seconds: float
    latencies: list[float]
    errors: int

    @classmethod
    def combine(cls, rounds: list[Figures]) -> Figures:
        first = rounds[0]
        return cls(
            first.label,
            first.concurrency,
            sum(r.count for r in rounds),
            sum(r.seconds for r in rounds),
            [latency for r in rounds for latency in r.latencies],
            sum(r.errors for r in rounds),
        )

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    def line(self) -> str:
        return (
            f"{self.label:<34} c={self.concurrency:<3} n={self.count:<5} {self.rate:8.1f}/s  "
            f"p50 {self.percentile(50):7.2f} ms  p99 {self.percentile(99):7.2f} ms  errors {self.errors}"
        )


Operation = Callable[[HttpConnection], Awaitable[bool]]


async def measure(label: str, port: int, operation: Operation, *, count: int, concurrency: int) -> Figures:
    """Run `operation` `count` times with `concurrency` workers, each on its own keep-alive connection."""
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(count))

    async def worker() -> None:
        nonlocal errors
        connection = HttpConnection("127.0.0.1", port)
        try:
            for _ in remaining:
                started = time.perf_counter()
                ok = await operation(connection)
                latencies.append(time.perf_counter() - started)
                errors += 0 if ok else 1
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Figures(label, concurrency, count, time.perf_counter() - started, latencies, errors)


def direct_call(body: bytes) -> Operation:
    async def call(connection: HttpConnection) -> bool:
        status, _ = await connection.request("POST", "/service_output", body)
        return status == 200

    return call


def node_job(body: bytes, *, poll_interval: float) -> Operation:
    """POST the job, then poll its result until it is no longer running (what infernet-client does)."""

    async def job(connection: HttpConnection) -> bool:
        status, answer = await connection.request("POST", "/api/jobs", body)
        if status != 200:
            return False
        path = f"/api/jobs?id={json.loads(answer)['id']}"
        deadline = time.monotonic() + POLL_DEADLINE
        while time.monotonic() < deadline:
            status, answer = await connection.request("GET", path)
            (record,) = json.loads(answer)
            if record["status"] != "running":
                return bool(record["status"] == "success")
            if poll_interval:
                await asyncio.sleep(poll_interval)
        return False

    return job


@contextlib.contextmanager
def offchain_stack(log_dir: Path) -> Iterator[tuple[int, int, int]]:
    """Dev backend, TGI service (2 workers) and a node in front of it; yields (service port, node port, node pid)."""
    backend_port, service_port, node_port = free_port(), free_port(), free_port()
    backend = ManagedProcess(
        "dev backend", kit_command("backend", f"--port={backend_port}"), log_path=log_dir / "backend.log"
    )
    env = {
        "TGI_INF_WORKFLOW_POSITIONAL_ARGS": json.dumps([f"http://127.0.0.1:{backend_port}", 30]),
        "TGI_INF_WORKFLOW_KW_ARGS": json.dumps({"max_new_tokens": 20}),
    }
    service = ManagedProcess(
        "tgi service",
        kit_command("serve", "tgi", f"--bind=127.0.0.1:{service_port}", "--workers=2", "--log-level=warning"),
        log_path=log_dir / "service.log",
        env=env,
    )
    config = {
        "containers": [{"id": "tgi", "url": f"http://127.0.0.1:{service_port}", "external": True}],
        "server": {"port": node_port, "rate_limit": {"num_requests": 10_000_000, "period": 1}},
        "log_path": str(log_dir / "node.log"),
    }
    config_path = log_dir / "config.json"
    config_path.write_text(json.dumps(config))
    node = ManagedProcess(
        "node",
        kit_command("node", "--config", str(config_path), "--data-dir", str(log_dir / "data")),
        log_path=log_dir / "node.stderr",
    )
    with backend, service, node:
        backend.wait_for_http(f"http://127.0.0.1:{backend_port}/health", timeout=60)
        service.wait_for_http(f"http://127.0.0.1:{service_port}/", timeout=60)
        node.wait_for_http(f"http://127.0.0.1:{node_port}/health", timeout=90)
        assert node.pid is not None
        yield service_port, node_port, node.pid


async def offchain(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-node-") as tmp, offchain_stack(Path(tmp)) as ports:
        service_port, node_port, node_pid = ports
        node_log = Path(tmp) / "node.log"
        direct_body = json.dumps({"source": 1, "destination": 1, "data": {"text": PROMPT}}).encode()
        job_body = json.dumps({"containers": ["tgi"], "data": {"text": PROMPT}}).encode()
        serial = max(50, args.jobs // 10)
        # Warm up both paths (connections, worker processes, SQLite pages).
        await measure("warm-up", service_port, direct_call(direct_body), count=200, concurrency=8)
        await measure("warm-up", node_port, node_job(job_body, poll_interval=0.001), count=200, concurrency=8)
        print(f"off-chain jobs: TGI service (2 workers) -> dev backend; node in front; {args.jobs} jobs at 64")
        pairs = []
        # The two paths are measured in alternating rounds, so load from anything else on the machine falls
        # on both alike. The client polls every millisecond (1 at a time) or every 2 ms (64 in flight).
        for concurrency, count, poll in ((1, serial, 0.001), (64, args.jobs, 0.002)):
            direct_rounds: list[Figures] = []
            node_rounds: list[Figures] = []
            node_cpu = 0.0
            log_mark = len(node_log.read_text().splitlines())
            for _ in range(ROUNDS):
                direct_rounds.append(
                    await measure(
                        "service directly",
                        service_port,
                        direct_call(direct_body),
                        count=count // ROUNDS,
                        concurrency=concurrency,
                    )
                )
                cpu_before = process_cpu_seconds(node_pid)
                node_rounds.append(
                    await measure(
                        "node (POST + poll)",
                        node_port,
                        node_job(job_body, poll_interval=poll),
                        count=count // ROUNDS,
                        concurrency=concurrency,
                    )
                )
                node_cpu += process_cpu_seconds(node_pid) - cpu_before
            direct, via_node = Figures.combine(direct_rounds), Figures.combine(node_rounds)
            pairs.append((direct, via_node))
            print(direct.line())
            print(via_node.line() + f"  node CPU {node_cpu / via_node.count * 1000:.2f} ms/job")
            inside = job_durations(node_log.read_text().splitlines()[log_mark:])
            if inside:
                label = "  inside the node: call to service"
                print(f"{label:<34} c={concurrency:<3} p50 {statistics.median(inside):7.2f} ms")
            added = via_node.percentile(50) - direct.percentile(50)
            print(f"{'  node adds at p50':<34} c={concurrency:<3} {added:+.2f} ms (goal < 3 ms)")
        await flood(node_port, service_port, job_body, jobs=args.jobs)
        if any(d.errors or n.errors for d, n in pairs):
            print("ERRORS occurred: see the figures above", file=sys.stderr)


def job_durations(lines: list[str]) -> list[float]:
    """The `ms=` of the node's `job … success` log lines: time from the job's start to the container's answer."""
    found = (re.search(r" success: .* ms=([0-9.]+)", line) for line in lines)
    return [float(match.group(1)) for match in found if match]


def established_connections(port: int) -> int:
    """Established TCP connections to local `port` (client side), from /proc/net/tcp."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if remote_port == port and fields[3] == "01":
            count += 1
    return count


async def flood(node_port: int, service_port: int, body: bytes, *, jobs: int) -> None:
    """Submit `jobs` jobs as fast as batches go, then wait for all: none may fail, and the node must keep
    its connections to the service bounded (the reference opened one per job and overflowed the service)."""
    connection = HttpConnection("127.0.0.1", node_port)
    ids: list[str] = []
    peak = 0
    started = time.perf_counter()
    batch = b"[" + b",".join([body] * 100) + b"]"
    for _ in range(jobs // 100):
        _, answer = await connection.request("POST", "/api/jobs/batch", batch)
        ids.extend(item["id"] for item in json.loads(answer) if "id" in item)
        peak = max(peak, established_connections(service_port))
    statuses: dict[str, int] = {}
    deadline = time.monotonic() + 120
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        peak = max(peak, established_connections(service_port))
        query = "&".join(f"id={job_id}" for job_id in pending[:200])
        _, answer = await connection.request("GET", f"/api/jobs?{query}")
        done = [r for r in json.loads(answer) if r["status"] != "running"]
        for record in done:
            statuses[record["status"]] = statuses.get(record["status"], 0) + 1
        finished = {r["id"] for r in done}
        pending = [job_id for job_id in pending if job_id not in finished]
        if not done:
            await asyncio.sleep(0.05)
    seconds = time.perf_counter() - started
    await connection.close()
    print(
        f"{'flood (batches of 100)':<34} n={len(ids):<5} {len(ids) / seconds:8.1f}/s  statuses {statuses}  "
        f"unfinished {len(pending)}  peak node->service connections {peak}"
    )


async def onchain(args: argparse.Namespace) -> None:
    from node_onchain import run  # bench/node_onchain.py, beside this file

    if not await asyncio.to_thread(run, args.samples, args.burst, args.modes.split(",")):
        print("on-chain goals missed: see the figures above", file=sys.stderr)


SECTIONS: dict[str, Callable[[argparse.Namespace], Awaitable[None]]] = {"offchain": offchain, "onchain": onchain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--section", choices=[*SECTIONS, "all"], default="all")
    parser.add_argument("--jobs", type=int, default=3000, help="jobs per measurement at 64 in flight")
    parser.add_argument("--samples", type=int, default=10, help="on-chain: requests one at a time")
    parser.add_argument("--burst", type=int, default=200, help="on-chain: concurrent subscriptions")
    parser.add_argument(
        "--modes", default="automine,automine-poll,1s", help="on-chain: automine and/or <n>s block times (-poll: no WS)"
    )
    args = parser.parse_args()
    chosen = list(SECTIONS) if args.section == "all" else [args.section]
    for name in chosen:
        asyncio.run(SECTIONS[name](args))


if __name__ == "__main__":
    main()
