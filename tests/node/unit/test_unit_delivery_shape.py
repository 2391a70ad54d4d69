"""Which deliveries may be sent unsimulated with the gas a like one was mined with: the shape names everything
that moves a delivery's gas by more than the wallet's margin, and is None where the node cannot know it."""

from __future__ import annotations

from infernet_kit.chain.encoding import ZERO_ADDRESS, Subscription, container_id
from infernet_kit.node.chain.processor import Packed, delivery_shape
from infernet_kit.protocol import OnchainOutput

OWNER = "0x" + "ab" * 20
PACKED = Packed(input=b"\x01" * 64, output=b"\x02" * 100, proof=b"", answer=OnchainOutput())


def subscription(**changes: object) -> Subscription:
    fields: dict[str, object] = {
        "owner": OWNER,
        "active_at": 1,
        "period": 10,
        "frequency": 5,
        "redundancy": 1,
        "container_id": container_id("echo"),
        "lazy": False,
        "verifier": ZERO_ADDRESS,
        "payment_amount": 0,
        "payment_token": ZERO_ADDRESS,
        "wallet": ZERO_ADDRESS,
    }
    return Subscription(**{**fields, **changes})  # type: ignore[arg-type]


def test_the_first_interval_is_a_shape_of_its_own() -> None:
    """Its answer count shares the subscription's slot; a later interval's count takes a new one."""
    first, second, third = (delivery_shape(subscription(), interval, PACKED) for interval in (1, 2, 3))
    assert first is not None and second is not None
    assert first != second and second == third


def test_sizes_and_mode_change_the_shape() -> None:
    longer = Packed(input=PACKED.input, output=b"\x02" * 200, proof=b"", answer=OnchainOutput())
    assert delivery_shape(subscription(), 2, longer) != delivery_shape(subscription(), 2, PACKED)
    assert delivery_shape(subscription(lazy=True), 2, PACKED) != delivery_shape(subscription(), 2, PACKED)


def test_deliveries_whose_gas_the_node_cannot_know_are_always_simulated() -> None:
    assert delivery_shape(subscription(redundancy=2), 2, PACKED) is None  # which node opens the count is a race
    assert delivery_shape(subscription(payment_amount=1), 2, PACKED) is None
    assert delivery_shape(subscription(verifier="0x" + "cd" * 20), 2, PACKED) is None
