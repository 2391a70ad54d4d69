"""On-chain latency of a node: from a consumer's request transaction to the node's callback transaction;
and how its cost grows with recurring subscriptions (bench/onchain_scale.py).

For anvil with automining and with 1-second blocks, a real node process (default chain settings) serves
TGICallbackConsumer requests through the real TGI service and the dev backend:
- one subscription at a time (`--samples` requests in a row), and
- `--burst` subscriptions requested at once.
It prints seconds (wall clock, request sent -> callback seen) and blocks (request block -> callback block),
next to baselines measured in the same run: a plain transfer's send -> receipt on the same chain (the floor
under any callback), the same number of on-chain requests sent straight to the TGI service at once (the
floor under a burst), and, as mode `automine-poll`, the same node without its new-heads WebSocket (it polls
the head every `sync_period`, as before the subscription).

Goals: with automine, request -> callback p50 <= 100 ms; with 1-second blocks the callback lands in the
block after the request at p50; a burst of 200 is fully delivered within 5 blocks of its last request.
Then the subscription curve (`--curve`, 1-second blocks) and the overload run (`--overload`); see
bench/onchain_scale.py for what they print and their goals.

    python bench/node_onchain.py [--samples 10] [--burst 200] [--modes automine,automine-poll,1s]
        [--curve 100,1000,2000,10000] [--overload 6000] [--periods 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eth_abi.abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract

from infernet_kit.chain.accounts import DEPLOYER, dev_account
from infernet_kit.chain.deploy import Deployment, deploy
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.paths import state_dir
from infernet_kit.polling import WaitTimeout, wait_until
from infernet_kit.processes import ManagedProcess, free_port, kit_command
from infernet_kit.testing.service_fixtures import run_service, tgi_service_env
from onchain_scale import (
    BLOCK_GAS_LIMIT,
    Chain,
    CountingProxy,
    Result,
    Window,
    by_error,
    cancel,
    judge,
    measured,
    subscribe,
)

TGI = "tgi_client_inference_service"
AUTOMINE_GOAL = 0.100  # seconds, request -> callback at p50
ALIGNED_PERIOD = 10
ALIGNED_MAX = 3000  # above this, the curve's subscriptions are staggered (the chain could not mine them aligned)
STAGGERED_PERIOD = 60
IDLE_SECONDS = 8.0
SETTLE_SECONDS = 4
RSS_GOAL_MB = 300
FULFILLED_TOPIC = "0x" + keccak(text="SubscriptionFulfilled(uint32,address)").hex()
CREATED_TOPIC = "0x" + keccak(text="SubscriptionCreated(uint32)").hex()
NODE_ACCOUNT = 3
# Requesters for bursts: several accounts, so no single sender's nonce queue limits the request rate.
REQUESTERS = (0, 1, 6, 7, 8, 9)


@dataclass
class Sample:
    seconds: float
    blocks: int


@dataclass
class Stack:
    chain: Anvil
    deployment: Deployment
    tgi: str
    node: ManagedProcess
    proxy: CountingProxy | None


@contextmanager
def stack(workdir: Path, block_time: float | None, *, counted: bool = False, ws: bool = True) -> Iterator[Stack]:
    """Anvil, the deployment, the dev backend, the TGI service and one node with default chain settings (its
    HTTP JSON-RPC through a counting proxy when `counted`; polling only, no new-heads WebSocket, unless `ws`)."""
    with ExitStack() as stack:
        chain = stack.enter_context(Anvil(log_path=workdir / "anvil.log", block_time=block_time))
        if counted:
            chain.rpc("evm_setBlockGasLimit", hex(BLOCK_GAS_LIMIT))
        proxy = stack.enter_context(CountingProxy(chain.url)) if counted else None
        deployment = deploy(chain.w3, dev_account(DEPLOYER))
        backend_port = free_port()
        backend = stack.enter_context(
            ManagedProcess("backend", kit_command("backend", f"--port={backend_port}"), log_path=workdir / "be.log")
        )
        backend.wait_for_http(f"http://127.0.0.1:{backend_port}/health", timeout=60)
        tgi = stack.enter_context(run_service("tgi", tgi_service_env(f"http://127.0.0.1:{backend_port}"), workdir)).url
        port = free_port()
        config = {
            "containers": [{"id": TGI, "image": "bench/tgi", "url": tgi, "external": True}],
            "chain": {
                "enabled": True,
                "rpc_url": proxy.url if proxy else chain.url,
                "ws_url": chain.url.replace("http://", "ws://") if ws else "",
                "registry_address": deployment.registry,
                "wallet": {"private_key": dev_account(NODE_ACCOUNT).key.to_0x_hex()},
            },
            "server": {"port": port, "rate_limit": {"num_requests": 100_000, "period": 1}},
        }
        (workdir / "config.json").write_text(json.dumps(config))
        command = kit_command("node", "--config", str(workdir / "config.json"), "--data-dir", str(workdir / "data"))
        node = stack.enter_context(ManagedProcess("node", command, log_path=workdir / "node.log"))
        node.wait_for_http(f"http://127.0.0.1:{port}/health", timeout=90)
        yield Stack(chain, deployment, tgi, node, proxy)


def _signed_requests(w3: Web3, consumer: Contract, accounts: list[LocalAccount], count: int) -> list[bytes]:
    nonces = {a.address: w3.eth.get_transaction_count(a.address, "pending") for a in accounts}
    fees = {"maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9}
    raw = []
    for i in range(count):
        account = accounts[i % len(accounts)]
        inputs = encode(["string"], [f"bench prompt {i} {time.time_ns()}"])
        tx = consumer.functions.chatWithLLM(inputs).build_transaction(
            {"from": account.address, "nonce": nonces[account.address], "gas": 400_000, "chainId": 31337, **fees}
        )
        nonces[account.address] += 1
        raw.append(bytes(account.sign_transaction(tx).raw_transaction))
    return raw


def _created_id(receipt: Any) -> int:
    for log in receipt["logs"]:
        if log["topics"] and "0x" + bytes(log["topics"][0]).hex() == CREATED_TOPIC:
            return int.from_bytes(bytes(log["topics"][1]), "big")
    raise LookupError("request created no subscription")


def _logs(w3: Web3, coordinator: str, from_block: int, topic: str) -> list[Any]:
    """The coordinator's `topic` logs from `from_block` to the head (none yet when the head is below it: with
    timed blocks the first request may not be mined, and anvil refuses a range that starts past its head)."""
    head = w3.eth.block_number
    if head < from_block:
        return []
    filter_params = {"address": coordinator, "fromBlock": from_block, "toBlock": head, "topics": [topic]}
    return list(w3.eth.get_logs(filter_params))  # type: ignore[arg-type]


def _fulfilled(w3: Web3, coordinator: str, from_block: int) -> dict[int, int]:
    """subscription id -> block of its (first) callback, from `from_block` on."""
    found: dict[int, int] = {}
    for log in _logs(w3, coordinator, from_block, FULFILLED_TOPIC):
        found.setdefault(int.from_bytes(bytes(log["topics"][1]), "big"), int(log["blockNumber"]))
    return found


def baseline(chain: Anvil, samples: int) -> list[Sample]:
    """A plain transfer: send -> receipt, the floor under any callback's latency on this chain."""
    w3 = chain.w3
    sender = dev_account(9)
    out = []
    for _ in range(samples):
        tx = {
            "to": dev_account(8).address,
            "value": 1,
            "gas": 21_000,
            "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
            "chainId": 31337,
            "maxFeePerGas": 50 * 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
        head = w3.eth.block_number
        start = time.perf_counter()
        tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.01)
        out.append(Sample(time.perf_counter() - start, int(receipt["blockNumber"]) - head))
    return out


