"""Deploy the Infernet core and the example consumers from Python, mirroring scripts/Deploy.s.sol.

The core goes out in the reference order from one account, so the deployer's nonce fixes every
address: deployed from anvil account #2 at nonce 0, the Registry lands where existing example
consumers expect it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from web3 import Web3
from web3.contract import Contract
from web3.types import Nonce, TxReceipt
from web3.utils import get_create_address

from infernet_kit.chain.artifacts import Artifact, load_artifact
from infernet_kit.chain.transactions import mined, send, signing_as, transact
from infernet_kit.paths import project_root, stack_file

# Deployed contract name for each core role, in deployment order (the Registry is constructed first
# with the addresses the others will get).
CORE_CONTRACTS: dict[str, str] = {
    "registry": "Registry",
    "coordinator": "EIP712Coordinator",
    "inbox": "Inbox",
    "reader": "Reader",
    "fee": "Fee",
    "wallet_factory": "WalletFactory",
}
EXAMPLE_CONSUMERS = ("TGICallbackConsumer", "HFCallbackConsumer", "RecurringConsumer", "DelegateConsumer")
DEFAULT_FEE_BASIS_POINTS = 500


class Deployment(BaseModel):
    """Where the contracts of one chain live; stored as deployments/<chainid>.json."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    chain_id: int
    deployer: str
    registry: str
    coordinator: str
    inbox: str
    reader: str
    fee: str
    wallet_factory: str
    consumers: dict[str, str] = Field(default_factory=dict)

    def contract(self, w3: Web3, name: str, address: str | None = None) -> Contract:
        """A web3 contract for `name` at `address`, or at this deployment's address for that role."""
        roles = {contract: role for role, contract in CORE_CONTRACTS.items()}
        target = address or (getattr(self, roles[name]) if name in roles else self.consumers[name])
        return w3.eth.contract(address=to_checksum_address(target), abi=load_artifact(name).abi)

    def save(self, directory: Path | None = None) -> Path:
        path = deployment_path(self.chain_id, directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.model_dump(by_alias=True), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, chain_id: int, directory: Path | None = None) -> Deployment:
        path = deployment_path(chain_id, directory)
        if not path.is_file():
            raise FileNotFoundError(f"no deployment for chain {chain_id} at {path}: run `infernet-kit deploy`")
        return cls.model_validate_json(path.read_text())


def deployment_path(chain_id: int, directory: Path | None = None) -> Path:
    return (directory or project_root() / "deployments") / f"{chain_id}.json"


class DeploymentInUse(RuntimeError):
    """Deploying would replace the deployments file of a stack that is running."""


class StackRecord(BaseModel):
    """What `infernet-kit up` records of its chain in the state dir (the dev stack's record extends it)."""

    rpc_url: str
    chain_id: int


def _answers_chain(rpc_url: str, chain_id: int) -> bool:
    try:
        return Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 2})).eth.chain_id == chain_id
    except Exception:  # any failure to answer means no live chain there
        return False


def ensure_replaceable(chain_id: int, directory: Path | None = None, *, force: bool = False) -> Path:
    """The deployments file to write for `chain_id`; raises `DeploymentInUse` when a stack recorded in the
    state dir is alive on that chain and serves that file, unless `force` (its nodes would keep serving the
    old contracts while the scripts read the new ones)."""
    path = deployment_path(chain_id, directory)
    record = stack_file()
    if force or not record.is_file():
        return path
    stack = StackRecord.model_validate_json(record.read_text())
    if stack.chain_id == chain_id and path == deployment_path(chain_id) and _answers_chain(stack.rpc_url, chain_id):
        raise DeploymentInUse(
            f"{path} belongs to the stack running at {stack.rpc_url} (recorded in {record}); its nodes serve "
            "those contracts. Stop it with `infernet-kit down`, or pass --force to replace the file anyway"
        )
    return path


def deploy(
    w3: Web3,
    deployer: LocalAccount,
    *,
    fee_recipient: str | None = None,
    fee_basis_points: int = DEFAULT_FEE_BASIS_POINTS,
    delegate_signer: str | None = None,
    examples: bool = True,
) -> Deployment:
    """Deploy the core (and the example consumers) from `deployer`; returns where everything is."""
    sender = signing_as(w3, deployer)
    start = w3.eth.get_transaction_count(deployer.address)
    planned = {
        role: str(get_create_address(deployer.address, Nonce(start + i))) for i, role in enumerate(CORE_CONTRACTS)
    }
    constructor_args: dict[str, tuple[Any, ...]] = {
        "registry": (
            planned["coordinator"],
            planned["inbox"],
            planned["reader"],
            planned["fee"],
            planned["wallet_factory"],
        ),
        "coordinator": (planned["registry"],),
        "inbox": (planned["registry"],),
        "reader": (planned["registry"],),
        "fee": (fee_recipient or deployer.address, fee_basis_points),
        "wallet_factory": (planned["registry"],),
    }
    # The Registry first: the other constructors read it. Then the rest of the core, then the consumers (which
    # ask the Registry for the Coordinator), each wave sent at once so that it lands in one block.
    deployed = _deploy_together(sender, {"registry": (CORE_CONTRACTS["registry"], constructor_args["registry"])})
    rest = [role for role in CORE_CONTRACTS if role != "registry"]
    deployed |= _deploy_together(sender, {role: (CORE_CONTRACTS[role], constructor_args[role]) for role in rest})
    if deployed != planned:
        raise RuntimeError(f"core addresses differ from the planned ones: {deployed} != {planned}")
    consumers: dict[str, tuple[str, tuple[Any, ...]]] = {}
    if examples:
        for name in EXAMPLE_CONSUMERS:
            args: tuple[Any, ...] = (planned["registry"],)
            if name == "DelegateConsumer":
                args += (delegate_signer or deployer.address,)
            consumers[name] = (name, args)
    return Deployment(
        chain_id=w3.eth.chain_id,
        deployer=deployer.address,
        consumers=_deploy_together(sender, consumers),
        **deployed,
    )


def _deploy_together(w3: Web3, contracts: dict[str, tuple[str, tuple[Any, ...]]]) -> dict[str, str]:
    """Deploy each `key: (contract name, constructor args)` from `w3`'s default account, all sent before any
    is waited for (on a chain with a block time, one block instead of one per contract); their addresses by key."""
    sent = {
        key: send(
            w3.eth.contract(abi=(artifact := load_artifact(name)).abi, bytecode=artifact.bytecode).constructor(*args)
        )
        for key, (name, args) in contracts.items()
    }
    return {key: _created_address(mined(w3, tx_hash), contracts[key][0]) for key, tx_hash in sent.items()}


def _created_address(receipt: TxReceipt, name: str) -> ChecksumAddress:
    address = receipt["contractAddress"]
    if address is None:
        raise RuntimeError(f"deploying {name} created no contract")
    return address


def deploy_artifact(w3: Web3, artifact: Artifact, *args: Any) -> Contract:
    """Deploy a compiled contract from `w3`'s default account (see `transactions.connect`)."""
    receipt = transact(w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode).constructor(*args))
    return w3.eth.contract(address=_created_address(receipt, artifact.name), abi=artifact.abi)
