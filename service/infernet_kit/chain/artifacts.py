"""The one module that loads compiled contracts (forge's `out/`) for the rest of the package."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from infernet_kit.paths import foundry_tool, project_root


class Artifact(BaseModel):
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


FIRST_BUILD_NOTICE = "compiling contracts: about 3 minutes the first time"


def build() -> None:
    """Run `forge build` (a no-op when nothing changed); raises with forge's output on failure. A first build
    (no forge cache yet) says so first: via-IR with a million optimizer runs is minutes of silence otherwise."""
    if not (project_root() / "cache" / "solidity-files-cache.json").is_file():
        print(FIRST_BUILD_NOTICE, file=sys.stderr, flush=True)
    result = subprocess.run([str(foundry_tool("forge")), "build"], cwd=project_root(), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"forge build failed:\n{result.stdout}\n{result.stderr}")
    load_artifact.cache_clear()


def _out_dir() -> Path:
    return project_root() / "out"


@cache
def load_artifact(name: str, source: str | None = None) -> Artifact:
    """The ABI and creation bytecode of contract `name` (from `source`, e.g. "Registry.sol", if ambiguous);
    builds the contracts first if they never were."""
    pattern = f"{source}/{name}.json" if source else f"*/{name}.json"
    if not _out_dir().is_dir():
        build()
    matches = sorted(_out_dir().glob(pattern))
    if not matches:
        raise FileNotFoundError(f"no compiled artifact for {name} in {_out_dir()}: run `make build`")
    if len(matches) > 1:
        raise LookupError(f"{name} is compiled from several files ({', '.join(p.parent.name for p in matches)})")
    data = json.loads(matches[0].read_text())
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"]["object"])
