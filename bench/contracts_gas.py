"""Benchmark: transaction gas of the coordinator's main paths on a real anvil, against the reference figures.

Each path is one real transaction (gasUsed from its receipt, intrinsic and calldata costs included), with
consumers that do nothing in their callback, as the reference was measured (PROTOCOL.md section 5). The
input is `abi.encode("Is the sky blue during a clear day?")`, the output the TGI service's on-chain shape.

A second table uses acceptance-style consumers (`contracts/test/fixtures/AnswerConsumers.sol`: they store the
answer string and emit an event) against the SDK v1.1.0 itself, measured the same way with the same consumers
(the SDK built with this project's compiler and settings, outside this repository), with issue #11/#15's goals.

    .venv/bin/python bench/contracts_gas.py      (needs `make build`)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from web3 import Web3
from web3.contract import Contract

from infernet_kit.chain.accounts import DEPLOYER, NODE_OPERATORS, USER, dev_account
from infernet_kit.chain.artifacts import load_artifact
from infernet_kit.chain.deploy import deploy
from infernet_kit.chain.encoding import Subscription, container_id, sign_delegate_subscription
from infernet_kit.devstack.anvil import Anvil

REFERENCE = {
    "createSubscription via _requestCompute": 220_588,
    "deliverCompute (eager one-shot)": 95_572,
    "deliverCompute (second node, redundancy 2)": 78_491,
    "deliverCompute (lazy)": 470_721,
    "createSubscriptionDelegatee": 145_290,
    "deliverComputeDelegatee (create + deliver)": 202_589,
}
RAISED_NONCE = "createSubscriptionDelegatee (nonce > max so far)"
# SDK v1.1.0 (b183dc3) with the acceptance-style consumers, and the goal as a fraction of it.
SDK_REQUEST, SDK_DELIVER, SDK_CREATE_DELEGATEE, SDK_DELIVER_DELEGATEE = 222_850, 165_980, 161_670, 289_235
SDK_ACCEPTANCE = {
    "request (answer consumer)": (SDK_REQUEST, 0.75),
    "deliverCompute (answer consumer)": (SDK_DELIVER, 0.80),
    "createSubscriptionDelegatee (answer consumer, nonce 1)": (SDK_CREATE_DELEGATEE, 0.85),
    "deliverComputeDelegatee (answer consumer, nonce 1)": (SDK_DELIVER_DELEGATEE, 0.85),
}
CONTAINER = "tgi_client_inference_service"
INPUTS = encode(["string"], ["Is the sky blue during a clear day?"])
OUTPUT = encode(["bytes", "bytes"], [encode(["string"], ["Yes, the sky is blue during a clear day."]), b""])
ZERO = "0x0000000000000000000000000000000000000000"


def _deploy(w3: Web3, name: str, *args: Any) -> Contract:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": w3.eth.accounts[0]}))
    address = receipt["contractAddress"]
    if address is None:
        raise RuntimeError(f"deploying {name} failed")
    return w3.eth.contract(address=address, abi=artifact.abi)


def _gas(call: Any, sender: str) -> int:
    receipt = call.w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}))
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction reverted: {receipt['transactionHash'].to_0x_hex()}")
    return int(receipt["gasUsed"])


def measure(anvil: Anvil) -> dict[str, int]:
    w3 = anvil.w3
    deployment = deploy(w3, dev_account(DEPLOYER), examples=False)
    coordinator = deployment.contract(w3, "EIP712Coordinator")
    user = dev_account(USER).address
    node1, node2 = (dev_account(i).address for i in NODE_OPERATORS[:2])
    signer = dev_account(NODE_OPERATORS[2])
    callback = _deploy(w3, "NoopCallbackConsumer", deployment.registry)
    subscriber = _deploy(w3, "NoopSubscriptionConsumer", deployment.registry)
    delegator = _deploy(w3, "NoopDelegatorConsumer", deployment.registry, signer.address)

    def request(redundancy: int) -> tuple[int, int]:
        sub_id = coordinator.functions.id().call()
        gas = _gas(callback.functions.request(CONTAINER, INPUTS, redundancy, ZERO, 0, ZERO, ZERO), user)
        return sub_id, gas

    def deliver(sub_id: int, node: str) -> int:
        return _gas(coordinator.functions.deliverCompute(sub_id, 1, INPUTS, OUTPUT, b"", ZERO), node)

    figures: dict[str, int] = {}
    one_shot, figures["createSubscription via _requestCompute"] = request(1)
    figures["deliverCompute (eager one-shot)"] = deliver(one_shot, node1)
    redundant, _ = request(2)
    deliver(redundant, node1)
    figures["deliverCompute (second node, redundancy 2)"] = deliver(redundant, node2)
    lazy = coordinator.functions.id().call()
    _gas(subscriber.functions.create(CONTAINER, 1, 0, 1, True), user)
    figures["deliverCompute (lazy)"] = deliver(lazy, node1)

    answer_callback = _deploy(w3, "AnswerCallbackConsumer", deployment.registry)
    answer_id = coordinator.functions.id().call()
    figures["request (answer consumer)"] = _gas(answer_callback.functions.request(CONTAINER, INPUTS), user)
    figures["deliverCompute (answer consumer)"] = deliver(answer_id, node1)

    def signed(owner: Contract, nonce: int) -> tuple[Any, ...]:
        now = anvil.timestamp()
        sub = Subscription(
            owner=owner.address,
            active_at=now,
            period=0,
            frequency=1,
            redundancy=1,
            container_id=container_id(CONTAINER),
        )
        expiry = now + 600
        sig = sign_delegate_subscription(
            sub,
            nonce=nonce,
            expiry=expiry,
            chain_id=w3.eth.chain_id,
            coordinator=coordinator.address,
            private_key=signer.key,
        )
        return nonce, expiry, sub.as_tuple(), sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big")

    # A subscriber's first delegated subscription (nonce 0: maxSubscriberNonce stays 0, nothing to write) ...
    figures["createSubscriptionDelegatee"] = _gas(
        coordinator.functions.createSubscriptionDelegatee(*signed(delegator, 0)), node1
    )
    # ... and one with a nonce above the subscriber's maximum so far (maxSubscriberNonce is written).
    figures[RAISED_NONCE] = _gas(coordinator.functions.createSubscriptionDelegatee(*signed(delegator, 7)), node1)
    fresh = _deploy(w3, "NoopDelegatorConsumer", deployment.registry, signer.address)
    figures["deliverComputeDelegatee (create + deliver)"] = _gas(
        coordinator.functions.deliverComputeDelegatee(*signed(fresh, 0), 1, INPUTS, OUTPUT, b"", ZERO), node1
    )
    # An owner's first delegated subscription as clients sign it (nonce 1), acceptance-style consumers.
    answer_delegator = _deploy(w3, "AnswerDelegatorConsumer", deployment.registry, signer.address)
    figures["createSubscriptionDelegatee (answer consumer, nonce 1)"] = _gas(
        coordinator.functions.createSubscriptionDelegatee(*signed(answer_delegator, 1)), node1
    )
    answer_fresh = _deploy(w3, "AnswerDelegatorConsumer", deployment.registry, signer.address)
    figures["deliverComputeDelegatee (answer consumer, nonce 1)"] = _gas(
        coordinator.functions.deliverComputeDelegatee(*signed(answer_fresh, 1), 1, INPUTS, OUTPUT, b"", ZERO), node1
    )
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Anvil(log_path=Path(tmp) / "anvil.log") as anvil:
        figures = measure(anvil)
    print(f"{'path':<56} {'gas':>9} {'reference':>10} {'change':>8}")
    for name, gas in figures.items():
        ref = REFERENCE.get(name)
        if name in SDK_ACCEPTANCE:
            continue
        if ref is None:
            print(f"{name:<56} {gas:>9,} {'-':>10} {'':>8}")
        else:
            print(f"{name:<56} {gas:>9,} {ref:>10,} {100 * (gas - ref) / ref:>+7.1f}%")
    print(f"\n{'acceptance-style path':<56} {'gas':>9} {'SDK':>10} {'ratio':>6} {'goal':>6}")
    for name, (sdk, goal) in SDK_ACCEPTANCE.items():
        gas = figures[name]
        verdict = "ok" if gas <= goal * sdk else "MISSED"
        print(f"{name:<56} {gas:>9,} {sdk:>10,} {gas / sdk:>6.3f} {goal:>6.2f} {verdict}")


if __name__ == "__main__":
    main()
