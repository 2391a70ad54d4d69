"""Compile Solidity through py-solc-x and the kit's WebAssembly-backed `solc`: no compiler download.

A file is compiled inside its project (the nearest foundry.toml above it): with that project's settings and
remappings (foundry.toml's and remappings.txt's), so relative imports, the user's own remapped libraries and
`infernet-sdk/...` resolve as they do under `forge build`.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import solcx

from infernet_kit.chain.artifacts import Artifact
from infernet_kit.paths import find_project, kit_dir, project_root, solc_wrapper


class CompileError(RuntimeError):
    """solc reported errors; the message holds solc's formatted diagnostics."""


def project_remappings(root: Path) -> list[str]:
    """remappings.txt's lines, then foundry.toml's (solc lets the later of two equal prefixes win, as forge
    lets foundry.toml override remappings.txt)."""
    remappings_file = root / "remappings.txt"
    lines = remappings_file.read_text().splitlines() if remappings_file.is_file() else []
    from_file = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    profile = _profile(root)
    return from_file + [str(remapping) for remapping in profile.get("remappings", [])]


def _profile(root: Path) -> dict[str, Any]:
    profile: dict[str, Any] = tomllib.loads((root / "foundry.toml").read_text()).get("profile", {}).get("default", {})
    return profile


def _foundry_settings(root: Path) -> dict[str, Any]:
    """The compiler settings and remappings of foundry.toml's default profile, so both toolchains build alike
    (`infernet-sdk/`, and the console library as `forge-std/console.sol`, `hardhat/console.sol`)."""
    profile = _profile(root)
    return {
        "remappings": project_remappings(root),
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


def _allowed_paths(root: Path, remappings: list[str], sources: dict[str, str]) -> list[str]:
    """The project, the kit's own files, every absolute remapping target (an installed kit's contracts) and the
    directory of every source named by its absolute path (a file outside any project)."""
    targets = [remapping.split("=", 1)[1] for remapping in remappings if "=" in remapping]
    absolute = [target for target in [*targets, *sources] if Path(target).is_absolute()]
    return sorted({str(root), str(kit_dir()), *(str(Path(p).parent) if p in sources else p for p in absolute)})


def _library_settings(libraries: dict[str, str]) -> dict[str, dict[str, str]]:
    """`{"src/Lib.sol:Lib": address}` -> solc's `{"src/Lib.sol": {"Lib": address}}` (linked at compile time)."""
    settings: dict[str, dict[str, str]] = {}
    for qualified, address in libraries.items():
        source, _, name = qualified.rpartition(":")
        if not source:
            raise ValueError(f"library {qualified!r} must be named as path:Name, e.g. src/Lib.sol:Lib")
        settings.setdefault(source, {})[name] = address
    return settings


def compile_sources(
    sources: dict[str, str],
    *,
    remappings: list[str] | None = None,
    root: Path | None = None,
    libraries: dict[str, str] | None = None,
) -> dict[str, Artifact]:
    """Compile `{source unit name: source}` in project `root` (default: the current project) with its
    foundry.toml settings and remappings (and `remappings`); imports are read from the project's files.
    `libraries` links external libraries (`{"path:Name": address}`). Returns the contracts the given sources
    define, by name: only those are built (an imported contract, e.g. a library to deploy first, is built by
    compiling its own file), which halves a consumer's compile that would otherwise optimise the whole
    Coordinator it imports."""
    root = (root or project_root()).resolve()
    settings = _foundry_settings(root)
    settings["remappings"] += remappings or []
    if libraries:
        settings["libraries"] = _library_settings(libraries)
    standard_input: dict[str, Any] = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": {
            **settings,
            "outputSelection": {name: {"*": ["abi", "evm.bytecode.object"]} for name in sources},
        },
    }
    try:
        output = solcx.compile_standard(
            standard_input,
            base_path=str(root),
            allow_paths=_allowed_paths(root, settings["remappings"], sources),
            solc_binary=solc_wrapper(),
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


def compile_file(path: Path, *, libraries: dict[str, str] | None = None) -> dict[str, Artifact]:
    """Compile `path` in its project (the nearest foundry.toml above it, else the current project): relative
    imports (`./Lib.sol`), the project's remappings and libraries resolve as under `forge build`. `libraries`
    links external libraries: `{"src/Lib.sol:Lib": address}`, paths relative to the project."""
    path = path.resolve()
    root = find_project(path.parent) or project_root()
    # Outside any project, the file keeps its absolute name (its siblings still resolve) in the current project.
    name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
    return compile_sources({name: path.read_text()}, root=root, libraries=libraries)