def one_at_a_time(chain: Anvil, deployment: Deployment, samples: int) -> list[Sample]:
    w3 = chain.w3
    consumer = deployment.contract(w3, "TGICallbackConsumer")
    out = []
    for _ in range(samples):
        [raw] = _signed_requests(w3, consumer, [dev_account(0)], 1)
        start = time.perf_counter()
        receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw), timeout=30, poll_latency=0.01)
        sub_id = _created_id(receipt)
        while (block := _fulfilled(w3, deployment.coordinator, receipt["blockNumber"]).get(sub_id)) is None:
            if time.perf_counter() - start > 60:
                raise TimeoutError(f"no callback for subscription {sub_id}")
            time.sleep(0.01)
        out.append(Sample(time.perf_counter() - start, block - int(receipt["blockNumber"])))
    return out


def burst(chain: Anvil, deployment: Deployment, count: int) -> tuple[list[Sample], float, int]:
    """`count` requests at once: per-request samples, seconds until the last callback, and the blocks from the
    last request's block to the last callback's block. Requests and callbacks are both found in the
    coordinator's logs, polled every 20 ms, so each callback is timed against its own request's send."""
    w3 = chain.w3
    consumer = deployment.contract(w3, "TGICallbackConsumer")
    raw = _signed_requests(w3, consumer, [dev_account(i) for i in REQUESTERS], count)
    first_block = w3.eth.block_number + 1
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for tx in raw:
        sent[w3.eth.send_raw_transaction(tx).to_0x_hex()] = time.perf_counter()
    requested: dict[int, tuple[int, float]] = {}  # subscription -> (request block, request sent at)
    done: dict[int, tuple[int, float]] = {}  # subscription -> (callback block, callback seen at)
    while len(done) < count:
        now = time.perf_counter()
        for log in _logs(w3, deployment.coordinator, first_block, CREATED_TOPIC):
            tx_hash = log["transactionHash"].to_0x_hex()
            if tx_hash in sent:
                requested[int.from_bytes(bytes(log["topics"][1]), "big")] = (int(log["blockNumber"]), sent[tx_hash])
        for log in _logs(w3, deployment.coordinator, first_block, FULFILLED_TOPIC):
            sub_id = int.from_bytes(bytes(log["topics"][1]), "big")
            if sub_id in requested and sub_id not in done:
                done[sub_id] = (int(log["blockNumber"]), now)
        if now - start > 180:
            raise TimeoutError(f"{len(done)} of {count} callbacks after 180 s ({len(requested)} requests on chain)")
        time.sleep(0.02)
    samples = [Sample(done[s][1] - requested[s][1], done[s][0] - requested[s][0]) for s in done]
    last_request = max(block for block, _ in requested.values())
    last_callback = max(block for block, _ in done.values())
    return samples, max(t for _, t in done.values()) - start, last_callback - last_request


