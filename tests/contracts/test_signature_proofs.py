"""Proofs made by the Python codec are the ones the on-chain `SignatureVerifier` accepts (docs/PROOFS.md)."""

from __future__ import annotations

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from infernet_kit.chain.accounts import USER, dev_account, dev_key
from infernet_kit.chain.artifacts import load_artifact
from infernet_kit.chain.deploy import Deployment, deploy_artifact
from infernet_kit.chain.encoding import pack_pair, signature_proof
from infernet_kit.chain.transactions import connect
from infernet_kit.devstack.anvil import Anvil

PROOF_SIGNER = dev_account(9)


def test_signature_verifier_accepts_python_proofs_and_only_them(anvil: Anvil, infernet_deployment: Deployment) -> None:
    w3 = connect(anvil.url, dev_key(USER))
    owner = dev_account(USER).address
    verifier = deploy_artifact(
        w3, load_artifact("SignatureVerifier"), infernet_deployment.registry, owner, owner, PROOF_SIGNER.address
    )
    chain_id = w3.eth.chain_id
    input_bytes = encode(["string"], ["Is the sky blue?"])
    output_bytes = pack_pair(encode(["string"], ["yes"]).hex(), "")

    def proof(subscription_id: int, key: str) -> bytes:
        return signature_proof(
            subscription_id,
            1,
            input_bytes,
            output_bytes,
            chain_id=chain_id,
            verifier=verifier.address,
            private_key=key,
        )

    good = proof(5, PROOF_SIGNER.key.hex())
    assert len(good) == 129
    valid, signer, input_hash, output_hash = verifier.functions.check(5, 1, good).call()
    assert (valid, signer) == (True, PROOF_SIGNER.address)
    assert (input_hash, output_hash) == (keccak(input_bytes), keccak(output_bytes))
    # Another subscription, an untrusted key, a truncated proof: all invalid.
    assert verifier.functions.check(6, 1, good).call()[0] is False
    rogue = proof(5, dev_account(8).key.hex())
    assert verifier.functions.check(5, 1, rogue).call()[:2] == [False, dev_account(8).address]
    assert verifier.functions.check(5, 1, good[:-1]).call()[:2] == [False, "0x" + "00" * 20]
