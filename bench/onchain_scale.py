"""How a node's cost grows with its recurring subscriptions, and how it bears more than the chain can take.

One real node process serves N RecurringConsumer subscriptions on anvil with 1-second blocks (block gas
limit raised so that anvil's own speed, not gas, caps deliveries), through the TGI service and the dev
backend. Its JSON-RPC goes through a counting proxy in front of anvil (calls and bytes both ways; the
new-heads WebSocket goes straight to anvil: one small notification per block). Per run it prints:
delivered due intervals, delay in blocks from the block an interval opened in to its delivery, RPC calls
and bytes per block and per delivery (calls count each element of a JSON-RPC batch; the HTTP requests that
carried them are printed beside), node CPU per delivery (user + system, and the system part), node RSS, and
reverted node transactions.
The baseline, measured in the same run on the same stack before any subscription exists: the idle node's
calls, bytes and CPU per block and its RSS.

- curve: N = 100, 1,000, 2,000 aligned (created in the same blocks, period 10 s, so every interval opens
  for all N at once) and 10,000 staggered (period 60 s, created over about a minute).
- overload: 6,000 aligned with period 10 s (more than anvil mines on 2 cores: a quiet machine now takes 3,000 per
  period), then two thirds cancelled:
  reverted deliveries, how many of each interval were delivered (newest first: later intervals are not
  starved by a backlog of older ones),
  and whether every interval of the rest is delivered again within one period.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import ClientSession, web
from eth_abi.abi import encode
from eth_account.signers.local import LocalAccount

from infernet_kit.chain.accounts import dev_account
from infernet_kit.chain.artifacts import load_artifact
from infernet_kit.chain.encoding import decode_revert, error_selectors, event_topic, revert_data, selector
from infernet_kit.processes import free_port

START = selector("start(string,uint32,uint32,uint16,bool)")
CANCEL = selector("cancel(uint32)")
ANSWERED_TOPIC = event_topic("IntervalAnswered(uint32,uint32,address,string)")
# Contracts whose custom errors a delivery can revert with (the coordinator, the consumer, a wallet).
REVERTING = ("EIP712Coordinator", "SubscriptionConsumer", "CallbackConsumer", "Wallet")
# Senders of subscription requests: several, so no one nonce sequence paces their creation.
SUBSCRIBERS = (0, 1, 2, 4, 5, 6, 7, 8, 9)
BLOCK_GAS_LIMIT = 1_000_000_000
SEND_BATCH = 500
TRACE_BATCH = 50  # replays are slow on a busy anvil: a smaller batch answers within the client's timeout
FREQUENCY = 10_000  # intervals per subscription: more than any run lasts


class CountingProxy:
    """Forwards JSON-RPC over HTTP to `upstream`, counting calls (each batch element is one call), HTTP requests (a
    batch is one) and bytes both ways."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.calls = 0
        self.requests = 0
        self.bytes = 0
        self.methods: Counter[str] = Counter()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def snapshot(self) -> tuple[int, int, int]:
        return self.calls, self.requests, self.bytes

    async def _start(self) -> None:
        self._session = ClientSession()
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_post("/", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        assert self._session is not None
        async with self._session.post(self.upstream, data=body, headers={"content-type": "application/json"}) as up:
            answer = await up.read()
        payload = json.loads(body)
        items = payload if isinstance(payload, list) else [payload]
        self.calls += len(items)
        self.requests += 1
        self.methods.update(str(item.get("method")) for item in items)
        self.bytes += len(body) + len(answer)
        return web.Response(body=answer, content_type="application/json")


@dataclass
class Usage:
    """A process's CPU seconds (user + system, and system alone) and RSS (MB), from /proc."""

    cpu: float
    system: float
    rss_mb: float

    @classmethod
    def of(cls, pid: int) -> Usage:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        rss = next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS")
        )
        return cls(cpu=ticks / 100, system=int(fields[12]) / 100, rss_mb=rss / 1024)


@dataclass
class Window:
    """Counters at the two ends of a measured stretch of blocks."""

    first_block: int
    last_block: int = 0
    calls: int = 0  # JSON-RPC calls: each element of a batch counts
    requests: int = 0  # HTTP requests: a batch counts once
    bytes: int = 0
    cpu: float = 0.0
    system: float = 0.0  # of `cpu`, in the kernel (syscalls: sockets, SQLite)
    rss_mb: float = 0.0
    node_txs: int = 0

    @property
    def blocks(self) -> int:
        return max(1, self.last_block - self.first_block)


