"""The chain side's pure parts: config, container lookup, output packing, the state store."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from pydantic import ValidationError

from infernet_kit.chain.encoding import Signature, Subscription, container_id, unpack_pair
from infernet_kit.node.chain.config import ChainConfig
from infernet_kit.node.chain.lookup import ContainerLookup
from infernet_kit.node.chain.processor import BadOutput, pack_output
from infernet_kit.node.chain.store import (
    ChainStore,
    DelegatedRecord,
    DelegatedRequest,
    DeliveryRecord,
    DeliveryStatus,
)

KEY = "0x" + "ab" * 32
REGISTRY = "0x663F3ad617193148711d28f5334eE4Ed07016602"


def test_enabled_chain_config_names_missing_keys() -> None:
    with pytest.raises(ValidationError) as caught:
        ChainConfig.model_validate({"enabled": True, "rpc_url": "http://127.0.0.1:8545"})
    message = str(caught.value)
    assert "registry_address" in message and "wallet.private_key" in message


def test_private_key_never_shows() -> None:
    config = ChainConfig.model_validate(
        {"enabled": True, "rpc_url": "http://x", "registry_address": REGISTRY, "wallet": {"private_key": KEY[2:]}}
    )
    assert config.wallet.private_key is not None
    assert config.wallet.private_key.get_secret_value() == KEY
    assert "ab" * 32 not in repr(config) and "ab" * 32 not in str(config.model_dump())
    with pytest.raises(ValidationError) as caught:
        ChainConfig.model_validate({"wallet": {"private_key": "0x1234"}})
    assert "64 hex digits" in caught.value.errors(include_input=False)[0]["msg"]


def test_reference_defaults_and_payment_address() -> None:
    config = ChainConfig.model_validate({"wallet": {"payment_address": REGISTRY.lower()}})
    assert config.enabled is False
    assert config.snapshot_sync.batch_size == 500 and config.snapshot_sync.sync_period == 0.5
    assert config.wallet.max_gas_limit == 5_000_000
    assert config.wallet.node_wallet == REGISTRY


def test_lookup_maps_hashes_to_chains() -> None:
    lookup = ContainerLookup(["hello-world", "b"])
    assert lookup.containers(bytes.fromhex("5768661526084c7b4d30f7224ed6c74ade98db3c6c395c55400a17f34a547e22")) == [
        "hello-world"
    ]
    assert lookup.containers(container_id("b,hello-world")) == ["b", "hello-world"]
    assert lookup.containers(container_id("c")) is None
    assert len(lookup) == 4


class _Output:
    def __init__(self, output: object) -> None:
        self.container = "tgi"
        self.output = output


def test_pack_output_wraps_raw_and_processed() -> None:
    packed = pack_output([_Output({"raw_input": "01", "processed_input": "", "raw_output": "abcd", "proof": "ff"})])
    assert unpack_pair(packed.input) == (b"\x01", b"")
    assert unpack_pair(packed.output) == (b"\xab\xcd", b"")
    assert packed.proof == b"\xff"
    with pytest.raises(BadOutput, match="did not answer with on-chain output"):
        pack_output([_Output({"raw_output": "not hex"})])
    with pytest.raises(BadOutput):
        pack_output([_Output("plain text")])


async def test_store_round_trips(tmp_path: Path) -> None:
    store = ChainStore(tmp_path / "chain.sqlite")
    await store.open()
    sub = Subscription(
        owner=REGISTRY, active_at=5, period=3, frequency=2, redundancy=1, container_id=container_id("tgi")
    )
    await store.track({7: sub}, cursor=9)
    await store.save_delivery(DeliveryRecord(subscription_id=7, interval=1, status=DeliveryStatus.SENT, tx_hash="0x1"))
    request = DelegatedRequest(subscription=sub, signature=Signature(nonce=1, expiry=9, v=27, r=1, s=2), data={"a": 1})
    await store.save_delegated(DelegatedRecord(request=request, status=DeliveryStatus.RUNNING))
    await store.close()

    reopened = ChainStore(tmp_path / "chain.sqlite")
    await reopened.open()
    assert await reopened.tracked() == {7: sub}
    assert await reopened.get_state("cursor") == "9"
    sent = await reopened.deliveries([DeliveryStatus.SENT])
    assert [(r.subscription_id, r.interval, r.tx_hash) for r in sent] == [(7, 1, "0x1")]
    assert [r.request for r in await reopened.unfinished_delegated()] == [request]
    await reopened.reset()
    assert await reopened.tracked() == {}
    await reopened.close()


async def test_deliveries_saved_together_are_all_on_disk_when_each_save_returns(tmp_path: Path) -> None:
    """Saves made at once share one transaction; each still returns only once its record is committed, and
    a save that cannot be written fails for its caller."""
    store = ChainStore(tmp_path / "chain.sqlite")
    await store.open()
    records = [
        DeliveryRecord(subscription_id=i, interval=1, status=DeliveryStatus.SENT, tx_hash=f"0x{i}") for i in range(50)
    ]
    await asyncio.gather(*(store.save_delivery(record) for record in records))
    other = sqlite3.connect(tmp_path / "chain.sqlite")  # another connection sees only what was committed
    assert other.execute("SELECT COUNT(*) FROM chain_deliveries").fetchone() == (50,)
    other.close()
    await store.close()
    with pytest.raises(RuntimeError, match="not open"):
        await store.save_delivery(records[0])
