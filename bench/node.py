"""Node benchmarks. Each section prints its figures next to a baseline measured in the same run.

offchain: jobs/s and p50/p99 latency of an off-chain job through node -> TGI service -> dev backend, against
  the TGI service called directly (POST /service_output), 1 at a time and 64 in flight, three ways: POST then
  poll GET /api/jobs until done (as the official client does); POST then one waiting read
  (GET /api/jobs?id=…&wait=30, as `get_job_result_sync` does); one waiting POST (POST /api/jobs?wait=30: the
  answer is the job's record once it ends, one exchange, as the kit's `run_job` does); POST then a waiting read
  on a second node whose job store is PostgreSQL (a throwaway server) instead of SQLite. Goals: one job's p50
  within 1 ms of the service's own, and >= 2,500 jobs/s (and at least half the service's rate) at 64 in flight
  (issue 15 names POST + waiting read; the waiting POST is printed beside it, never in its place).
  Under each figure, the CPU per request of every process that spent any (/proc, summed over a process's workers):
  the load generator (this process, on uvloop), each node, the service, the dev backend, PostgreSQL. They all
  share the machine's cores, so a rate is bounded by cores / their sum, and no figure hides where it comes from.

onchain: seconds and blocks from a consumer's request transaction to the node's callback, anvil automining
  and 1-second blocks, 1 and `--burst` concurrent subscriptions (bench/node_onchain.py). Goals: with 1-second
  blocks the callback lands in the next block at p50; 200 concurrent callbacks within 5 blocks.

  `--baseline PYTHON` adds a SQLite node run by another interpreter (e.g. main's checkout's venv) to the same
  alternating rounds: the code before a change against the code after it, under the same load.

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

import uvloop

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


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (a service's supervisor and its workers), from /proc's children lists."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            pending.extend(int(child) for child in (task / "children").read_text().split())
    return found


@dataclass
class Parts:
    """The processes of the off-chain stack whose CPU is summed per measured request: every one shares the
    machine's cores, so a rate is bounded by their sum, and no figure hides which process it comes from."""

    trees: dict[str, list[int]]  # part -> its processes

    def cpu(self) -> dict[str, float]:
        return {part: sum(process_cpu_seconds(pid) for pid in pids) for part, pids in self.trees.items()}


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
            f"{self.label:<40} c={self.concurrency:<3} n={self.count:<5} {self.rate:8.1f}/s  "
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


def node_job(body: bytes, *, poll_interval: float | None, waiting_post: bool = False) -> Operation:
    """POST the job, then read its result until it is no longer running: polling every `poll_interval` seconds
    (what infernet-client does), or with None waiting reads (`wait=30`: the node answers when the job ends, what
    the kit's client does). `waiting_post`: the POST itself waits (`wait=30`) and answers the job's record (an
    answer without one, from a node that does not hold it, counts as an error)."""
    held = "&wait=30" if poll_interval is None else ""
    post_path = "/api/jobs?wait=30" if waiting_post else "/api/jobs"

    async def job(connection: HttpConnection) -> bool:
        status, answer = await connection.request("POST", post_path, body)
        if status != 200:
            return False
        posted = json.loads(answer)
        if waiting_post and "status" not in posted:
            return False  # the node did not hold it: not the path measured here
        if posted.get("status", "running") != "running":
            return bool(posted["status"] == "success")
        path = f"/api/jobs?id={posted['id']}{held}"
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


@dataclass
class Stack:
    service_port: int
    nodes: dict[str, tuple[int, int]]  # job store -> (node port, node pid)
    others: dict[str, int]  # the other processes' roots: service, backend, PostgreSQL

    def parts(self) -> Parts:
        """Every process of the stack (read once all connections are open: PostgreSQL forks one per client)."""
        trees = {"load generator": [os.getpid()], **{f"node {s}": [pid] for s, (_, pid) in self.nodes.items()}}
        return Parts({**trees, **{name: process_tree(pid) for name, pid in self.others.items()}})


