"""`infernet-kit setup`: Foundry and solc from npm, once, into the per-user cache (`paths.toolchain_cache()`).

The versions are the checkout's lock file (shipped with the kit), so an installed kit runs the same binaries as
`make setup`; nothing downloads after this.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from infernet_kit.paths import foundry_platform, kit_dir, toolchain_cache

LOCK_FILES = ("package.json", "package-lock.json")
TOOLS = ("forge", "anvil", "cast")


class SetupError(RuntimeError):
    """npm is missing or failed; the message says what to do."""


def lock_digest() -> str:
    """What the cache's stamp holds once this kit's lock file is installed there."""
    return hashlib.sha256(b"".join((kit_dir() / name).read_bytes() for name in LOCK_FILES)).hexdigest()


def installed_tools(cache: Path) -> dict[str, Path]:
    """The Foundry binaries (and npm solc's package) present in `cache`."""
    found = {
        name: cache / "node_modules" / "@foundry-rs" / f"{name}-{foundry_platform()}" / "bin" / name for name in TOOLS
    }
    found["solc"] = cache / "node_modules" / "solc" / "package.json"
    return {name: path for name, path in found.items() if path.exists()}


def setup_toolchain(cache: Path | None = None) -> Path:
    """Install the locked npm packages into `cache` (default `toolchain_cache()`); a no-op when that lock is
    already installed. Returns the cache directory."""
    cache = cache or toolchain_cache()
    stamp = cache / ".kit-installed"
    digest = lock_digest()
    if stamp.is_file() and stamp.read_text() == digest and len(installed_tools(cache)) == len(TOOLS) + 1:
        return cache
    npm = shutil.which("npm")
    if npm is None:
        raise SetupError("npm is not on PATH: install Node.js 20+ (it brings npm), then run `infernet-kit setup`")
    cache.mkdir(parents=True, exist_ok=True)
    for name in LOCK_FILES:
        shutil.copyfile(kit_dir() / name, cache / name)
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=cache, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SetupError(f"npm ci in {cache} failed:\n{result.stdout}{result.stderr}")
    stamp.write_text(digest)
    return cache
