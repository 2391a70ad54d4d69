"""Compile Solidity through py-solc-x and the repo's WebAssembly-backed `solc`: no compiler download."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import solcx

from infernet_kit.chain.artifacts import Artifact
from infernet_kit.paths import project_root, solc_wrapper


class CompileError(RuntimeError):
    """solc reported errors; the message holds solc's formatted diagnostics."""


def _foundry_settings(root: Path) -> dict[str, Any]:
    """The compiler settings and remappings of foundry.toml's default profile, so both toolchains build alike
    (`infernet-sdk/`, and the console library as `forge-std/console.sol`, `hardhat/console.sol`)."""
    profile = tomllib.loads((root / "foundry.toml").read_text())["profile"]["default"]
    return {
        "remappings": [str(remapping) for remapping in profile.get("remappings", [])],
        "viaIR": bool(profile.get("via_ir", False)),
        "optimizer": {"enabled": bool(profile.get("optimizer", True)), "runs": int(profile.get("optimizer_runs", 200))},
        "evmVersion": str(profile.get("evm_version", "cancun")),
    }


def _solc_errors(exc: solcx.exceptions.SolcError) -> str:
    """solc's own diagnostics (py-solc-x's message also carries the whole output)."""
    try:
        output = json.loads(exc.stdout_data or "")
    except (TypeError, ValueError):
        return str(exc)
    return "\n".join(e["formattedMessage"] for e in output.get("errors", []) if e.get("severity") == "error")


def compile_sources(sources: dict[str, str], *, remappings: list[str] | None = None) -> dict[str, Artifact]:
    """Compile `{virtual path: source}` with foundry.toml's remappings (and `remappings`); returns every
    contract by name."""
    root = project_root()
    settings = _foundry_settings(root)
    settings["remappings"] += remappings or []
    standard_input: dict[str, Any] = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": {
            **settings,
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    try:
        output = solcx.compile_standard(
            standard_input, base_path=str(root), allow_paths=[str(root)], solc_binary=solc_wrapper()
        )
    except solcx.exceptions.SolcError as exc:
        raise CompileError(_solc_errors(exc)) from None
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(errors))
    return {
        name: Artifact(name=name, abi=data["abi"], bytecode=data["evm"]["bytecode"]["object"])
        for contracts in output["contracts"].values()
        for name, data in contracts.items()
    }


def compile_file(path: Path) -> dict[str, Artifact]:
    return compile_sources({path.name: path.read_text()})