@dataclass(frozen=True)
class Revert:
    """One of the node's transactions that reverted: where, for which subscription, with which error."""

    block: int
    subscription_id: int
    error: str


def by_error(reverts: list[Revert]) -> str:
    return ", ".join(f"{error} {n}" for error, n in Counter(r.error for r in reverts).most_common())


@dataclass
class Result:
    label: str
    due: int
    delivered: int
    delays: list[int]
    window: Window
    reverted: int
    failed: list[tuple[int, str]] = field(default_factory=list)  # (block, hash) of each revert, named by `name`
    reverts: list[Revert] = field(default_factory=list)
    per_interval: Counter[int] = field(default_factory=Counter)  # delivered, by interval number
    notes: list[str] = field(default_factory=list)

    def lines(self, baseline: Window) -> list[str]:
        w, n = self.window, max(1, self.delivered)
        delays = sorted(self.delays) or [0]
        pct = 100 * self.delivered / max(1, self.due)
        out = [
            f"  {self.label:<28} delivered {self.delivered}/{self.due} ({pct:.1f} %)  delay blocks "
            f"p50 {statistics.median(delays):.0f} p99 {delays[round(0.99 * (len(delays) - 1))]} max {delays[-1]}",
            f"    per block: {w.calls / w.blocks:.1f} RPC calls, {w.bytes / w.blocks / 1024:.1f} KB "
            f"(baseline idle node: {baseline.calls / baseline.blocks:.1f} calls, "
            f"{baseline.bytes / baseline.blocks / 1024:.1f} KB)",
            f"    per delivery: {w.calls / n:.2f} RPC calls ({w.requests / n:.2f} HTTP requests), "
            f"{w.bytes / n / 1024:.2f} KB, node CPU "
            f"{1000 * w.cpu / n:.2f} ms, of it system {1000 * w.system / n:.2f} ms (baseline idle node: "
            f"{1000 * baseline.cpu / baseline.blocks:.2f} ms per "
            f"block)",
            f"    node RSS {w.rss_mb:.0f} MB (baseline idle {baseline.rss_mb:.0f} MB); node transactions mined "
            f"{w.node_txs}, reverted {self.reverted} ({100 * self.reverted / max(1, w.node_txs):.2f} %)"
            + (f": {by_error(self.reverts)}" if self.reverts else ""),
        ]
        return out + [f"    {note}" for note in self.notes]


