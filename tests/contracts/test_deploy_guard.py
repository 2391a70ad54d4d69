"""`ensure_replaceable`: the deploy commands' check before writing deployments/<chainid>.json. Refused only when a
stack recorded in the state dir is alive on that chain and serves that file; a dead or other chain, another
folder, or `force` go ahead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infernet_kit.chain.deploy import DeploymentInUse, deployment_path, ensure_replaceable
from infernet_kit.devstack.anvil import LOCAL_CHAIN_ID, Anvil
from infernet_kit.paths import STATE_ENV
from infernet_kit.processes import free_port


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(STATE_ENV, str(tmp_path))
    return tmp_path


def _record(state: Path, rpc_url: str, chain_id: int = LOCAL_CHAIN_ID) -> None:
    (state / "stack.json").write_text(json.dumps({"rpc_url": rpc_url, "chain_id": chain_id, "pids": []}))


def test_a_live_stack_on_the_chain_keeps_its_file(state: Path, anvil: Anvil, tmp_path: Path) -> None:
    _record(state, anvil.url)
    with pytest.raises(DeploymentInUse, match=f"belongs to the stack running at {anvil.url}.*--force"):
        ensure_replaceable(LOCAL_CHAIN_ID)
    assert ensure_replaceable(LOCAL_CHAIN_ID, force=True) == deployment_path(LOCAL_CHAIN_ID)
    elsewhere = tmp_path / "elsewhere"
    assert ensure_replaceable(LOCAL_CHAIN_ID, elsewhere) == elsewhere / f"{LOCAL_CHAIN_ID}.json"
    assert ensure_replaceable(1) == deployment_path(1)  # another chain's file


def test_no_record_or_a_dead_stack_does_not_hold_the_file(state: Path, anvil: Anvil) -> None:
    assert ensure_replaceable(LOCAL_CHAIN_ID) == deployment_path(LOCAL_CHAIN_ID)
    _record(state, f"http://127.0.0.1:{free_port()}")  # `up` crashed: its record outlived its anvil
    assert ensure_replaceable(LOCAL_CHAIN_ID) == deployment_path(LOCAL_CHAIN_ID)
    _record(state, anvil.url, chain_id=LOCAL_CHAIN_ID + 1)  # recorded for another chain than the live one
    assert ensure_replaceable(LOCAL_CHAIN_ID + 1) == deployment_path(LOCAL_CHAIN_ID + 1)