async def service_burst(url: str, count: int) -> float:
    """Seconds for the TGI service alone to answer `count` concurrent on-chain requests."""
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=count), timeout=120) as client:

        async def one(i: int) -> None:
            data = encode(["string"], [f"service prompt {i}"]).hex()
            body = {"source": 0, "destination": 0, "data": data, "requires_proof": False}
            (await client.post(f"{url}/service_output", json=body)).raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return time.perf_counter() - start


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _line(name: str, samples: list[Sample]) -> str:
    seconds = [s.seconds for s in samples]
    blocks = [float(s.blocks) for s in samples]
    return (
        f"  {name:<26} n={len(samples):<4} seconds p50 {_pct(seconds, 0.5):6.3f} p99 {_pct(seconds, 0.99):6.3f}"
        f"  blocks p50 {statistics.median(blocks):4.1f} max {max(blocks):3.0f}"
    )


def run(samples: int, burst_size: int, modes: list[str]) -> bool:
    """Request -> callback, one at a time and in a burst, per chain mode ("-poll": the node without the
    new-heads WebSocket, polling every `sync_period`: the baseline for the subscription)."""
    ok = True
    for mode in modes:
        chain_mode, polled = mode.removesuffix("-poll"), mode.endswith("-poll")
        block_time = None if chain_mode == "automine" else float(chain_mode.removesuffix("s"))
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-onchain-{mode}-", dir=state_dir()))
        print(f"anvil {mode}: logs in {workdir}", flush=True)
        with stack(workdir, block_time, ws=not polled) as running:
            chain, deployment = running.chain, running.deployment
            base = baseline(chain, samples)
            service_seconds = asyncio.run(service_burst(running.tgi, burst_size))
            single = one_at_a_time(chain, deployment, samples)
            many, total, span = burst(chain, deployment, burst_size)
            print(_line("baseline transfer", base))
            print(_line("1 subscription", single))
            print(_line(f"{burst_size} concurrent", many))
            print(f"  {burst_size} concurrent: all delivered {total:.2f} s after the first request was sent,")
            print(f"    last callback {span} block(s) after the last request's block")
            print(f"  baseline: TGI service alone, {burst_size} concurrent on-chain requests: {service_seconds:.2f} s")
            if polled:
                continue
            if block_time is None:
                p50 = _pct([s.seconds for s in single], 0.5)
                goal = p50 <= AUTOMINE_GOAL
                print(f"  goal: request -> callback p50 <= {AUTOMINE_GOAL:.3f} s: {'met' if goal else 'MISSED'}")
                ok = ok and goal
                continue
            p50_blocks = statistics.median(s.blocks for s in single)
            goal_single = p50_blocks <= 1
            goal_burst = span <= 5
            print(f"  goal: callback in the next block at p50: {'met' if goal_single else 'MISSED'}")
            print(f"  goal: {burst_size} within 5 blocks: {'met' if goal_burst else 'MISSED'} ({span})")
            ok = ok and goal_single and goal_burst
    return ok


