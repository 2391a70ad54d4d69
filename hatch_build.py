"""Hatch build hook: the wheel ships the kit's own files under `infernet_kit/kit/` (what `paths.kit_dir()`
names when the kit is installed): the Solidity sources, forge's compiled artifacts of them, the solc wrapper
and the npm lock that `infernet-kit setup` installs. `make wheel` builds the contracts first; `out/` stays
untracked. Editable installs read the checkout itself and ship nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCES = ("contracts/src", "contracts/sim", "contracts/examples", "contracts/test/lib", "contracts/lib/console")
FILES = ("tools/solc", "package.json", "package-lock.json")
# Artifacts of these trees: what the kit deploys (the core and the example consumers). The simulator ships as
# source only: a user's forge test creates it, so their build compiles it (`make build` does not).
ARTIFACT_SOURCES = ("contracts/src", "contracts/examples")
TARGET = "infernet_kit/kit"


class KitFilesHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        include: dict[str, str] = build_data["force_include"]
        for relative in (*SOURCES, *FILES):
            include[str(root / relative)] = f"{TARGET}/{relative}"
        out = root / "out"
        for tree in ARTIFACT_SOURCES:
            for source in sorted((root / tree).rglob("*.sol")):
                artifacts = out / source.name
                if not artifacts.is_dir():
                    raise FileNotFoundError(f"{artifacts} is missing: run `make build` before building the wheel")
                include[str(artifacts)] = f"{TARGET}/out/{source.name}"
