"""tools/solc answers `--version` from a file kept beside the compiler, and asks the compiler again when its
soljson.js changes (a reinstalled or upgraded npm solc never gets a stale version)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from infernet_kit.paths import CACHE_ENV, solc_wrapper

FAKE_SOLC = 'module.exports = {{ version: () => "{version}+commit.0000000a.Emscripten.clang" }};\n'


def _version(wrapper: Path, cache: Path) -> str:
    env = {**os.environ, CACHE_ENV: str(cache)}
    done = subprocess.run([str(wrapper), "--version"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1]


def test_version_is_cached_per_soljson(tmp_path: Path) -> None:
    # The wrapper alone (no node_modules beside it), finding a stand-in npm solc in the toolchain cache.
    wrapper = tmp_path / "tools" / "solc"
    wrapper.parent.mkdir()
    shutil.copy2(solc_wrapper(), wrapper)
    package = tmp_path / "cache" / "node_modules" / "solc"
    package.mkdir(parents=True)
    (package / "package.json").write_text('{"name": "solc", "main": "index.js"}')
    (package / "soljson.js").write_text("// one build\n")
    (package / "index.js").write_text(FAKE_SOLC.format(version="0.8.1"))

    assert _version(wrapper, tmp_path / "cache") == "Version: 0.8.1+commit.0000000a.Linux.g++"
    # Answered from the kept file: the compiler is not loaded again (its answer changed, the file did not).
    (package / "index.js").write_text(FAKE_SOLC.format(version="0.8.2"))
    assert _version(wrapper, tmp_path / "cache") == "Version: 0.8.1+commit.0000000a.Linux.g++"
    # Another soljson.js (npm installed another build): asked again.
    (package / "soljson.js").write_text("// another build, another size\n")
    assert _version(wrapper, tmp_path / "cache") == "Version: 0.8.2+commit.0000000a.Linux.g++"
