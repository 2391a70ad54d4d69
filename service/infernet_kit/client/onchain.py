"""On-chain flows of the client: delegated subscriptions as the seeds run them, and reading them back."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from infernet_kit.chain.encoding import UINT32_MAX, delegate_key, interval_at, unpack_pair
from infernet_kit.client.chain_utils import RPC, Subscription
from infernet_kit.client.errors import RpcUnreachableError
from infernet_kit.config import ConfigError
from infernet_kit.polling import wait_until_async
from infernet_kit.protocol import hf, tgi
from infernet_kit.protocol.hf import HFTaskId

if TYPE_CHECKING:
    from infernet_kit.chain.deploy import Deployment

SUBSCRIPTION_PARAM_NAMES = (
    "owner",
    "active_at",
    "period",
    "frequency",
    "redundancy",
    "containers",
    "lazy",
    "verifier",
    "payment_amount",
    "payment_token",
    "wallet",
)


def subscription_from_params(params: dict[str, Any], source: str = "params") -> Subscription:
    """A `Subscription` from the seeds' params.json object (keys as printed there)."""
    unknown = sorted(set(params) - set(SUBSCRIPTION_PARAM_NAMES))
    if unknown:
        raise ConfigError(f"{source}: unknown subscription field(s) {', '.join(unknown)}")
    missing = [
        name for name in ("owner", "active_at", "period", "frequency", "redundancy", "containers") if name not in params
    ]
    if missing:
        raise ConfigError(f"{source}: missing subscription field(s) {', '.join(missing)}")
    containers = params["containers"]
    if isinstance(containers, str):
        containers = [name.strip() for name in containers.split(",") if name.strip()]
    try:
        return Subscription(**{**params, "containers": containers})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "value"
        raise ConfigError(f"{source}: {field}: {error['msg']}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


async def wait_for_delegated_subscription(
    rpc: RPC, coordinator: str, *, owner: str, nonce: int, wait: float = 30.0, poll: float = 0.2
) -> int:
    """The id the coordinator gave the delegated subscription `(owner, nonce)`, once it exists on chain."""

    async def created() -> int:
        return await existing_delegated_subscription(rpc, coordinator, owner, nonce)

    what = f"a subscription for owner {owner} nonce {nonce} on chain"
    return await wait_until_async(created, timeout=wait, interval=poll, what=what)


# -- the local deployment ----------------------------------------------------------------------------------------


DEPLOYMENTS_DIR_ENV = "INFERNET_DEPLOYMENTS_DIR"


def local_deployment(rpc_url: str, directory: str | Path | None = None) -> Deployment:
    """The deployment file `<chain id>.json` of the chain at `rpc_url`, from `directory`, else
    `$INFERNET_DEPLOYMENTS_DIR`, else the checkout's deployments/ (where `infernet-kit deploy` writes)."""
    from infernet_kit.chain.deploy import Deployment
    from infernet_kit.chain.transactions import connect
    from infernet_kit.client.wallet import reachable

    with reachable(rpc_url):
        chain_id = int(connect(rpc_url).eth.chain_id)
    folder = directory or os.environ.get(DEPLOYMENTS_DIR_ENV) or None
    try:
        return Deployment.load(chain_id, Path(folder) if folder else None)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None


# -- callbacks: a consumer asks the coordinator, a node delivers ------------------------------------------------

TGI_CONSUMER = "TGICallbackConsumer"
HF_CONSUMER = "HFCallbackConsumer"
COORDINATOR = "EIP712Coordinator"


class CallbackResult(BaseModel):
    """One request-and-callback round trip: what was asked, what came back, and the two transactions."""

    subscription_id: int
    request_tx: str
    delivery_tx: str
    node: str
    output: Any
    raw_output: str
    delivery_gas: int = 0


def gas_used(w3: Web3, tx_hash: str) -> int:
    """The gas a mined transaction used (what a delivery cost its node)."""
    return int(w3.eth.get_transaction_receipt(tx_hash)["gasUsed"])  # type: ignore[arg-type]


def coordinator_at(w3: Web3, address: str) -> Contract:
    """The (synchronous) coordinator contract at `address`."""
    from eth_utils.address import to_checksum_address

    from infernet_kit.chain.artifacts import load_artifact

    return w3.eth.contract(address=to_checksum_address(address), abi=load_artifact(COORDINATOR).abi)


def delivery_arguments(w3: Web3, coordinator: Contract, tx_hash: bytes | str) -> dict[str, Any]:
    """The arguments of a delivery transaction (`deliverCompute` or `deliverComputeDelegatee`)."""
    tx = w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    _, arguments = coordinator.decode_function_input(tx["input"])
    return dict(arguments)


def delivered_output(w3: Web3, coordinator: Contract, tx_hash: bytes | str) -> bytes:
    """The `output` argument of the delivery transaction."""
    return bytes(delivery_arguments(w3, coordinator, tx_hash)["output"])


def await_callback(
    w3: Web3, coordinator: Contract, subscription_id: int, *, from_block: int, timeout: float
) -> tuple[str, str, bytes]:
    """Wait for the subscription's first delivery: (delivery tx hash, node address, raw output)."""
    from infernet_kit.chain.watch import wait_for_fulfillments

    event = wait_for_fulfillments(coordinator, subscription_id, from_block=from_block, timeout=timeout)[0]
    raw, _processed = unpack_pair(delivered_output(w3, coordinator, event["transactionHash"]))
    return event["transactionHash"].to_0x_hex(), str(event["args"]["node"]), raw


def request_compute(
    w3: Web3, call: ContractFunction, coordinator: Contract, *, decode_output: Any, timeout: float = 60.0
) -> CallbackResult:
    """Send `call` (a consumer function that requests compute), wait for the node's delivery, decode it."""
    from infernet_kit.chain.transactions import transact
    from infernet_kit.chain.watch import created_subscription_id

    receipt = transact(call)
    subscription_id = created_subscription_id(coordinator, receipt)
    delivery_tx, node, raw = await_callback(
        w3, coordinator, subscription_id, from_block=receipt["blockNumber"], timeout=timeout
    )
    return CallbackResult(
        subscription_id=subscription_id,
        request_tx=receipt["transactionHash"].to_0x_hex(),
        delivery_tx=delivery_tx,
        node=node,
        output=decode_output(raw),
        raw_output="0x" + raw.hex(),
        delivery_gas=gas_used(w3, delivery_tx),
    )


def request_tgi_callback(
    w3: Web3, deployment: Deployment, prompt: str, *, consumer: str | None = None, timeout: float = 60.0
) -> CallbackResult:
    """The seed's on-chain flow: `TGICallbackConsumer.chatWithLLM(encode(["string"], [prompt]))`."""
    return request_compute(
        w3,
        deployment.contract(w3, TGI_CONSUMER, consumer).functions.chatWithLLM(tgi.encode_input(prompt)),
        deployment.contract(w3, COORDINATOR),
        decode_output=tgi.decode_output,
        timeout=timeout,
    )


def request_hf_callback(
    w3: Web3,
    deployment: Deployment,
    task: HFTaskId,
    prompt: str,
    *,
    model: str = "",
    consumer: str | None = None,
    timeout: float = 60.0,
) -> CallbackResult:
    """One HF task on chain: `HFCallbackConsumer.requestTask` with the seed's input
    `encode(["uint8", "string", "string"], [task, model, prompt])`; the answer decoded."""
    return request_compute(
        w3,
        deployment.contract(w3, HF_CONSUMER, consumer).functions.requestTask(hf.encode_input(task, prompt, model)),
        deployment.contract(w3, COORDINATOR),
        decode_output=lambda raw: hf.decode_output(task, raw),
        timeout=timeout,
    )


# -- delegated subscriptions: signed off chain, created on chain by the node ------------------------------------


class DelegatedResult(BaseModel):
    subscription_id: int
    owner: str
    nonce: int
    expiry: int


async def create_delegated_subscription(
    node_url: str,
    rpc: RPC,
    coordinator: str,
    *,
    owner: str,
    private_key: str,
    containers: list[str],
    data: dict[str, Any],
    nonce: int | None = None,
    expiry_in: int = 300,
    period: int = 0,
    frequency: int = 1,
    redundancy: int = 1,
    wait: float = 30.0,
) -> DelegatedResult:
    """The seeds' delegated flow: sign a subscription for `owner` (a Delegator), hand it to the node,
    and return once the coordinator has created it."""
    latest = await rpc.reachable(rpc.web3.eth.get_block("latest"))
    now = int(latest["timestamp"])
    nonce = random.randint(0, UINT32_MAX) if nonce is None else nonce
    # Not lazy, no verifier, no payment: the struct's defaults.
    sub = Subscription(owner, now, period, frequency, redundancy, containers)
    subscription_id = await submit_delegated_subscription(
        node_url,
        rpc,
        coordinator,
        sub,
        private_key=private_key,
        data=data,
        nonce=nonce,
        expiry=now + expiry_in,
        wait=wait,
    )
    assert subscription_id is not None  # wait > 0 always waits for the id
    return DelegatedResult(subscription_id=subscription_id, owner=sub.owner, nonce=nonce, expiry=now + expiry_in)


async def submit_delegated_subscription(
    node_url: str | Sequence[str],
    rpc: RPC,
    coordinator: str,
    sub: Subscription,
    *,
    private_key: str,
    data: dict[str, Any],
    nonce: int,
    expiry: int,
    wait: float = 0.0,
    on_refused: Callable[[str, BaseException], None] | None = None,
) -> int | None:
    """Sign `sub` and send it to each node at once (a redundancy above one needs as many nodes to see it);
    with `wait` > 0, return its on-chain id once created. Raises the first node's error if none accepted it;
    otherwise each node that did not is passed to `on_refused`."""
    from infernet_kit.client.node import NodeClient

    async def send(url: str) -> None:
        async with NodeClient(url) as client:
            await client.request_delegated_subscription(
                sub=sub,
                rpc=rpc,
                coordinator_address=coordinator,
                expiry=expiry,
                nonce=nonce,
                private_key=private_key,
                data=data,
            )

    urls = [node_url] if isinstance(node_url, str) else list(node_url)
    await rpc.get_chain_id()  # asked once, before the concurrent sends
    outcomes = await asyncio.gather(*(send(url) for url in urls), return_exceptions=True)
    failures = [(url, out) for url, out in zip(urls, outcomes, strict=True) if isinstance(out, BaseException)]
    if len(failures) == len(urls):
        raise failures[0][1]
    for url, failure in failures:
        if on_refused is not None:
            on_refused(url, failure)
    if wait <= 0:
        return None
    return await wait_for_delegated_subscription(rpc, coordinator, owner=sub.owner, nonce=nonce, wait=wait)


async def existing_delegated_subscription(rpc: RPC, coordinator: str, owner: str, nonce: int) -> int:
    """The id `(owner, nonce)` already has on chain (0: none): a reused nonce creates nothing new."""
    from infernet_kit.client.contracts import coordinator_contract

    contract = coordinator_contract(rpc, coordinator)
    return int(await rpc.reachable(contract.functions.delegateCreatedIds(delegate_key(owner, nonce)).call()))


async def chain_time(rpc: RPC) -> int:
    """The timestamp the next block will carry (what "now" is to the coordinator); latest's if not reported."""
    try:
        block = await rpc.reachable(rpc.web3.eth.get_block("pending"))
    except RpcUnreachableError:
        raise
    except Exception:
        block = await rpc.reachable(rpc.web3.eth.get_block("latest"))
    return int(block["timestamp"])


# -- deliveries of a subscription, decoded ------------------------------------------------------------------------


class Delivery(BaseModel):
    """One `SubscriptionFulfilled`: which node answered which interval, in which transaction, and the answer."""

    subscription_id: int
    interval: int
    node: str
    tx: str
    block: int
    output: Any


def decode_answer(containers: Sequence[str], data: Any, raw: bytes) -> Any:
    """A delivered `raw_output` decoded with the last container's on-chain shape; hex for a container the kit
    does not know."""
    last = containers[-1]
    try:
        if last == tgi.CONTAINER_ID:
            return tgi.decode_output(raw)
        if last == hf.CONTAINER_ID and isinstance(data, dict):
            return hf.decode_output(HFTaskId(int(data["task_id"])), raw)
    except (ValueError, KeyError, TypeError):
        pass
    return "0x" + raw.hex()


def deliverable_intervals(w3: Web3, coordinator: Contract, subscription_id: int, *, from_block: int = 0) -> range:
    """The intervals `subscription_id` can be delivered in: from the one open in its creation's block to its last.
    Those before closed before it existed (an `active_at` in the past, or a creation mined late: with a 3-second
    period, a slow machine can take longer than a period from signing to mining)."""
    _owner, active_at, period, frequency, *_ = coordinator.functions.getSubscription(subscription_id).call()
    created = coordinator.events.SubscriptionCreated().get_logs(
        from_block=from_block, argument_filters={"id": subscription_id}
    )
    if not created:
        raise LookupError(f"no SubscriptionCreated event for subscription {subscription_id} since block {from_block}")
    mined_at = int(w3.eth.get_block(created[0]["blockNumber"])["timestamp"])
    return range(max(interval_at(active_at, period, mined_at), 1), frequency + 1)


def deliveries(
    w3: Web3, coordinator: Contract, subscription_id: int, *, from_block: int, decode: Any = None
) -> list[Delivery]:
    """Every delivery of `subscription_id` since `from_block`, oldest first, `decode`d (raw hex by default)."""
    logs = coordinator.events.SubscriptionFulfilled().get_logs(
        from_block=from_block, argument_filters={"id": subscription_id}
    )
    found = []
    for event in sorted(logs, key=lambda log: (log["blockNumber"], log["logIndex"])):
        arguments = delivery_arguments(w3, coordinator, event["transactionHash"])
        raw, _processed = unpack_pair(bytes(arguments["output"]))
        found.append(
            Delivery(
                subscription_id=subscription_id,
                interval=int(arguments["deliveryInterval"]),
                node=str(event["args"]["node"]),
                tx=event["transactionHash"].to_0x_hex(),
                block=int(event["blockNumber"]),
                output=decode(raw) if decode is not None else "0x" + raw.hex(),
            )
        )
    return found
