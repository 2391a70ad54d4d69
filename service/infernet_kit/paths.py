"""Where the kit's own files are: the project root, the Foundry binaries and the solc wrapper."""

from __future__ import annotations

import os
import platform
import sys
from functools import cache
from pathlib import Path

ROOT_ENV = "INFERNET_KIT_ROOT"
STATE_ENV = "INFERNET_KIT_STATE_DIR"


@cache
def project_root() -> Path:
    """The directory holding foundry.toml: `$INFERNET_KIT_ROOT`, else the nearest one above this package."""
    if configured := os.environ.get(ROOT_ENV):
        return Path(configured).resolve()
    for directory in Path(__file__).resolve().parents:
        if (directory / "foundry.toml").is_file():
            return directory
    raise FileNotFoundError(f"no foundry.toml above {__file__}; set {ROOT_ENV} to the infernet-kit checkout")


_NPM_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def foundry_platform() -> str:
    """The suffix of npm's per-platform Foundry packages on this machine, e.g. `linux-amd64`."""
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform, sys.platform)
    return f"{system}-{_NPM_ARCH.get(platform.machine().lower(), platform.machine().lower())}"


def foundry_tool(name: str) -> Path:
    """`forge`, `anvil` or `cast` as installed by `make setup` from npm: the platform binary itself, because
    npm's launcher (`node_modules/.bin/forge`) exits 0 even when the tool fails."""
    tool = project_root() / "node_modules" / "@foundry-rs" / f"{name}-{foundry_platform()}" / "bin" / name
    if not tool.exists():
        raise FileNotFoundError(f"{tool} is missing: run `make setup` to install the Foundry tools")
    return tool


def solc_wrapper() -> Path:
    """The native-style solc command backed by the WebAssembly compiler."""
    return project_root() / "tools" / "solc"


def state_dir() -> Path:
    """Scratch space for local stacks (logs, node databases, `up` state): `$INFERNET_KIT_STATE_DIR`, else
    `.kit/` in the project, which git ignores."""
    directory = Path(os.environ.get(STATE_ENV) or project_root() / ".kit")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def stack_file() -> Path:
    """Where `infernet-kit up` records the stack it started (read by `down` and the deploy commands)."""
    return state_dir() / "stack.json"
