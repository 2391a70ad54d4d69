"""`Subscription` in the seeds' form: container hash, REST serialisation and an EIP-712 signature that recovers."""

from __future__ import annotations

import pytest
from eth_account import Account

from infernet_kit.chain.encoding import ZERO_ADDRESS, recover_delegate_signer
from infernet_kit.client.chain_utils import Subscription
from infernet_kit.client.onchain import subscription_from_params
from infernet_kit.config import ConfigError, parse_json

from .conftest import SEED_PARAMS

OWNER = "0x663F3ad617193148711d28f5334eE4Ed07016602"
HELLO_WORLD_ID = "0x5768661526084c7b4d30f7224ed6c74ade98db3c6c395c55400a17f34a547e22"


def seed_subscription(**overrides: object) -> Subscription:
    fields: dict[str, object] = {
        "owner": OWNER,
        "active_at": 1_700_000_000,
        "period": 0,
        "frequency": 1,
        "redundancy": 1,
        "containers": ["hello-world"],
        "lazy": False,
        "verifier": ZERO_ADDRESS,
        "payment_amount": 0,
        "payment_token": ZERO_ADDRESS,
        "wallet": ZERO_ADDRESS,
    }
    fields.update(overrides)
    return Subscription(**fields)  # type: ignore[arg-type]


def test_serialized_is_the_rest_body_with_the_container_hash() -> None:
    body = seed_subscription().serialized
    assert body["containers"] == HELLO_WORLD_ID
    assert list(body) == [
        "owner", "active_at", "period", "frequency", "redundancy", "containers",
        "lazy", "verifier", "payment_amount", "payment_token", "wallet",
    ]  # fmt: skip


def test_positional_construction_like_the_official_client() -> None:
    sub = Subscription(OWNER, 0, 3, 2, 2, ["a", "b"], False, ZERO_ADDRESS, 0, ZERO_ADDRESS, ZERO_ADDRESS)
    assert sub.struct.container_id == seed_subscription(containers=["a,b"]).struct.container_id


def test_signature_recovers_to_the_signer() -> None:
    signer = Account.create()
    sub = seed_subscription()
    signature = sub.sign(nonce=7, expiry=1_800_000_000, chain_id=31337, coordinator=OWNER, private_key=signer.key.hex())
    assert recover_delegate_signer(sub.struct, signature, chain_id=31337, coordinator=OWNER) == signer.address
    # A different chain id must not verify as the same signer.
    assert recover_delegate_signer(sub.struct, signature, chain_id=1, coordinator=OWNER) != signer.address


def test_seed_params_file_parses_as_printed() -> None:
    params = parse_json(SEED_PARAMS % {"owner": OWNER, "container": "tgi_client_inference_service"}, source="p")
    sub = subscription_from_params(params, "params.json")
    assert (sub.period, sub.frequency, sub.redundancy, sub.lazy) == (3, 2, 2, False)
    assert list(sub.containers) == ["tgi_client_inference_service"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [({"redundancy": 70000}, "redundancy"), ({"owner": "0x12"}, "owner"), ({"bogus": 1}, "unknown")],
)
def test_bad_params_name_the_field(change: dict[str, object], fragment: str) -> None:
    params = parse_json(SEED_PARAMS % {"owner": OWNER, "container": "x"}, source="p")
    with pytest.raises(ConfigError, match=fragment):
        subscription_from_params({**params, **change}, "params.json")