class Chain:
    """Direct JSON-RPC to anvil for the load generator and the bookkeeping (not counted by the proxy)."""

    def __init__(self, url: str) -> None:
        self._client = httpx.Client(base_url=url, timeout=120)
        self._ids = itertools.count()

    def close(self) -> None:
        self._client.close()

    def batch(self, calls: list[tuple[str, list[Any]]], size: int = SEND_BATCH) -> list[Any]:
        out: list[Any] = []
        for offset in range(0, len(calls), size):
            chunk = calls[offset : offset + size]
            body = [{"jsonrpc": "2.0", "id": next(self._ids), "method": m, "params": p} for m, p in chunk]
            answers = sorted(self._client.post("/", json=body).json(), key=lambda a: a["id"])
            for answer in answers:
                if "error" in answer:
                    raise RuntimeError(f"RPC error: {answer['error']}")
                out.append(answer["result"])
        return out

    def one(self, method: str, *params: Any) -> Any:
        return self.batch([(method, list(params))])[0]

    def head(self) -> int:
        return int(self.one("eth_blockNumber"), 16)

    def timestamps(self, first: int, last: int) -> dict[int, int]:
        blocks = self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in range(first, last + 1)])
        return {int(b["number"], 16): int(b["timestamp"], 16) for b in blocks}

    def mined_count(self, address: str) -> int:
        return int(self.one("eth_getTransactionCount", address, "latest"), 16)

    def wait_mined(self, tx_hashes: list[str], timeout: float = 300) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        receipts: dict[str, dict[str, Any]] = {}
        while len(receipts) < len(tx_hashes):
            missing = [h for h in tx_hashes if h not in receipts]
            for tx_hash, receipt in zip(
                missing, self.batch([("eth_getTransactionReceipt", [h]) for h in missing]), strict=True
            ):
                if receipt is not None:
                    receipts[tx_hash] = receipt
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(missing)} of {len(tx_hashes)} transactions not mined")
            time.sleep(0.5)
        return [receipts[h] for h in tx_hashes]

    def failed(self, node: str, first: int, last: int) -> list[tuple[int, str]]:
        """(block, hash) of `node`'s transactions mined in blocks `first`+1..`last` that reverted (receipts only:
        naming their errors is `name`'s, which replays them)."""
        blocks = self.batch([("eth_getBlockReceipts", [hex(n)]) for n in range(first + 1, last + 1)])
        return [
            (int(r["blockNumber"], 16), r["transactionHash"])
            for receipts in blocks
            for r in receipts or []
            if r["from"].lower() == node.lower() and int(r["status"], 16) == 0
        ]

    def name(self, failed: list[tuple[int, str]]) -> list[Revert]:
        """Each of `failed` replayed (callTracer) to name its error; the subscription is the first argument of
        `deliverCompute`. Replays are slow: anvil answers nothing else meanwhile (tens of seconds for hundreds),
        so they are made once the node is stopped, or they would hold its deliveries until their intervals closed."""
        if not failed:
            return []
        selectors: dict[bytes, str] = {}
        for name in REVERTING:
            selectors.update(error_selectors(load_artifact(name).abi))
        calls = [("eth_getTransactionByHash", [h]) for _, h in failed]
        traces = [("debug_traceTransaction", [h, {"tracer": "callTracer"}]) for _, h in failed]
        replayed = zip(failed, self.batch(calls), self.batch(traces, TRACE_BATCH), strict=True)
        return [
            Revert(block, int(tx["input"][10:74] or "0", 16), decode_revert(revert_data(trace["output"]), selectors))
            for (block, _), tx, trace in replayed
        ]

    def answered(self, consumer: str, node: str, first: int, last: int) -> dict[tuple[int, int], int]:
        """(subscription, interval) -> block of `node`'s delivery, from the consumer's IntervalAnswered logs."""
        node_topic = "0x" + bytes(12).hex() + node.lower().removeprefix("0x")
        logs = self.one(
            "eth_getLogs",
            {
                "address": consumer,
                "fromBlock": hex(first),
                "toBlock": hex(last),
                "topics": [ANSWERED_TOPIC, None, None, node_topic],
            },
        )
        return {(int(log["topics"][1], 16), int(log["topics"][2], 16)): int(log["blockNumber"], 16) for log in logs}


@dataclass
class Subscribed:
    """Subscriptions created for a run: id -> (active_at, owner index)."""

    active_at: dict[int, int]
    owner: dict[int, int]
    period: int


