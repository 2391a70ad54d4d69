"""Where things are, decided here only: the kit's own files (Solidity sources, compiled artifacts, the solc
wrapper), the Foundry binaries, and the user's project (its foundry.toml, `.kit/` state, deployments).

The kit runs two ways: from its git checkout (`make setup`: everything beside `foundry.toml`, Foundry in
`node_modules/`), or installed from a wheel anywhere (the sources, artifacts and wrapper ship in the package's
`kit/` data; Foundry comes from PATH or `infernet-kit setup`'s per-user cache). State always lives in the
user's project, never in site-packages.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from functools import cache
from pathlib import Path

ROOT_ENV = "INFERNET_KIT_ROOT"
STATE_ENV = "INFERNET_KIT_STATE_DIR"
CACHE_ENV = "INFERNET_KIT_CACHE"

_PACKAGE = Path(__file__).resolve().parent


@cache
def checkout_root() -> Path | None:
    """The kit's git checkout around this package (`foundry.toml` beside `contracts/src`), or None when the kit
    is installed from a wheel."""
    root = _PACKAGE.parent.parent  # <checkout>/service/infernet_kit
    return root if (root / "foundry.toml").is_file() and (root / "contracts" / "src").is_dir() else None


@cache
def kit_dir() -> Path:
    """Where the kit's own files are: `contracts/` (src, sim, examples, the console and test libraries), `out/`
    (compiled artifacts), `tools/solc`, `package.json`: the checkout, else the package's shipped `kit/` data."""
    return checkout_root() or _PACKAGE / "kit"


def find_project(start: Path) -> Path | None:
    """The nearest directory holding a foundry.toml at or above `start`."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / "foundry.toml").is_file():
            return directory
    return None


@cache
def project_root() -> Path:
    """The user's project, where state and deployments go: `$INFERNET_KIT_ROOT`, else the nearest foundry.toml
    above the working directory, else the kit's checkout, else the working directory."""
    if configured := os.environ.get(ROOT_ENV):
        return Path(configured).resolve()
    return find_project(Path.cwd()) or checkout_root() or Path.cwd().resolve()


def toolchain_cache() -> Path:
    """Where `infernet-kit setup` installs Foundry and solc from npm: `$INFERNET_KIT_CACHE`, else
    `$XDG_CACHE_HOME/infernet-kit`, else `~/.cache/infernet-kit` (tools/solc looks there too)."""
    if configured := os.environ.get(CACHE_ENV):
        return Path(configured).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser().resolve() / "infernet-kit"


_NPM_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def foundry_platform() -> str:
    """The suffix of npm's per-platform Foundry packages on this machine, e.g. `linux-amd64`."""
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform, sys.platform)
    return f"{system}-{_NPM_ARCH.get(platform.machine().lower(), platform.machine().lower())}"


def _npm_binary(node_modules: Path, name: str) -> Path:
    return node_modules / "@foundry-rs" / f"{name}-{foundry_platform()}" / "bin" / name


def foundry_tool(name: str) -> Path:
    """`forge`, `anvil` or `cast`: the checkout's npm install (`make setup`), else `infernet-kit setup`'s
    cache, else PATH. From npm, the platform binary itself, because npm's launcher (`node_modules/.bin/forge`)
    exits 0 even when the tool fails."""
    checkout = checkout_root()
    candidates = [_npm_binary(checkout / "node_modules", name)] if checkout else []
    candidates.append(_npm_binary(toolchain_cache() / "node_modules", name))
    for tool in candidates:
        if tool.exists():
            return tool
    if on_path := shutil.which(name):
        return Path(on_path)
    fix = "run `make setup`" if checkout else f"run `infernet-kit setup` (installs it into {toolchain_cache()})"
    raise FileNotFoundError(f"{name} is missing: {fix}, or put Foundry's {name} on PATH")


def solc_wrapper() -> Path:
    """The native-style solc command backed by the WebAssembly compiler (npm `solc` from the checkout's or the
    cache's node_modules)."""
    return kit_dir() / "tools" / "solc"


def state_dir() -> Path:
    """Scratch space for local stacks (logs, node databases, `up` state): `$INFERNET_KIT_STATE_DIR`, else
    `.kit/` in the project, which git ignores."""
    directory = Path(os.environ.get(STATE_ENV) or project_root() / ".kit")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def stack_file() -> Path:
    """Where `infernet-kit up` records the stack it started (read by `down` and the deploy commands)."""
    return state_dir() / "stack.json"
