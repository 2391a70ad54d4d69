"""`interval_at` agrees with the deployed coordinator's `getSubscriptionInterval` at chain time."""

from __future__ import annotations

import pytest

from infernet_kit.chain.deploy import Deployment
from infernet_kit.chain.encoding import UINT32_MAX, interval_at
from infernet_kit.devstack.anvil import Anvil


@pytest.mark.parametrize(
    ("offset", "period"),
    [(0, 0), (-50, 0), (50, 3), (0, 3), (-1, 3), (-2, 3), (-3, 3), (-3000, 7), (-(2**31), 1)],
)
def test_interval_matches_the_coordinator(
    anvil: Anvil, infernet_deployment: Deployment, offset: int, period: int
) -> None:
    coordinator = infernet_deployment.contract(anvil.w3, "EIP712Coordinator")
    block = anvil.w3.eth.get_block("latest")
    active_at = min(max(block["timestamp"] + offset, 0), UINT32_MAX)
    on_chain = coordinator.functions.getSubscriptionInterval(active_at, period).call(block_identifier=block["number"])
    assert interval_at(active_at, period, block["timestamp"]) == on_chain