def _wait_chain_time(chain: Chain, timestamp: int) -> None:
    while int(chain.one("eth_getBlockByNumber", "latest", False)["timestamp"], 16) < timestamp:
        time.sleep(0.2)


@contextmanager
def _scale_stack(label: str) -> Iterator[tuple[Stack, Chain, str, Window]]:
    """A 1-second-block stack with the counting proxy, and the idle node's baseline window."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-onchain-{label}-", dir=state_dir()))
    print(f"{label}: logs in {workdir}", flush=True)
    with stack(workdir, 1.0, counted=True) as running:
        assert running.proxy is not None and running.node.pid is not None
        chain = Chain(running.chain.url)
        try:
            node = dev_account(NODE_ACCOUNT).address
            with measured(chain, running.proxy, running.node.pid, node) as idle:
                time.sleep(IDLE_SECONDS)
            yield running, chain, node, idle
        finally:
            chain.close()


def _drained(chain: Chain, node: str, timeout: float = 30.0) -> int:
    """The head once the stopped node's transactions left in the mempool were mined (or `timeout` passed)."""

    def mined() -> bool:
        return chain.mined_count(node) >= int(chain.one("eth_getTransactionCount", node, "pending"), 16)

    with contextlib.suppress(WaitTimeout):
        wait_until(mined, timeout=timeout, interval=0.5, what="the stopped node's transactions mined")
    return chain.head()


def curve_point(count: int, period: int, spread: float, periods: int) -> tuple[Result, Window]:
    """`count` subscriptions of `period` seconds created over `spread` seconds, measured for `periods`."""
    label = f"{count} {'aligned' if spread == 0 else 'staggered'}, period {period} s"
    with _scale_stack(f"scale-{count}") as (running, chain, node, idle):
        assert running.proxy is not None and running.node.pid is not None
        consumer = running.deployment.consumers["RecurringConsumer"]
        subs = subscribe(chain, consumer, CREATED_TOPIC, count, period=period, spread=spread)
        first, last = min(subs.active_at.values()), max(subs.active_at.values())
        _wait_chain_time(chain, first)
        with measured(chain, running.proxy, running.node.pid, node) as window:
            _wait_chain_time(chain, last + (periods - 1) * period + SETTLE_SECONDS)
        result = judge(chain, consumer, node, subs, window, label)
        top = ", ".join(f"{m} {n}" for m, n in running.proxy.methods.most_common(6))
        result.notes.append(f"RPC methods over the whole run: {top}")
        running.node.stop()  # before the replays, which hold anvil (see `Chain.name`)
        result.reverts = chain.name(result.failed)
        return result, idle


