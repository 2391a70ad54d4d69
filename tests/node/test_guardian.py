"""Guardian rules for subscriptions and the rate limiter's arithmetic (the HTTP side is in test_api.py)."""

from __future__ import annotations

from eth_utils.address import to_checksum_address

from infernet_kit.node.config import ContainerConfig, RateLimitConfig
from infernet_kit.node.guardian import Guardian, RateLimiter, Rejection

OWNER = "0x" + "aa" * 20
OTHER = "0x" + "bb" * 20
TOKEN = "0x" + "cc" * 20
ZERO = "0x" + "00" * 20


def guardian() -> Guardian:
    containers = [
        ContainerConfig(id="open", port=1),
        ContainerConfig(id="owners", port=2, allowed_addresses=[OWNER], allowed_delegate_addresses=[OTHER]),
        ContainerConfig(id="paid", port=3, accepted_payments={TOKEN: 100, ZERO: 5}),
        ContainerConfig(id="paid2", port=4, accepted_payments={TOKEN: 50}),
        ContainerConfig(id="inner", port=5, external=False),
    ]
    return Guardian({c.id: c for c in containers}, chain_enabled=True)


def check(
    containers: list[str], owner: str = OWNER, *, delegated: bool = False, token: str = ZERO, amount: int = 0
) -> str | None:
    rejection = guardian().judge_subscription(
        containers, owner, delegated=delegated, payment_token=token, payment_amount=amount
    )
    return None if rejection is None else rejection.error


def test_subscription_rules_and_reference_messages() -> None:
    assert check(["open"]) is None
    assert check([]) == "No containers specified"
    assert check(["nope"]) == "Container not supported"
    assert check(["inner"]) == "First container must be external"
    assert check(["open", "inner"]) is None
    assert check(["owners"], OWNER.upper().replace("0X", "0x")) is None
    assert check(["owners"], OTHER) == "Container not allowed for address"
    assert check(["owners"], OTHER, delegated=True) is None
    assert check(["owners"], OWNER, delegated=True) == "Container not allowed for address"


def test_payments_must_cover_every_container_minimum() -> None:
    assert check(["paid"], token=TOKEN, amount=100) is None
    assert check(["paid"], token=TOKEN, amount=99) == "Invalid payment"
    assert check(["paid"], token=ZERO, amount=5) is None
    assert check(["paid"], token=OTHER, amount=10**18) == "Invalid payment"
    assert check(["paid", "paid2"], token=TOKEN, amount=150) is None
    assert check(["paid", "paid2"], token=TOKEN, amount=149) == "Invalid payment"
    assert check(["paid", "paid2"], token=ZERO, amount=10**18) == "Invalid payment"
    assert check(["open"], token=TOKEN, amount=7) is None


def test_rejections_name_the_values_at_fault() -> None:
    """What the chain listener logs and reports: the reference reason plus the values that decided it."""
    judge = guardian().judge_subscription
    not_allowed = judge(["open", "owners"], OTHER, delegated=False, payment_token=ZERO, payment_amount=0)
    assert not_allowed is not None and not_allowed.error == "Container not allowed for address"
    assert not_allowed.params == {
        "container": "owners",
        "owner": to_checksum_address(OTHER),
        "allowed_addresses": [to_checksum_address(OWNER)],
    }
    short = judge(["paid", "paid2"], OWNER, delegated=False, payment_token=TOKEN, payment_amount=149)
    assert short is not None and short.error == "Invalid payment"
    assert (short.params["payment_amount"], short.params["required"]) == (149, 150)
    # A verifier asks for proofs: only containers that generate them can serve it.
    verifier = "0x" + "dd" * 20
    no_proofs = judge(["open"], OWNER, delegated=False, payment_token=ZERO, payment_amount=0, verifier=verifier)
    assert no_proofs is not None and no_proofs.error == "Container does not generate proof"
    assert no_proofs.params == {"container": "open", "verifier": verifier}
    proving = Guardian({"zk": ContainerConfig(id="zk", port=1, generates_proofs=True)}, chain_enabled=True)
    served = proving.judge_subscription(
        ["zk"], OWNER, delegated=False, payment_token=ZERO, payment_amount=0, verifier=verifier
    )
    assert served is None
    # The verifier's fee comes out of the payment: what is left must still cover the containers' minimums.
    paid = Guardian(
        {"zk": ContainerConfig(id="zk", port=1, generates_proofs=True, accepted_payments={ZERO: 100})},
        chain_enabled=True,
    )

    def with_fee(fee: int) -> Rejection | None:
        return paid.judge_subscription(
            ["zk"], OWNER, delegated=False, payment_token=ZERO, payment_amount=150, verifier=verifier, verifier_fee=fee
        )

    assert with_fee(50) is None
    dear = with_fee(51)
    assert dear is not None and dear.error == "Invalid payment"
    assert dear.params == {"payment_amount": 150, "required": 100, "payment_token": ZERO, "verifier_fee": 51}


def test_rate_limiter_refills_over_time() -> None:
    limiter = RateLimiter(RateLimitConfig(num_requests=2, period=10))
    assert [limiter.allow("a", now=0.0) for _ in range(3)] == [True, True, False]
    assert limiter.allow("b", now=0.0)
    assert not limiter.allow("a", now=4.0)
    assert limiter.allow("a", now=5.0)
    assert not limiter.allow("a", now=5.0)
    assert limiter.allow("a", now=100.0) and limiter.allow("a", now=100.0) and not limiter.allow("a", now=100.0)
