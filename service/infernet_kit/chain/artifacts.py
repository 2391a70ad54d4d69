"""The one module that loads the kit's compiled contracts (forge's `out/` in the checkout, the shipped artifacts
when installed) for the rest of the package."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from infernet_kit.paths import checkout_root, foundry_tool, kit_dir, project_root


class Artifact(BaseModel):
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


FIRST_BUILD_NOTICE = "compiling contracts: a minute or two the first time"


def forge_build(root: Path, *flags: str) -> None:
    """Run `forge build` in project `root` (a no-op when nothing changed); raises with forge's output. A first
    build (no forge cache yet) says so first: via-IR is a minute or more of silence otherwise."""
    if not (root / "cache" / "solidity-files-cache.json").is_file():
        print(FIRST_BUILD_NOTICE, file=sys.stderr, flush=True)
    command = [str(foundry_tool("forge")), "build", *flags]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"forge build in {root} failed:\n{result.stdout}\n{result.stderr}")


def build() -> None:
    """Build the kit's contracts as `make build` does (via-IR, a million optimizer runs; the forge tests are
    `make build-tests`' business). Only a checkout builds: an installed kit ships them."""
    checkout = checkout_root()
    if checkout is None:
        raise FileNotFoundError(f"the installed kit has no compiled contracts in {_out_dir()}: reinstall it")
    forge_build(checkout, "--skip", "test")
    load_artifact.cache_clear()


def _out_dir() -> Path:
    return kit_dir() / "out"


def _read(out_dir: Path, name: str, source: str | None) -> Artifact:
    pattern = f"{source}/{name}.json" if source else f"*/{name}.json"
    matches = sorted(out_dir.glob(pattern))
    if not matches:
        raise FileNotFoundError(f"no compiled artifact for {name} in {out_dir}")
    if len(matches) > 1:
        raise LookupError(f"{name} is compiled from several files ({', '.join(p.parent.name for p in matches)})")
    data = json.loads(matches[0].read_text())
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"]["object"])


@cache
def load_artifact(name: str, source: str | None = None) -> Artifact:
    """The ABI and creation bytecode of the kit's contract `name` (from `source`, e.g. "Registry.sol", if
    ambiguous); builds the contracts first if they never were."""
    if not _out_dir().is_dir():
        build()
    return _read(_out_dir(), name, source)


def project_artifact(name: str, source: str | None = None, *, root: Path | None = None) -> Artifact:
    """Contract `name` of the user's project (default: the current one) as forge builds it: `forge build` there
    first (a no-op after `forge test`), then its `out/`. The bytecode a test deploys is the one forge tested."""
    root = root or project_root()
    forge_build(root)
    return _read(root / "out", name, source)