def start_node(
    log_dir: Path, name: str, service_port: int, python: str | None = None, **extra: object
) -> tuple[ManagedProcess, int]:
    """A node in front of the service, logging to `<name>.log` in `log_dir`, run by `python` (this interpreter
    by default); `extra` goes into its config."""
    port = free_port()
    config = {
        "containers": [{"id": "tgi", "url": f"http://127.0.0.1:{service_port}", "external": True}],
        "server": {"port": port, "rate_limit": {"num_requests": 10_000_000, "period": 1}},
        "log_path": str(log_dir / f"{name}.log"),
        **extra,
    }
    config_path = log_dir / f"{name}.json"
    config_path.write_text(json.dumps(config))
    command = kit_command("node", "--config", str(config_path), "--data-dir", str(log_dir / f"{name}-data"))
    node = ManagedProcess(name, [python or command[0], *command[1:]], log_path=log_dir / f"{name}.stderr")
    return node, port


@contextlib.contextmanager
def offchain_stack(log_dir: Path, baseline: str | None = None) -> Iterator[Stack]:
    """Dev backend, TGI service (2 workers), a node in front of it on SQLite and one on PostgreSQL (and one on
    SQLite run by the `baseline` interpreter)."""
    from infernet_kit.devstack.postgres import Postgres

    backend_port, service_port = free_port(), free_port()
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
    with backend, service, Postgres(log_path=log_dir / "postgres.log", durable=True) as postgres:
        sqlite_node, sqlite_port = start_node(log_dir, "node-sqlite", service_port)
        dsn = postgres.create_database("jobs")
        postgres_node, postgres_port = start_node(log_dir, "node-postgres", service_port, job_store={"dsn": dsn})
        started = [("SQLite", sqlite_node, sqlite_port), ("PostgreSQL", postgres_node, postgres_port)]
        if baseline:
            started.append(("baseline", *start_node(log_dir, "node-baseline", service_port, baseline)))
        with contextlib.ExitStack() as running:
            for _, node, _ in started:
                running.enter_context(node)
            backend.wait_for_http(f"http://127.0.0.1:{backend_port}/health", timeout=60)
            service.wait_for_http(f"http://127.0.0.1:{service_port}/", timeout=60)
            nodes = {}
            for store, node, port in started:
                node.wait_for_http(f"http://127.0.0.1:{port}/health", timeout=90)
                assert node.pid is not None
                nodes[store] = (port, node.pid)
            database = postgres.process.pid if postgres.process else None
            roots = {"service": service.pid, "backend": backend.pid, "PostgreSQL": database}
            yield Stack(service_port, nodes, {name: pid for name, pid in roots.items() if pid is not None})