def subscribe(chain: Chain, consumer: str, created_topic: str, count: int, *, period: int, spread: float) -> Subscribed:
    """`count` RecurringConsumer subscriptions, sent all at once (spread=0) or evenly over `spread` seconds."""
    accounts: list[LocalAccount] = [dev_account(i) for i in SUBSCRIBERS]
    nonces = {a.address: int(chain.one("eth_getTransactionCount", a.address, "pending"), 16) for a in accounts}
    fees = {"maxFeePerGas": 100 * 10**9, "maxPriorityFeePerGas": 10**9}
    raw: list[tuple[str, int]] = []
    for i in range(count):
        account = accounts[i % len(accounts)]
        data = START + encode(
            ["string", "uint32", "uint32", "uint16", "bool"], [f"bench {i}", 10_000, period, 1, False]
        )
        tx = {"to": consumer, "data": data, "gas": 400_000, "nonce": nonces[account.address], "chainId": 31337, **fees}
        nonces[account.address] += 1
        raw.append(("0x" + bytes(account.sign_transaction(tx).raw_transaction).hex(), i % len(accounts)))
    chunks = max(1, round(spread))
    per_chunk = -(-count // chunks)
    hashes: list[str] = []
    owners: dict[str, int] = {}
    started = time.monotonic()
    for chunk in range(chunks):
        part = raw[chunk * per_chunk : (chunk + 1) * per_chunk]
        sent = chain.batch([("eth_sendRawTransaction", [tx]) for tx, _ in part])
        hashes += sent
        owners.update({h: owner for h, (_, owner) in zip(sent, part, strict=True)})
        if spread:
            time.sleep(max(0.0, started + (chunk + 1) * spread / chunks - time.monotonic()))
    created = Subscribed({}, {}, period)
    receipts = chain.wait_mined(hashes)
    stamps = chain.timestamps(min(int(r["blockNumber"], 16) for r in receipts), chain.head())
    for tx_hash, receipt in zip(hashes, receipts, strict=True):
        if int(receipt["status"], 16) != 1:
            raise RuntimeError(f"subscription request {tx_hash} reverted")
        [sub_id] = [int(log["topics"][1], 16) for log in receipt["logs"] if log["topics"][0] == created_topic]
        created.active_at[sub_id] = stamps[int(receipt["blockNumber"], 16)] + period
        created.owner[sub_id] = owners[tx_hash]
    return created


def cancel(chain: Chain, consumer: str, subs: Subscribed, ids: list[int]) -> dict[int, int]:
    """Cancel `ids` (each by the account that started it); the block each cancellation landed in."""
    by_owner: dict[int, list[int]] = {}
    for sub_id in ids:
        by_owner.setdefault(subs.owner[sub_id], []).append(sub_id)
    fees = {"maxFeePerGas": 100 * 10**9, "maxPriorityFeePerGas": 10**9}
    raw: list[str] = []
    order: list[int] = []
    for index, owned in by_owner.items():
        account = dev_account(SUBSCRIBERS[index])
        nonce = int(chain.one("eth_getTransactionCount", account.address, "pending"), 16)
        for offset, sub_id in enumerate(owned):
            data = CANCEL + encode(["uint32"], [sub_id])
            tx = {"to": consumer, "data": data, "gas": 200_000, "nonce": nonce + offset, "chainId": 31337, **fees}
            raw.append("0x" + bytes(account.sign_transaction(tx).raw_transaction).hex())
            order.append(sub_id)
    receipts = chain.wait_mined(chain.batch([("eth_sendRawTransaction", [tx]) for tx in raw]))
    for sub_id in ids:
        subs.active_at.pop(sub_id)
    return {sub_id: int(r["blockNumber"], 16) for sub_id, r in zip(order, receipts, strict=True)}


@contextmanager
def measured(chain: Chain, proxy: CountingProxy, pid: int, node: str) -> Iterator[Window]:
    """Counters from now to the end of the `with` block."""
    calls, requests, sent_bytes = proxy.snapshot()
    usage, txs = Usage.of(pid), chain.mined_count(node)
    window = Window(first_block=chain.head())
    yield window
    window.last_block = chain.head()
    end_calls, end_requests, end_bytes = proxy.snapshot()
    end_usage = Usage.of(pid)
    window.calls, window.requests, window.bytes = end_calls - calls, end_requests - requests, end_bytes - sent_bytes
    window.cpu, window.rss_mb = end_usage.cpu - usage.cpu, end_usage.rss_mb
    window.system = end_usage.system - usage.system
    window.node_txs = chain.mined_count(node) - txs


def judge(
    chain: Chain, consumer: str, node: str, subs: Subscribed, window: Window, label: str, *, settle_blocks: int = 3
) -> Result:
    """Every interval that opened in the window (at least `settle_blocks` before its end) and whether `node`
    delivered it, with the delay in blocks from the block it opened in."""
    stamps = chain.timestamps(window.first_block, window.last_block)
    blocks = sorted(stamps)
    answered = chain.answered(consumer, node, window.first_block, window.last_block + 20)
    start, end = stamps[blocks[0]], stamps[blocks[-1 - settle_blocks]]
    due = delivered = 0
    per_interval: Counter[int] = Counter()
    delays: list[int] = []
    for sub_id, active_at in subs.active_at.items():
        interval = max(1, (start - active_at) // subs.period + 1)
        while (opens := active_at + (interval - 1) * subs.period) <= end:
            if opens >= start:
                due += 1
                opened = next(b for b in blocks if stamps[b] >= opens)
                if (block := answered.get((sub_id, interval))) is not None:
                    delivered += 1
                    per_interval[interval] += 1
                    delays.append(block - opened)
            interval += 1
    mined_answers = sum(1 for block in answered.values() if window.first_block < block <= window.last_block)
    reverted = max(0, window.node_txs - mined_answers)
    gaps = Counter(stamps[b] - stamps[a] for a, b in itertools.pairwise(blocks))
    shown = ", ".join(f"{gap} s: {n}" for gap, n in sorted(gaps.items()))
    notes = [f"block gaps (chain time between blocks; anvil late when out of CPU): {shown}"]
    failed = chain.failed(node, window.first_block, window.last_block) if reverted else []
    return Result(label, due, delivered, delays, window, reverted, failed, per_interval=per_interval, notes=notes)
