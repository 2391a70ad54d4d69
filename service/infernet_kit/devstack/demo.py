"""`infernet-kit demo`: every flow of the seeds, run against a fresh local stack and verified.

Each flow prints what happens as it happens (requests, bytes decoded, transactions and blocks) and ends
as one row of the summary: verified or not, latency in blocks and milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from rich.console import Console
from rich.table import Table
from web3 import Web3
from web3.contract import Contract

from infernet_kit.client.observe import Endpoints, Observer
from infernet_kit.devstack.stack import StackInfo
from infernet_kit.polling import WaitTimeout, wait_until_async
from infernet_kit.protocol import hf, tgi
from infernet_kit.protocol.container import decode_string
from infernet_kit.protocol.hf import HFTaskId

if TYPE_CHECKING:
    from infernet_kit.client.onchain import CallbackResult

TGI_PROMPT = "Is the sky blue during a clear day?"
JSON_HEADER = "Content-Type: application/json"


class FlowResult(BaseModel):
    name: str
    verified: bool
    millis: float
    blocks: int | None = None
    note: str = ""
    gas: list[int] = Field(default_factory=list, description="gas used by each delivery the flow caused")


class Check(AssertionError):
    """A flow's result is not what it should be; the message says what differs."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Check(message)


Flow = Callable[[], Awaitable[tuple[int | None, str]]]


