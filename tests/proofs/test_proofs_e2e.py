"""Proofs end to end on a real anvil with a real node and the signing example container (`infernet-kit serve
signer`): paid subscriptions judged by the kit's atomic `SignatureVerifier` and its `OptimisticVerifier`, every
balance checked to the wei against the SDK v1.1's rules (the protocol fee taken twice from the payment and once
from the verifier's fee; the node's stake of `paymentAmount` escrowed from its payment wallet until judged)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from pydantic import SecretStr
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from infernet_kit.chain.accounts import DEPLOYER, USER, dev_account, dev_key
from infernet_kit.chain.artifacts import load_artifact
from infernet_kit.chain.deploy import DEFAULT_FEE_BASIS_POINTS, Deployment, deploy, deploy_artifact
from infernet_kit.chain.encoding import (
    ZERO_ADDRESS,
    Subscription,
    compute_proof_typed_data,
    container_id,
    node_responded_key,
)
from infernet_kit.chain.transactions import TransactionReverted, connect, transact
from infernet_kit.chain.watch import created_subscription_id, wait_for_fulfillments
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.node.chain.rpc import ChainClient
from infernet_kit.node.chain.wallet import NodeWallet
from infernet_kit.node.proofs import Escrow, EscrowRefused
from infernet_kit.polling import wait_until
from infernet_kit.protocol import signer
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.chain_node_fixtures import FUNDING_WEI, ChainNode, ChainNodeFactory
from infernet_kit.testing.node_fixtures import NodeLauncher, node_container, wait_for_job
from infernet_kit.testing.service_fixtures import DevBackendHandle, run_service

PAYMENT = 10**15
VERIFIER_FEE = 2 * 10**13
MINIMUM = 5 * 10**14  # what the signing container accepts (accepted_payments), after the verifier's fee
STAKE_FUNDS = 10**17  # the node's payment wallet: enough to stake several deliveries at once
CHALLENGE_WINDOW = 600
PROMPT = "Is the proof in the pudding?"


def protocol_fee(amount: int) -> int:
    return amount * DEFAULT_FEE_BASIS_POINTS // 10_000


# What each party's balance moves by, by the SDK's rules, at delivery and when the proof is judged.
FEE_ON_PAYMENT = 2 * protocol_fee(PAYMENT)
NODE_SHARE = PAYMENT - FEE_ON_PAYMENT - VERIFIER_FEE
TO_VERIFIER = VERIFIER_FEE - protocol_fee(VERIFIER_FEE)
TO_PROTOCOL = FEE_ON_PAYMENT + protocol_fee(VERIFIER_FEE)


@dataclass
class ProofStack:
    chain: Anvil
    deployment: Deployment
    w3: Web3
    consumer: Contract
    coordinator: Contract
    signature_verifier: Contract
    optimistic_verifier: Contract
    trusted_signer: str
    consumer_wallet: str
    node_wallet: str
    fee_recipient: str
    node: ChainNode

    def balances(self) -> dict[str, int]:
        parties = {
            "consumer_wallet": self.consumer_wallet,
            "node_wallet": self.node_wallet,
            "signature_verifier": self.signature_verifier.functions.getWallet().call(),
            "optimistic_verifier": self.optimistic_verifier.functions.getWallet().call(),
            "fee_recipient": self.fee_recipient,
        }
        return {name: int(self.w3.eth.get_balance(address)) for name, address in parties.items()}

    def ask(self, container: str, verifier: Contract | str, amount: int = PAYMENT) -> tuple[int, int]:
        """A paid request judged by `verifier`; (subscription id, block)."""
        address = verifier if isinstance(verifier, str) else verifier.address
        call = self.consumer.functions.ask(container, PROMPT, self.consumer_wallet, amount, address)
        receipt = transact(call)
        return created_subscription_id(self.coordinator, receipt), int(receipt["blockNumber"])

    def delivered(self, subscription_id: int, block: int) -> None:
        # Generous: each delivery is an approve and a delivery on a machine that may be loaded.
        wait_for_fulfillments(self.coordinator, subscription_id, from_block=block, timeout=60, nodes=[self.node.url])

    def verdicts(self, block: int) -> dict[int, bool]:
        """`ProofVerified` events since `block`: subscription id -> valid."""
        events = self.coordinator.events.ProofVerified().get_logs(from_block=block)
        return {int(e["args"]["id"]): bool(e["args"]["valid"]) for e in events}

    def pending_proof(self, subscription_id: int) -> bool:
        key = node_responded_key(subscription_id, 1, self.node.address)
        return int(self.coordinator.functions.proofRequests(key).call()[0]) != 0


def _created_wallet(w3: Web3, deployment: Deployment, owner: str) -> str:
    factory = deployment.contract(w3, "WalletFactory")
    receipt = transact(factory.functions.createWallet(owner))
    (event,) = factory.events.WalletCreated().process_receipt(receipt, errors=DISCARD)
    return str(event["args"]["wallet"])


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, node_launcher: NodeLauncher, dev_backend: DevBackendHandle
) -> Iterator[ProofStack]:
    logs = tmp_path_factory.mktemp("proofs")
    fee_recipient = Account.create().address
    trusted = Account.create()
    with Anvil(log_path=logs / "anvil.log") as chain:
        deployment = deploy(chain.w3, dev_account(DEPLOYER), fee_recipient=fee_recipient, examples=False)
        w3 = connect(chain.url, dev_key(USER))
        user = dev_account(USER).address
        consumer = deploy_artifact(w3, load_artifact("ProofConsumer"), deployment.registry)
        verifiers = (
            deploy_artifact(
                w3,
                load_artifact("SignatureVerifier"),
                deployment.registry,
                user,
                Account.create().address,
                trusted.address,
            ),
            deploy_artifact(
                w3,
                load_artifact("OptimisticVerifier"),
                deployment.registry,
                user,
                Account.create().address,
                CHALLENGE_WINDOW,
            ),
        )
        for verifier in verifiers:
            transact(verifier.functions.setTokenTerms(ZERO_ADDRESS, True, VERIFIER_FEE))
        consumer_wallet = _created_wallet(w3, deployment, user)
        chain.rpc("anvil_setBalance", consumer_wallet, hex(FUNDING_WEI))
        transact(
            deployment.contract(w3, "Wallet", consumer_wallet).functions.approve(
                consumer.address, ZERO_ADDRESS, FUNDING_WEI
            )
        )
        node_account = Account.create()
        chain.rpc("anvil_setBalance", node_account.address, hex(FUNDING_WEI))
        node_wallet = _created_wallet(w3, deployment, node_account.address)  # owned by the node's key
        chain.rpc("anvil_setBalance", node_wallet, hex(STAKE_FUNDS))

        env = {**signer.dev_env(dev_backend.url), signer.SIGNER_KEY_ENV: "0x" + bytes(trusted.key).hex()}
        with run_service(signer.KIND, env, logs, workers=1) as service:
            containers = [
                node_container(
                    signer.CONTAINER_ID, service.url, generates_proofs=True, accepted_payments={ZERO_ADDRESS: MINIMUM}
                )
            ]
            node = ChainNodeFactory(node_launcher, chain, deployment)(
                containers=containers,
                chain=chain,
                deployment=deployment,
                account=node_account,
                chain_settings={"wallet": {"payment_address": node_wallet}},
            )
            yield ProofStack(
                chain=chain,
                deployment=deployment,
                w3=w3,
                consumer=consumer,
                coordinator=deployment.contract(w3, "EIP712Coordinator"),
                signature_verifier=verifiers[0],
                optimistic_verifier=verifiers[1],
                trusted_signer=trusted.address,
                consumer_wallet=consumer_wallet,
                node_wallet=node_wallet,
                fee_recipient=fee_recipient,
                node=node,
            )
            node.node.stop()


def _moved(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in before if after[name] != before[name]}


def test_a_valid_signature_proof_pays_the_node_in_the_delivery(stack: ProofStack) -> None:
    before = stack.balances()
    subscription_id, block = stack.ask(signer.CONTAINER_ID, stack.signature_verifier)
    stack.delivered(subscription_id, block)

    assert stack.verdicts(block) == {subscription_id: True}
    assert _moved(before, stack.balances()) == {
        "consumer_wallet": -PAYMENT,
        "node_wallet": NODE_SHARE,
        "signature_verifier": TO_VERIFIER,
        "fee_recipient": TO_PROTOCOL,
    }
    assert not stack.pending_proof(subscription_id)
    # The stake came back as the wallet's allowance for the node: the next delivery needs no approval.
    wallet = stack.deployment.contract(stack.w3, "Wallet", stack.node_wallet)
    assert wallet.functions.allowance(stack.node.address, ZERO_ADDRESS).call() >= PAYMENT
    # The proof is the trusted signer's over exactly what the consumer received.
    proof = bytes(stack.consumer.functions.proofs(subscription_id).call())
    output = bytes(stack.consumer.functions.outputs(subscription_id).call())
    assert len(proof) == 129 and proof[32:64] == keccak(output)
    typed = compute_proof_typed_data(
        subscription_id=subscription_id,
        interval=1,
        input_hash=proof[:32],
        output_hash=proof[32:64],
        chain_id=stack.chain.w3.eth.chain_id,
        verifier=stack.signature_verifier.address,
    )
    assert Account.recover_message(encode_typed_data(full_message=typed), signature=proof[64:]) == stack.trusted_signer


def test_a_proof_by_an_untrusted_key_slashes_the_node(stack: ProofStack) -> None:
    verifier = stack.signature_verifier
    transact(verifier.functions.setSigner(stack.trusted_signer, False))  # the container's key, distrusted
    before = stack.balances()
    try:
        subscription_id, block = stack.ask(signer.CONTAINER_ID, verifier)
        stack.delivered(subscription_id, block)
    finally:
        transact(verifier.functions.setSigner(stack.trusted_signer, True))

    assert stack.verdicts(block) == {subscription_id: False}
    assert _moved(before, stack.balances()) == {
        "consumer_wallet": PAYMENT - FEE_ON_PAYMENT - VERIFIER_FEE,  # the node's stake, less the fees paid
        "node_wallet": -PAYMENT,
        "signature_verifier": TO_VERIFIER,
        "fee_recipient": TO_PROTOCOL,
    }


def test_optimistic_proofs_are_challenged_within_the_window_or_settled_after_it(stack: ProofStack) -> None:
    optimistic = stack.optimistic_verifier
    before = stack.balances()
    (kept, block), (challenged, _) = (stack.ask(signer.CONTAINER_ID, optimistic) for _ in range(2))
    stack.delivered(kept, block)
    stack.delivered(challenged, block)
    # Delivered, not judged: fees paid, the consumer's payment and the node's stake held in escrow.
    assert stack.pending_proof(kept) and stack.pending_proof(challenged)
    assert _moved(before, stack.balances()) == {
        "consumer_wallet": -2 * (FEE_ON_PAYMENT + VERIFIER_FEE),
        "optimistic_verifier": 2 * TO_VERIFIER,
        "fee_recipient": 2 * TO_PROTOCOL,
    }
    with pytest.raises(TransactionReverted, match="ChallengeWindowOpen"):
        transact(optimistic.functions.settle(kept, 1, stack.node.address))

    transact(optimistic.functions.challenge(challenged, 1, stack.node.address))  # the arbiter, within the window
    stack.chain.rpc("evm_increaseTime", CHALLENGE_WINDOW)
    stack.chain.rpc("evm_mine")
    with pytest.raises(TransactionReverted, match="ChallengeWindowClosed"):
        transact(optimistic.functions.challenge(kept, 1, stack.node.address))
    transact(optimistic.functions.settle(kept, 1, stack.node.address))  # anyone, once the window has passed

    assert stack.verdicts(block) == {challenged: False, kept: True}
    assert _moved(before, stack.balances()) == {
        "consumer_wallet": -2 * (FEE_ON_PAYMENT + VERIFIER_FEE) - NODE_SHARE + PAYMENT,
        "node_wallet": NODE_SHARE - PAYMENT,
        "optimistic_verifier": 2 * TO_VERIFIER,
        "fee_recipient": 2 * TO_PROTOCOL,
    }


def test_verifiers_the_node_cannot_be_paid_through_are_refused_with_the_reason(stack: ProofStack) -> None:
    def reason(subscription_id: int) -> str:
        def found() -> str | None:
            answer = httpx_calls.get(f"{stack.node.url}/api/subscriptions", params={"id": subscription_id}, timeout=5)
            views = answer.json()["subscriptions"]
            return str(views[0]["reason"]) if views and views[0]["reason"] else None

        return wait_until(found, timeout=15, what=f"the node's verdict on subscription {subscription_id}")

    verifier = stack.signature_verifier
    too_cheap, _ = stack.ask(signer.CONTAINER_ID, verifier, amount=MINIMUM + VERIFIER_FEE - 1)
    not_a_verifier, _ = stack.ask(signer.CONTAINER_ID, stack.fee_recipient)
    transact(verifier.functions.setTokenTerms(ZERO_ADDRESS, False, 0))
    try:
        refusing, _ = stack.ask(signer.CONTAINER_ID, verifier)
        refused = reason(refusing)
    finally:
        transact(verifier.functions.setTokenTerms(ZERO_ADDRESS, True, VERIFIER_FEE))

    cheap = reason(too_cheap)
    assert cheap.startswith("Invalid payment") and f"verifier_fee={VERIFIER_FEE}" in cheap, cheap
    assert reason(not_a_verifier).startswith(f"verifier {stack.fee_recipient} does not answer as an IVerifier")
    assert refused == f"verifier {verifier.address} does not accept payment token {ZERO_ADDRESS}"


def test_an_offchain_job_requiring_a_proof_gets_the_signers_signature(stack: ProofStack) -> None:
    response = httpx_calls.post(
        f"{stack.node.url}/api/jobs",
        json={"containers": [signer.CONTAINER_ID], "data": {"text": PROMPT}, "requires_proof": True},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    record = wait_for_job(stack.node.url, response.json()["id"])
    assert record["status"] == "success", record
    answer = record["result"]["output"]
    proof = bytes.fromhex(answer.pop("proof"))
    assert proof[:32] == keccak(b"")
    assert proof[32:64] == keccak(json.dumps(answer, sort_keys=True, separators=(",", ":")).encode())
    typed = compute_proof_typed_data(
        subscription_id=0,
        interval=0,
        input_hash=proof[:32],
        output_hash=proof[32:64],
        chain_id=0,
        verifier=ZERO_ADDRESS,
    )
    assert Account.recover_message(encode_typed_data(full_message=typed), signature=proof[64:]) == stack.trusted_signer


async def test_a_payment_wallet_the_node_does_not_own_refuses_the_escrow_by_name(stack: ProofStack) -> None:
    """The node's approve is simulated first: a wallet owned by someone else is named, and nothing is sent."""
    strangers = _created_wallet(stack.w3, stack.deployment, dev_account(USER).address)
    client = ChainClient(stack.chain.url, stack.deployment.registry)
    await client.connect()
    account = Account.create()
    wallet = NodeWallet(client, SecretStr("0x" + bytes(account.key).hex()), max_gas_limit=1_000_000)
    subscription = Subscription(
        owner=stack.consumer.address,
        active_at=0,
        period=0,
        frequency=1,
        redundancy=1,
        container_id=container_id(signer.CONTAINER_ID),
        verifier=stack.signature_verifier.address,
        payment_amount=PAYMENT,
        wallet=stack.consumer_wallet,
    )
    try:
        with pytest.raises(EscrowRefused, match=f"payment wallet {strangers} refused approve.*: Unauthorized"):
            async with Escrow(client, wallet, strangers).held(1, subscription):
                pytest.fail("a delivery went ahead without its stake covered")
    finally:
        await client.close()
    assert stack.w3.eth.get_transaction_count(account.address) == 0
