"""The one module that loads compiled contracts (forge's `out/`) for the rest of the package."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from infernet_kit.paths import foundry_tool, project_root


class Artifact(BaseModel):
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


def build() -> None:
    """Run `forge build` (a no-op when nothing changed); raises with forge's output on failure."""
    result = subprocess.run([str(foundry_tool("forge")), "build"], cwd=project_root(), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"forge build failed:\n{result.stdout}\n{result.stderr}")
    load_artifact.cache_clear()


def _out_dir() -> Path:
    return project_root() / "out"


@cache
def load_artifact(name: str, source: str | None = None) -> Artifact:
    """The ABI and creation bytecode of contract `name` (from `source`, e.g. "Registry.sol", if ambiguous)."""
    pattern = f"{source}/{name}.json" if source else f"*/{name}.json"
    matches = sorted(_out_dir().glob(pattern))
    if not matches:
        raise FileNotFoundError(f"no compiled artifact for {name} in {_out_dir()}: run `make build`")
    if len(matches) > 1:
        raise LookupError(f"{name} is compiled from several files ({', '.join(p.parent.name for p in matches)})")
    data = json.loads(matches[0].read_text())
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"]["object"])
