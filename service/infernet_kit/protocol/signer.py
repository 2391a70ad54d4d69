"""The proof-signing example service on the wire: the TGI client service's answer plus a `SignatureVerifier` proof.

It takes what the TGI service takes (`abi.encode(string prompt)` on chain, `{"text"}` off chain) and answers the
same, with `proof` set when the node asks for one (`requires_proof`): a signature by `SIGNER_KEY_ENV`'s key over
the delivery's interval and the hashes of its input and output (docs/PROOFS.md). A node serving it declares the
container with `generates_proofs: true`.
"""

from __future__ import annotations

from infernet_kit.protocol import tgi
from infernet_kit.protocol.service import ServiceEntry

KIND = "signer"
CONTAINER_ID = "signer_inference_service"
CAPABILITY_TYPE = "signed_tgi_client"
# The signing key: 32 bytes of hex. Read once at start, never logged (only the signer's address is).
SIGNER_KEY_ENV = "SIGNER_PRIVATE_KEY"
# The dev stack's signer: anvil's public development account 9 (never use it on a real network).
DEV_SIGNER_KEY = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"


def dev_env(server_url: str) -> dict[str, str]:
    """The dev stack's signer: the TGI dev environment against `server_url`, signing with the dev key."""
    return {**tgi.dev_env(server_url), SIGNER_KEY_ENV: DEV_SIGNER_KEY}


SERVICE = ServiceEntry(
    kind=KIND,
    container_id=CONTAINER_ID,
    description="TGI client service whose answers carry a SignatureVerifier proof",
    app="infernet_kit.services.signer:create_app",
    settings="infernet_kit.services.signer:load_signer_settings",
    dev_env=dev_env,
    image_words=("signer",),
    generates_proofs=True,
)
