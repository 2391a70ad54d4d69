"""The deployed contracts speak Infernet SDK v1.1: reference addresses, error selectors, EIP-712 hashes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak
from web3 import Web3

from infernet_kit.chain.accounts import DEPLOYER, USER, dev_account, dev_key
from infernet_kit.chain.artifacts import load_artifact
from infernet_kit.chain.deploy import EXAMPLE_CONSUMERS, Deployment, deploy_artifact, deployment_path
from infernet_kit.chain.encoding import (
    ZERO_ADDRESS,
    Subscription,
    container_id,
    delegate_typed_data,
    error_selectors,
    sign_delegate_subscription,
)
from infernet_kit.chain.transactions import connect, transact
from infernet_kit.chain.watch import created_subscription_id
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.paths import foundry_tool, project_root

REFERENCE_ADDRESSES = {
    "registry": "0x663F3ad617193148711d28f5334eE4Ed07016602",
    "coordinator": "0x2E983A1Ba5e8b38AAAeC4B440B9dDcFBf72E15d1",
    "inbox": "0x8438Ad1C834623CfF278AB6829a248E37C2D7E3f",
    "reader": "0xBC9129Dc0487fc2E169941C75aABC539f208fb01",
    "fee": "0x6e989C01a3e3A94C973A62280a72EC335598490e",
    "wallet_factory": "0xF6168876932289D073567f347121A267095f3DD6",
}

REFERENCE_SELECTORS = {
    "InvalidWallet": "23455ba1",
    "IntervalMismatch": "4db310c3",
    "IntervalCompleted": "2f4ca85b",
    "UnauthorizedVerifier": "b9857aa1",
    "NodeRespondedAlready": "88a21e4f",
    "SubscriptionNotFound": "1a00354f",
    "ProofRequestNotFound": "1d68b37c",
    "NotSubscriptionOwner": "a7fba711",
    "SubscriptionCompleted": "ae6704a7",
    "SubscriptionNotActive": "efb74efe",
    "UnsupportedVerifierToken": "e2372799",
    "SignerMismatch": "10c74b03",
    "SignatureExpired": "0819bdcd",
    "NotCoordinator": "9ec853e6",
    "NodeNotAllowed": "42764946",
    "InsufficientFunds": "356680b7",
    "InsufficientAllowance": "13be252b",
}

# PROTOCOL.md section 1 (EIP-712): the SDK's typehashes.
SUBSCRIPTION_TYPEHASH = "3da81ed66ee47395e568c52867826ec137777eef9c1bdfb6bf972dd4385bc5a9"
DELEGATE_TYPEHASH = "ba9ff1aef2b048b42767aade2b901745a3acf14f698a9ec13952098cfd03d0b6"


def _encode_type(primary: str, types: dict[str, list[dict[str, str]]]) -> str:
    """EIP-712 `encodeType`: the primary type, then the types it references, sorted by name."""
    referenced: set[str] = set()
    pending = [primary]
    while pending:
        for field in types[pending.pop()]:
            kind = field["type"].split("[")[0]
            if kind in types and kind not in referenced and kind != primary:
                referenced.add(kind)
                pending.append(kind)

    def one(name: str) -> str:
        members = ",".join(field["type"] + " " + field["name"] for field in types[name])
        return f"{name}({members})"

    return one(primary) + "".join(one(name) for name in sorted(referenced))


def test_core_lands_at_the_reference_addresses(anvil: Anvil, infernet_deployment: Deployment) -> None:
    deployed = infernet_deployment.model_dump(include=set(REFERENCE_ADDRESSES))
    assert deployed == REFERENCE_ADDRESSES
    registry = infernet_deployment.contract(anvil.w3, "Registry")
    assert registry.functions.COORDINATOR().call() == REFERENCE_ADDRESSES["coordinator"]
    assert registry.functions.INBOX().call() == REFERENCE_ADDRESSES["inbox"]
    assert registry.functions.READER().call() == REFERENCE_ADDRESSES["reader"]
    assert registry.functions.FEE().call() == REFERENCE_ADDRESSES["fee"]
    assert registry.functions.WALLET_FACTORY().call() == REFERENCE_ADDRESSES["wallet_factory"]
    for address in REFERENCE_ADDRESSES.values():
        assert len(anvil.w3.eth.get_code(Web3.to_checksum_address(address))) > 0


def test_custom_error_selectors_match_the_sdk() -> None:
    names = ["EIP712Coordinator", "CallbackConsumer", "Delegator", "Allowlist", "Wallet", "WalletFactory"]
    selectors = {name: selector for n in names for selector, name in error_selectors(load_artifact(n).abi).items()}
    assert {name: selectors.get(name, b"").hex() for name in REFERENCE_SELECTORS} == REFERENCE_SELECTORS


def test_container_id_hashing_matches_the_test_vector() -> None:
    expected = "5768661526084c7b4d30f7224ed6c74ade98db3c6c395c55400a17f34a547e22"
    assert container_id("hello-world").hex() == expected
    assert container_id(["a", "b"]) == keccak(encode(["string"], ["a,b"]))


def test_eip712_typehashes_match_the_sdk() -> None:
    """The types our signer signs (the code's own definition) hash to the SDK's typehashes."""
    sub = Subscription(
        owner=ZERO_ADDRESS, active_at=0, period=0, frequency=1, redundancy=1, container_id=container_id("any")
    )
    typed = delegate_typed_data(sub, nonce=0, expiry=0, chain_id=1, coordinator=ZERO_ADDRESS)
    types = typed["types"]
    assert keccak(text=_encode_type("Subscription", types)).hex() == SUBSCRIPTION_TYPEHASH
    assert keccak(text=_encode_type(typed["primaryType"], types)).hex() == DELEGATE_TYPEHASH


def test_coordinator_accepts_a_python_signed_delegated_subscription(
    anvil: Anvil, infernet_deployment: Deployment
) -> None:
    """The on-chain domain separator and typehashes equal ours: the coordinator recovers our signer."""
    signer = dev_account(DEPLOYER)  # DelegateConsumer's signer as deployed
    owner = infernet_deployment.consumers["DelegateConsumer"]
    sub = Subscription(
        owner=owner,
        active_at=0,
        period=0,
        frequency=1,
        redundancy=1,
        container_id=container_id("tgi_client_inference_service"),
    )
    expiry = anvil.timestamp() + 600
    nonce = 7
    signature = sign_delegate_subscription(
        sub,
        nonce=nonce,
        expiry=expiry,
        chain_id=anvil.w3.eth.chain_id,
        coordinator=infernet_deployment.coordinator,
        private_key=signer.key,
    )
    w3 = connect(anvil.url, dev_key(USER))
    coordinator = infernet_deployment.contract(w3, "EIP712Coordinator")
    create = coordinator.functions.createSubscriptionDelegatee(
        nonce, expiry, sub.as_tuple(), signature.v, signature.r.to_bytes(32), signature.s.to_bytes(32)
    )
    receipt = transact(create)
    subscription_id = created_subscription_id(coordinator, receipt)
    stored = Subscription.from_tuple(coordinator.functions.getSubscription(subscription_id).call())
    assert stored == sub
    # Replaying the same (owner, nonce) returns the same id and creates nothing.
    assert create.call() == subscription_id
    assert coordinator.functions.id().call() == subscription_id + 1


def test_an_unknown_subscription_reads_all_zero(anvil: Anvil, infernet_deployment: Deployment) -> None:
    """As the SDK: an id never created is a zeroed struct (redundancy 0 too, though it is stored minus one)."""
    coordinator = infernet_deployment.contract(anvil.w3, "EIP712Coordinator")
    unknown = coordinator.functions.id().call() + 1000
    assert coordinator.functions.getSubscription(unknown).call() == (
        ZERO_ADDRESS,
        0,
        0,
        0,
        0,
        b"\x00" * 32,
        False,
        ZERO_ADDRESS,
        0,
        ZERO_ADDRESS,
        ZERO_ADDRESS,
    )


def test_an_sdk_consumer_compiles_with_only_the_remapping_and_works(
    anvil: Anvil, infernet_deployment: Deployment
) -> None:
    """Seed 000's consumer, kept as written there, built by py-solc-x with the SDK remapping only."""
    from infernet_kit.chain.compiler import compile_file

    seed_consumer = project_root() / "contracts" / "test" / "fixtures" / "SeedConsumer.sol"
    artifact = compile_file(seed_consumer)["MyOnchainSubscription"]
    w3 = connect(anvil.url, dev_key(USER))
    consumer = deploy_artifact(w3, artifact, infernet_deployment.registry)
    coordinator = infernet_deployment.contract(w3, "EIP712Coordinator")
    request = transact(consumer.functions.chatWithLLM(encode(["string"], ["Is the sky blue during a clear day?"])))
    stored = Subscription.from_tuple(
        coordinator.functions.getSubscription(created_subscription_id(coordinator, request)).call()
    )
    assert stored.owner == consumer.address
    assert stored.container_id == container_id("my-container")
    assert (stored.frequency, stored.period, stored.redundancy, stored.lazy) == (1, 0, 1, False)
    assert stored.wallet == ZERO_ADDRESS


@pytest.fixture
def fresh_anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    """A second chain with its own id, so the forge script's deployments file cannot clobber another."""
    with Anvil(log_path=tmp_path_factory.mktemp("fresh-anvil") / "anvil.log", chain_id=FORGE_CHAIN_ID) as chain:
        yield chain
    deployment_path(FORGE_CHAIN_ID).unlink(missing_ok=True)


FORGE_CHAIN_ID = 31_338


def test_forge_script_and_python_deployer_agree(fresh_anvil: Anvil, infernet_deployment: Deployment) -> None:
    """scripts/Deploy.s.sol from the same account on a fresh chain puts every contract where Python did,
    and writes the same deployments file."""
    deployer_key = dev_key(DEPLOYER)
    result = subprocess.run(
        [str(foundry_tool("forge")), "script", "scripts/Deploy.s.sol", "--rpc-url", fresh_anvil.url, "--broadcast"],
        cwd=project_root(),
        env={**os.environ, "PRIVATE_KEY": deployer_key},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert deployer_key.removeprefix("0x") not in result.stdout + result.stderr
    forge_side = Deployment.load(FORGE_CHAIN_ID)
    assert forge_side.model_dump(exclude={"chain_id"}) == infernet_deployment.model_dump(exclude={"chain_id"})


def test_deploy_script_writes_the_reference_deployment(fresh_anvil: Anvil, tmp_path: Path) -> None:
    """scripts/deploy.py from anvil account #2 on a fresh chain: the reference addresses, in a file."""
    result = subprocess.run(
        [sys.executable, "scripts/deploy.py", "--rpc-url", fresh_anvil.url, "--deployments-dir", str(tmp_path)],
        cwd=project_root(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    printed = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert {role: printed[role] for role in ("registry", "coordinator")} == {
        "registry": REFERENCE_ADDRESSES["registry"],
        "coordinator": REFERENCE_ADDRESSES["coordinator"],
    }
    written = Deployment.load(FORGE_CHAIN_ID, tmp_path)
    assert written.model_dump(include=set(REFERENCE_ADDRESSES)) == REFERENCE_ADDRESSES
    assert set(written.consumers) == set(EXAMPLE_CONSUMERS)


def test_deploy_script_names_an_unreachable_rpc(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "scripts/deploy.py", "--rpc-url", "http://127.0.0.1:9", "--deployments-dir", str(tmp_path)],
        cwd=project_root(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error:") and "127.0.0.1:9" in result.stderr
    assert list(tmp_path.iterdir()) == []