class Demo:
    """Runs the flows one after another against a started stack; never stops at the first failure."""

    def __init__(self, info: StackInfo, console: Console, *, work_dir: Path, offline: bool) -> None:
        self.info = info
        self.console = console
        self.work_dir = work_dir
        self.offline = offline  # answers come from the dev backend and can be predicted exactly
        self.results: list[FlowResult] = []

    @property
    def node_url(self) -> str:
        return self.info.nodes[0].url

    def say(self, text: str) -> None:
        self.console.print(f"  {text}", highlight=False)

    async def run(self, name: str, flow: Flow) -> None:
        self.console.rule(f"[bold]{name}")
        started = time.perf_counter()
        observer = Observer(
            Endpoints(rpc_url=self.info.rpc_url, coordinator=self.info.deployment.coordinator, nodes=[])
        )
        first_block = await asyncio.to_thread(lambda: observer.w3.eth.block_number + 1)
        try:
            blocks, note = await flow()
            verified = True
        except Exception as exc:  # a failed flow is reported, and the others still run
            blocks, note, verified = None, f"{type(exc).__name__}: {exc}", False
            self.console.print(f"  [red]✗ {note}")
        millis = (time.perf_counter() - started) * 1000
        gas = [delivery.gas_used for delivery in await asyncio.to_thread(observer.deliveries_since, first_block)]
        if verified:
            self.console.print(
                f"  [green]✓ verified[/] in {millis:.0f} ms" + (f", {blocks} block(s)" if blocks else "")
            )
        self.results.append(FlowResult(name=name, verified=verified, millis=millis, blocks=blocks, note=note, gas=gas))

    # -- off-chain -----------------------------------------------------------------------------------------

    def expected_tgi_text(self, prompt: str) -> str | None:
        if not self.offline:
            return None
        from infernet_kit.devstack.fake_models import generate

        return generate(prompt, max_new_tokens=30)

    def check_text(self, text: Any, prompt: str) -> str:
        text = service_output(text)
        expect(isinstance(text, str) and bool(text), f"expected generated text, got {text!r}")
        expected = self.expected_tgi_text(prompt)
        expect(expected is None or text == expected, f"expected {expected!r}, got {text!r}")
        return str(text)

    async def offchain_python(self) -> tuple[int | None, str]:
        from infernet_kit.client.node import NodeClient

        self.say(f'NodeClient("{self.node_url}").request_job("{tgi.CONTAINER_ID}", {{"text": "{TGI_PROMPT}"}})')
        async with NodeClient(self.node_url) as client:
            job_id = await client.request_job(tgi.CONTAINER_ID, {"text": TGI_PROMPT})
            self.say(f"job id {job_id}")
            result = await client.get_job_result_sync(job_id)
        expect(result is not None, f"the node does not know job {job_id}")
        assert result is not None
        outcome: dict[str, Any] = dict(result["result"] or {})
        self.say(f"status {result['status']}, result {outcome!r}")
        expect(result["status"] == "success", f"job {job_id} ended {result['status']}: {outcome.get('error')}")
        return None, self.check_text(outcome.get("output"), TGI_PROMPT)

    async def offchain_cli(self) -> tuple[int | None, str]:
        input_file = self.work_dir / "input.json"
        input_file.write_text(json.dumps({"text": TGI_PROMPT}))
        command = ["infernet-kit", "job", "-c", tgi.CONTAINER_ID, "-i", str(input_file), "--sync"]
        self.say("$ " + " ".join(command))
        from infernet_kit.processes import kit_command

        done = await asyncio.to_thread(
            subprocess.run,
            [*kit_command(*command[1:]), "--url", self.node_url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.say(done.stdout.strip() or done.stderr.strip())
        expect(done.returncode == 0, f"CLI exited {done.returncode}: {done.stderr.strip()}")
        return None, self.check_text(_cli_output(done.stdout), TGI_PROMPT)

    async def offchain_curl(self) -> tuple[int | None, str]:
        curl = shutil.which("curl")
        expect(curl is not None, "curl is not installed")
        body = json.dumps({"containers": [tgi.CONTAINER_ID], "data": {"text": TGI_PROMPT}})
        self.say(f"$ curl -X POST {self.node_url}/api/jobs -H 'Content-Type: application/json' -d '{body}'")
        posted = await asyncio.to_thread(
            subprocess.run,
            [
                str(curl),
                "-sS",
                "-X",
                "POST",
                f"{self.node_url}/api/jobs",
                "-H",
                "Content-Type: application/json",
                "-d",
                body,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        self.say(posted.stdout.strip())
        job_id = json.loads(posted.stdout)["id"]

        async def finished() -> tuple[str, dict[str, Any]] | None:
            fetched = await asyncio.to_thread(
                subprocess.run,
                [str(curl), "-sS", f"{self.node_url}/api/jobs?id={job_id}"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            (result,) = json.loads(fetched.stdout)
            return None if result["status"] == "running" else (fetched.stdout, result)

        try:
            stdout, result = await wait_until_async(finished, timeout=30, what=f"job {job_id} to finish")
        except WaitTimeout as exc:
            raise Check(str(exc)) from None
        self.say(f"$ curl {self.node_url}/api/jobs?id={job_id}")
        self.say(stdout.strip())
        expect(result["status"] == "success", f"job {job_id} ended {result['status']}")
        return None, self.check_text(result["result"]["output"], TGI_PROMPT)

    # -- on-chain ------------------------------------------------------------------------------------------

    def _w3(self) -> Web3:
        from infernet_kit.chain.transactions import connect

        return connect(self.info.rpc_url, self.info.user_private_key)

    def _block_of(self, w3: Web3, tx_hash: str) -> int:
        return int(w3.eth.get_transaction_receipt(tx_hash)["blockNumber"])  # type: ignore[arg-type]

    def _show_round_trip(self, w3: Web3, result: CallbackResult) -> int:
        """Print the two transactions and return the callback's latency in blocks."""
        request_block = self._block_of(w3, result.request_tx)
        delivery_block = self._block_of(w3, result.delivery_tx)
        self.say(f"request  tx {result.request_tx} block {request_block} → subscription {result.subscription_id}")
        self.say(f"callback tx {result.delivery_tx} block {delivery_block} by node {result.node}")
        self.say(f"delivery gas {result.delivery_gas:,}")
        self.say(f"raw output {_short(result.raw_output)} decodes to {result.output!r}")
        return delivery_block - request_block

    async def onchain_tgi(self) -> tuple[int | None, str]:
        from infernet_kit.client.onchain import request_tgi_callback

        w3 = self._w3()
        consumer = self.info.deployment.contract(w3, "TGICallbackConsumer")
        input_bytes = tgi.encode_input(TGI_PROMPT)
        self.say(f'chatWithLLM(encode(["string"], ["{TGI_PROMPT}"])) = {_short("0x" + input_bytes.hex())}')
        result = await asyncio.to_thread(request_tgi_callback, w3, self.info.deployment, TGI_PROMPT)
        blocks = self._show_round_trip(w3, result)
        container_input = consumer.functions.getContainerInputs(result.subscription_id, 1, 0, result.node).call()
        self.say(f"container input (getContainerInputs) decodes to {decode_string(container_input)!r}")
        stored = consumer.functions.outputs(result.subscription_id).call()
        self.say(f"TGICallbackConsumer.outputs({result.subscription_id}) = {stored!r}")
        expect(stored == result.output, f"stored {stored!r} but the node delivered {result.output!r}")
        return blocks, self.check_text(stored, TGI_PROMPT)

    async def onchain_hf(self) -> tuple[int | None, str]:
        from infernet_kit.client.onchain import request_hf_callback

        w3 = self._w3()
        consumer = self.info.deployment.contract(w3, "HFCallbackConsumer")
        prompts = {
            HFTaskId.TEXT_GENERATION: "Is the sky blue during a clear day?",
            HFTaskId.TEXT_CLASSIFICATION: "I love sunny days in Lisbon.",
            HFTaskId.TOKEN_CLASSIFICATION: "Ada Lovelace met Charles Babbage in London.",
            HFTaskId.SUMMARIZATION: "the quick brown fox jumps over the lazy dog while the farmer sleeps in the barn",
        }
        # One account sends the requests: one after another, so their nonces never race.
        results = [
            await asyncio.to_thread(request_hf_callback, w3, self.info.deployment, task, prompt)
            for task, prompt in prompts.items()
        ]
        worst = 0
        for (task, prompt), result in zip(prompts.items(), results, strict=True):
            self.say(f"[bold]{task.name}[/] on {prompt!r}")
            worst = max(worst, self._show_round_trip(w3, result))
            stored = _stored_hf_result(consumer, task, result.subscription_id)
            self.say(f"HFCallbackConsumer storage: {stored!r}")
            expect(stored == result.output, f"{task.name}: stored {stored!r}, delivered {result.output!r}")
            expected = self.expected_hf(task, prompt)
            expect(expected is None or stored == expected, f"{task.name}: expected {expected!r}, got {stored!r}")
        return worst, "4 tasks decoded from contract storage"

    def expected_hf(self, task: HFTaskId, prompt: str) -> Any:
        """What the dev backend answers, as it reads back from chain (scores to the nearest millionth)."""
        if not self.offline:
            return None
        from infernet_kit.devstack import fake_models

        if task == HFTaskId.TEXT_GENERATION:  # no model named on chain: the service's default model answers
            return fake_models.generate(prompt, model=hf.DEFAULT_MODELS[hf.TASK_NAMES[task]])
        if task == HFTaskId.SUMMARIZATION:
            return fake_models.summarize(prompt)
        items = (
            fake_models.classify(prompt) if task == HFTaskId.TEXT_CLASSIFICATION else fake_models.token_classify(prompt)
        )
        return hf.decode_output(task, hf.encode_output(task, items))

    async def recurring(self) -> tuple[int | None, str]:
        from infernet_kit.chain.transactions import transact
        from infernet_kit.chain.watch import created_subscription_id, wait_for_fulfillments

        w3 = self._w3()
        consumer = self.info.deployment.contract(w3, "RecurringConsumer")
        coordinator = self.info.deployment.contract(w3, "EIP712Coordinator")
        frequency, period = 2, 4
        self.say(f"RecurringConsumer.start({TGI_PROMPT!r}, frequency={frequency}, period={period}s)")
        receipt = await asyncio.to_thread(transact, consumer.functions.start(TGI_PROMPT, frequency, period, 1, False))
        subscription_id = created_subscription_id(coordinator, receipt)
        self.say(f"subscription {subscription_id} created in block {receipt['blockNumber']}")
        deliveries = await asyncio.to_thread(
            wait_for_fulfillments,
            coordinator,
            subscription_id,
            count=frequency,
            from_block=receipt["blockNumber"],
            timeout=30,
        )
        for interval in range(1, frequency + 1):
            prompt = consumer.functions.intervalPrompt(subscription_id, interval).call()
            text = consumer.functions.outputs(subscription_id, interval).call()
            self.say(f"interval {interval}: {prompt!r} → {text!r}")
            self.check_text(text, prompt)
        blocks = [int(event["blockNumber"]) for event in deliveries]
        self.say(f"delivered in blocks {blocks}")
        expect(consumer.functions.deliveries(subscription_id).call() == frequency, "wrong number of deliveries")
        return blocks[-1] - receipt["blockNumber"], f"{frequency} intervals, {period}s apart"

    async def delegated(self) -> tuple[int | None, str]:
        from infernet_kit.chain.accounts import DEPLOYER, dev_account, dev_key
        from infernet_kit.chain.watch import wait_for_fulfillments
        from infernet_kit.client.chain_utils import RPC
        from infernet_kit.client.onchain import create_delegated_subscription

        w3 = self._w3()
        deployment = self.info.deployment
        owner = deployment.consumers["DelegateConsumer"]
        signer = dev_account(DEPLOYER)  # DelegateConsumer's signer as deployed
        self.say(f"sign DelegateSubscription(owner={owner}) with the consumer's signer {signer.address}")
        self.say(f"POST {self.node_url}/api/jobs {{subscription, signature, data}}")
        started_block = w3.eth.block_number
        created = await create_delegated_subscription(
            self.node_url,
            RPC(self.info.rpc_url),
            deployment.coordinator,
            owner=owner,
            private_key=dev_key(DEPLOYER),
            containers=[tgi.CONTAINER_ID],
            data={"text": TGI_PROMPT},
        )
        self.say(f"subscription {created.subscription_id} created on chain by the node (nonce {created.nonce})")
        coordinator = deployment.contract(w3, "EIP712Coordinator")
        (event,) = await asyncio.to_thread(
            wait_for_fulfillments, coordinator, created.subscription_id, from_block=started_block, timeout=30
        )
        raw = deployment.contract(w3, "DelegateConsumer").functions.outputs(created.subscription_id, 1).call()
        text = tgi.decode_output(raw)
        self.say(f"deliverComputeDelegatee tx {event['transactionHash'].to_0x_hex()} block {event['blockNumber']}")
        self.say(f"DelegateConsumer.outputs({created.subscription_id}, 1) decodes to {text!r}")
        return int(event["blockNumber"]) - started_block, self.check_text(text, TGI_PROMPT)

    async def redundancy(self) -> tuple[int | None, str]:
        from infernet_kit.chain.transactions import transact
        from infernet_kit.chain.watch import created_subscription_id, wait_for_fulfillments

        w3 = self._w3()
        consumer = self.info.deployment.contract(w3, "RecurringConsumer")
        coordinator = self.info.deployment.contract(w3, "EIP712Coordinator")
        self.say("RecurringConsumer.start(prompt, frequency=1, period=0, redundancy=2)")
        receipt = await asyncio.to_thread(transact, consumer.functions.start(TGI_PROMPT, 1, 0, 2, False))
        subscription_id = created_subscription_id(coordinator, receipt)
        deliveries = await asyncio.to_thread(
            wait_for_fulfillments, coordinator, subscription_id, count=2, from_block=receipt["blockNumber"], timeout=30
        )
        nodes = {str(event["args"]["node"]) for event in deliveries}
        for event in deliveries:
            self.say(f"node {event['args']['node']} delivered in block {event['blockNumber']}")
        expect(nodes == {node.address for node in self.info.nodes[:2]}, f"delivered by {sorted(nodes)}")
        expect(consumer.functions.deliveries(subscription_id).call() == 2, "expected exactly 2 deliveries")
        last = max(int(event["blockNumber"]) for event in deliveries)
        return last - receipt["blockNumber"], "both nodes delivered once"

    async def run_all(self) -> None:
        flows: list[tuple[str, Flow]] = [
            ("off-chain job: Python client", self.offchain_python),
            ("off-chain job: CLI", self.offchain_cli),
            ("off-chain job: cURL", self.offchain_curl),
            ("on-chain TGI callback", self.onchain_tgi),
            ("on-chain HF tasks (4)", self.onchain_hf),
            ("recurring subscription (2 intervals)", self.recurring),
            ("delegated subscription (EIP-712)", self.delegated),
            ("redundancy 2 (two nodes)", self.redundancy),
        ]
        for name, flow in flows:
            await self.run(name, flow)

    # -- summary -------------------------------------------------------------------------------------------

    def summary(self) -> Table:
        table = Table(title="infernet-kit demo")
        for column in ("flow", "verified", "blocks", "ms", "gas per delivery", "note"):
            table.add_column(column)
        for result in self.results:
            table.add_row(
                result.name,
                "[green]yes" if result.verified else "[red]no",
                "" if result.blocks is None else str(result.blocks),
                f"{result.millis:.0f}",
                _gas_cell(result.gas),
                result.note if len(result.note) <= 48 else result.note[:47] + "…",
            )
        return table

    @property
    def all_verified(self) -> bool:
        return bool(self.results) and all(result.verified for result in self.results)


def _gas_cell(gas: list[int]) -> str:
    """One delivery's gas, or the range and count of several."""
    if not gas:
        return ""
    if len(gas) == 1:
        return f"{gas[0]:,}"
    return f"{min(gas):,}-{max(gas):,} ({len(gas)})" if min(gas) != max(gas) else f"{gas[0]:,} ({len(gas)})"


def _short(hex_text: str, keep: int = 26) -> str:
    return (
        hex_text if len(hex_text) <= 2 * keep else f"{hex_text[:keep]}…{hex_text[-8:]} ({len(hex_text) // 2 - 1} bytes)"
    )


def _stored_hf_result(consumer: Contract, task: HFTaskId, subscription_id: int) -> Any:
    """An HF task's result as HFCallbackConsumer stores it, in the service's off-chain shape."""
    if task == HFTaskId.TEXT_GENERATION:
        return consumer.functions.generatedText(subscription_id).call()
    if task == HFTaskId.SUMMARIZATION:
        return {"summary_text": consumer.functions.summary(subscription_id).call()}
    is_label = task == HFTaskId.TEXT_CLASSIFICATION
    getter = consumer.functions.classification if is_label else consumer.functions.tokenClassification
    names, scores = getter(subscription_id).call()
    return hf.scored_items(task, names, scores)


def service_output(output: Any) -> Any:
    """A job's output is the container's JSON answer; the services put their result under `output`."""
    return output["output"] if isinstance(output, dict) and "output" in output else output


def _cli_output(stdout: str) -> Any:
    """What `job --sync` printed: the job's output as JSON."""
    return json.loads(stdout)


__all__ = ["Demo", "FlowResult"]
