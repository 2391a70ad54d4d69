"""The proof-signing example service: the TGI client service's answer, signed for the `SignatureVerifier`.

On chain, the proof covers exactly the bytes the node delivers (`abi.encode(raw, processed)` of the input and of
the output) for the chain, verifier and interval the node names in the request's `proof_target`; without one (an
off-chain job) the target is all zeros, the input empty and the output the answer's JSON (keys sorted, compact).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from eth_account import Account
from pydantic import BaseModel, ConfigDict, SecretStr

from infernet_kit.chain.encoding import ZERO_ADDRESS, pack_pair, signature_proof
from infernet_kit.config import ConfigError
from infernet_kit.protocol import JobLocation, OnchainOutput, ProofTarget, ServiceRequest
from infernet_kit.protocol import signer as wire
from infernet_kit.services.app import ServiceApp
from infernet_kit.services.errors import bad_request
from infernet_kit.services.settings import TGISettings, load_tgi_settings
from infernet_kit.services.tgi import TGIService

log = logging.getLogger("infernet_kit.services")
OFFCHAIN_TARGET = ProofTarget(chain_id=0, verifier=ZERO_ADDRESS, subscription_id=0, interval=0)


class SignerSettings(BaseModel):
    """The TGI settings it generates with, and the key it signs with (a SecretStr: it never prints)."""

    model_config = ConfigDict(frozen=True)

    tgi: TGISettings
    key: SecretStr


def load_signer_settings(environ: Mapping[str, str] | None = None) -> SignerSettings:
    """The TGI service's environment plus `SIGNER_PRIVATE_KEY`; `ConfigError` naming the variable (never the key)."""
    env = dict(os.environ if environ is None else environ)
    raw = env.get(wire.SIGNER_KEY_ENV, "").strip().removeprefix("0x")
    if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
        raise ConfigError(f"environment variable {wire.SIGNER_KEY_ENV}: must be 32 bytes of hex (64 hex digits)")
    return SignerSettings(tgi=load_tgi_settings(env), key=SecretStr("0x" + raw.lower()))


class SignerService(TGIService):
    """Generates like the TGI service; a request with `requires_proof` gets its answer signed."""

    service_id = wire.CONTAINER_ID
    capability_type = wire.CAPABILITY_TYPE
    proofs_message = None

    def __init__(self, settings: SignerSettings) -> None:
        super().__init__(settings.tgi)
        self._key = settings.key
        self.signer = str(Account.from_key(settings.key.get_secret_value()).address)

    def describe(self) -> str:
        return f"signer={self.signer} {super().describe()}"

    async def answer(self, request: ServiceRequest) -> Any:
        answer = await super().answer(request)
        if not request.requires_proof:
            return answer
        if request.destination == JobLocation.ONCHAIN:
            output = OnchainOutput.model_validate(answer)
            proof = self._sign(
                request,
                pack_pair(output.raw_input, output.processed_input),
                pack_pair(output.raw_output, output.processed_output),
            )
            return output.model_copy(update={"proof": proof.hex()}).model_dump()
        signed = json.dumps(answer, sort_keys=True, separators=(",", ":")).encode()
        return {**answer, "proof": self._sign(request, b"", signed).hex()}

    def _sign(self, request: ServiceRequest, input: bytes, output: bytes) -> bytes:
        target = request.proof_target or OFFCHAIN_TARGET
        proof = signature_proof(
            target.subscription_id,
            target.interval,
            input,
            output,
            chain_id=target.chain_id,
            verifier=target.verifier,
            private_key=self._key.get_secret_value(),
        )
        log.info(
            "signed subscription=%d interval=%d for verifier %s as %s",
            target.subscription_id,
            target.interval,
            target.verifier,
            self.signer,
        )
        return proof

    async def open_stream(self, request: ServiceRequest) -> AsyncIterator[bytes]:
        if request.requires_proof:
            raise bad_request("a stream carries no proof: ask for an off-chain or on-chain answer", "ProofsNotStreamed")
        return await super().open_stream(request)


def create_app() -> ServiceApp:
    """ASGI app factory (`uvicorn --factory`): settings from the environment."""
    return ServiceApp(SignerService(load_signer_settings()))