def overload(count: int, period: int, periods: int) -> tuple[list[Result], Window]:
    """`count` aligned subscriptions, more than the chain takes; then two thirds cancelled. The reverts between
    the two measured stretches are printed apart (a delivery mined in the block of its subscription's
    cancellation was sent before the cancellation could be seen: a race no node can avoid), and so are those
    after the last stretch until the node is stopped. Reverts are named (replayed) only once the node is
    stopped."""
    with _scale_stack(f"overload-{count}") as (running, chain, node, idle):
        assert running.proxy is not None and running.node.pid is not None
        consumer = running.deployment.consumers["RecurringConsumer"]
        subs = subscribe(chain, consumer, CREATED_TOPIC, count, period=period, spread=0)
        first = min(subs.active_at.values())
        _wait_chain_time(chain, first)
        with measured(chain, running.proxy, running.node.pid, node) as loaded:
            _wait_chain_time(chain, first + periods * period)
        heavy = judge(chain, consumer, node, subs, loaded, f"{count} aligned, period {period} s")
        counts = ", ".join(f"{k}: {n}" for k, n in sorted(heavy.per_interval.items()))
        heavy.notes.append(f"delivered by interval (of {count} each): {counts}")
        ids = sorted(subs.active_at)
        cancelled = cancel(chain, consumer, subs, [i for n, i in enumerate(ids) if n % 3 != 0])
        # From one period after the cancellations landed, every interval of the rest should be delivered.
        cancelled_at = max(cancelled.values())
        start = int(chain.one("eth_getBlockByNumber", hex(cancelled_at), False)["timestamp"], 16) + period
        _wait_chain_time(chain, start)
        with measured(chain, running.proxy, running.node.pid, node) as light:
            _wait_chain_time(chain, start + periods * period)
        after = judge(chain, consumer, node, subs, light, f"after cancelling to {len(subs.active_at)}")
        between = chain.failed(node, loaded.last_block, light.first_block)
        # The node's reverts from the end of the last stretch until it stops: none should land late there either.
        running.node.stop()
        end = _drained(chain, node)
        later = chain.failed(node, light.last_block, end)
        # Replayed only now, the node stopped: a replay holds anvil for tens of seconds (see `Chain.name`).
        heavy.reverts, after.reverts = chain.name(heavy.failed), chain.name(after.failed)
        named = chain.name(between)
        race = sum(cancelled.get(r.subscription_id) == r.block for r in named)
        heavy.notes.append(
            f"between the two stretches (blocks {loaded.last_block + 1}-{light.first_block}, the cancellations in "
            f"{min(cancelled.values())}-{cancelled_at}): reverted {len(named)}"
            + (f" ({by_error(named)}), {race} in the block of their subscription's cancellation" if named else "")
        )
        after_last = chain.name(later)
        after.notes.append(
            f"after the stretch until the node stopped (blocks {light.last_block + 1}-{end}): "
            f"reverted {len(after_last)}" + (f" ({by_error(after_last)})" if after_last else "")
        )
        return [heavy, after], idle


def scale(counts: list[int], overload_count: int, periods: int) -> bool:
    ok = True
    print("subscriptions on one node, 1-second blocks (counting proxy in front of anvil):", flush=True)
    for count in counts:
        period, spread = (STAGGERED_PERIOD, float(STAGGERED_PERIOD)) if count > ALIGNED_MAX else (ALIGNED_PERIOD, 0.0)
        result, idle = curve_point(count, period, spread, periods)
        print("\n".join(result.lines(idle)), flush=True)
        within = all(d <= 2 for d in result.delays) and result.delivered == result.due
        if count > ALIGNED_MAX:
            rss_ok = result.window.rss_mb < RSS_GOAL_MB
            print(
                f"  goal: every due interval within 2 blocks: {'met' if within else 'MISSED'}; "
                f"RSS < {RSS_GOAL_MB} MB: {'met' if rss_ok else 'MISSED'}"
            )
            ok = ok and within and rss_ok
        w, n = result.window, max(1, result.delivered)
        cost_ok = w.calls / n <= 2.5 and 1000 * w.cpu / n <= 0.6
        print(f"  goal: <= 2.5 RPC calls and <= 0.6 ms node CPU per delivery: {'met' if cost_ok else 'MISSED'}")
        ok = ok and cost_ok
    if overload_count:
        results, idle = overload(overload_count, ALIGNED_PERIOD, periods)
        for result in results:
            print("\n".join(result.lines(idle)), flush=True)
        after = results[-1]
        reverted_ok = all(r.reverted <= 0.01 * max(1, r.window.node_txs) for r in results)
        recovered = after.delivered == after.due
        print(
            f"  goal: reverted < 1 %: {'met' if reverted_ok else 'MISSED'}; every interval delivered again "
            f"within one period after the load fell: {'met' if recovered else 'MISSED'}"
        )
        ok = ok and reverted_ok and recovered
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument(
        "--modes",
        default="automine,automine-poll,1s",
        help="comma-separated: automine and/or <n>s block times; '-poll' for the node without its WebSocket",
    )
    parser.add_argument("--curve", default="100,1000,2000,10000", help="subscription counts ('' for none)")
    parser.add_argument(
        "--overload",
        type=int,
        default=6000,
        help="aligned subscriptions for the overload run (more than a quiet 2-core machine mines)",
    )
    parser.add_argument("--periods", type=int, default=3, help="periods measured per scale run")
    parser.add_argument("--quick", action="store_true", help="automine only, curve 100 and 1000, no overload")
    args = parser.parse_args(argv)
    if args.quick:
        args.modes, args.curve, args.overload, args.periods = "automine,automine-poll", "100,1000", 0, 2
    ok = run(args.samples, args.burst, [m for m in args.modes.split(",") if m])
    counts = [int(c) for c in args.curve.split(",") if c]
    if counts or args.overload:
        ok = scale(counts, args.overload, args.periods) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