async def offchain(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-node-") as tmp, offchain_stack(Path(tmp), args.baseline) as stack:
        node_port, node_pid = stack.nodes["SQLite"]
        pg_port, pg_pid = stack.nodes["PostgreSQL"]
        node_log = Path(tmp) / "node-sqlite.log"
        direct_body = json.dumps({"source": 1, "destination": 1, "data": {"text": PROMPT}}).encode()
        job_body = json.dumps({"containers": ["tgi"], "data": {"text": PROMPT}}).encode()
        serial = max(50, args.jobs // 10)
        # Warm up every path (connections, worker processes, database pages).
        await measure("warm-up", stack.service_port, direct_call(direct_body), count=200, concurrency=8)
        for port, _ in stack.nodes.values():
            await measure("warm-up", port, node_job(job_body, poll_interval=None), count=200, concurrency=8)
        print(f"off-chain jobs: TGI service (2 workers) -> dev backend; nodes in front; {args.jobs} jobs at 64")
        failed = False
        # The paths are measured in alternating rounds, so load from anything else on the machine falls on all
        # alike. The polling client polls every millisecond (1 at a time) or every 2 ms (64 in flight).
        for concurrency, count, poll in ((1, serial, 0.001), (64, args.jobs, 0.002)):
            paths: list[tuple[str, int, Operation, int | None]] = [
                ("service directly", stack.service_port, direct_call(direct_body), None),
                ("node SQLite (POST + poll)", node_port, node_job(job_body, poll_interval=poll), node_pid),
                ("node SQLite (POST + waiting read)", node_port, node_job(job_body, poll_interval=None), node_pid),
                (
                    "node SQLite (waiting POST)",
                    node_port,
                    node_job(job_body, poll_interval=None, waiting_post=True),
                    node_pid,
                ),
                ("node PostgreSQL (POST + waiting read)", pg_port, node_job(job_body, poll_interval=None), pg_pid),
            ]
            if "baseline" in stack.nodes:
                base_port, base_pid = stack.nodes["baseline"]
                base_job = node_job(job_body, poll_interval=None)
                paths.append(("baseline node SQLite (waiting read)", base_port, base_job, base_pid))
            rounds: list[list[Figures]] = [[] for _ in paths]
            parts = stack.parts()
            cpu: list[dict[str, float]] = [dict.fromkeys(parts.trees, 0.0) for _ in paths]
            log_mark = len(node_log.read_text().splitlines())
            for _ in range(ROUNDS):
                for index, (label, port, operation, _) in enumerate(paths):
                    before = parts.cpu()
                    rounds[index].append(
                        await measure(label, port, operation, count=count // ROUNDS, concurrency=concurrency)
                    )
                    for part, seconds in parts.cpu().items():
                        cpu[index][part] += seconds - before[part]
            figures = [Figures.combine(r) for r in rounds]
            for (_, _, _, pid), figure, spent in zip(paths, figures, cpu, strict=True):
                node = next((part for part, pids in parts.trees.items() if pids == [pid]), None)
                print(figure.line() + (f"  node CPU {spent[node] / figure.count * 1000:.2f} ms/job" if node else ""))
                print(cpu_line(spent, figure.count))
            failed = failed or any(figure.errors for figure in figures)
            inside = job_durations(node_log.read_text().splitlines()[log_mark:])
            if inside:
                # Not the service's latency: the job's run from its task's start to the parsed answer, with the
                # request's building, both hops and the answer's loop turn (docs/PERFORMANCE.md, "Why the node's
                # container call takes longer than the service alone").
                label = "  inside the node: job run (log ms=)"
                print(f"{label:<40} c={concurrency:<3} p50 {statistics.median(inside):7.2f} ms")
            direct, polled, waited, held, on_postgres, *baseline = figures
            if concurrency == 1:
                named = [
                    ("poll", polled),
                    ("waiting read", waited),
                    ("waiting POST", held),
                    ("PostgreSQL", on_postgres),
                ]
                for name, figure in named + [("baseline", figure) for figure in baseline]:
                    added = figure.percentile(50) - direct.percentile(50)
                    print(f"{'  node adds at p50, ' + name:<40} c=1   {added:+.2f} ms (goal <= 1 ms)")
            else:
                print(
                    f"{'  waiting read / service alone':<40} c=64  {waited.rate / direct.rate:.2f}x "
                    f"({waited.rate:.0f}/s; goal >= 2,500/s and >= 0.5x); PostgreSQL {on_postgres.rate:.0f}/s, "
                    f"{on_postgres.rate / waited.rate:.2f}x SQLite; polling {polled.rate:.0f}/s"
                )
                print(
                    f"{'  waiting POST / service alone':<40} c=64  {held.rate / direct.rate:.2f}x ({held.rate:.0f}/s)"
                )
                for figure in baseline:
                    ratio = figure.rate / direct.rate
                    print(f"{'  baseline / service alone':<40} c=64  {ratio:.2f}x ({figure.rate:.0f}/s)")
        await flood(node_port, stack.service_port, job_body, jobs=args.jobs)
        if failed:
            print("ERRORS occurred: see the figures above", file=sys.stderr)


def cpu_line(spent: dict[str, float], count: int) -> str:
    """CPU per request of every process that spent any (>= 0.005 ms), and their sum: what a rate on a machine
    of N cores is bounded by (N / sum)."""
    shown = {part: seconds / count * 1000 for part, seconds in spent.items() if seconds / count * 1000 >= 0.005}
    each = ", ".join(f"{part} {ms:.2f}" for part, ms in shown.items())
    return f"{'    CPU ms per request:':<40} {each}; sum {sum(shown.values()):.2f}"


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
        f"{'flood (batches of 100)':<40} n={len(ids):<5} {len(ids) / seconds:8.1f}/s  statuses {statuses}  "
        f"unfinished {len(pending)}  peak connections to the service (both nodes) {peak}"
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
    parser.add_argument("--baseline", help="offchain: also measure a SQLite node run by this Python interpreter")
    parser.add_argument("--samples", type=int, default=10, help="on-chain: requests one at a time")
    parser.add_argument("--burst", type=int, default=200, help="on-chain: concurrent subscriptions")
    parser.add_argument(
        "--modes", default="automine,automine-poll,1s", help="on-chain: automine and/or <n>s block times (-poll: no WS)"
    )
    args = parser.parse_args()
    chosen = list(SECTIONS) if args.section == "all" else [args.section]
    for name in chosen:
        uvloop.run(SECTIONS[name](args))  # the load generator's own CPU per request, as small as it goes


if __name__ == "__main__":
    main()
