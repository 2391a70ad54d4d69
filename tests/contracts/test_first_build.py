"""The kit builds contracts itself when they never were (`load_artifact` in the checkout, `project_artifact` in a
user's project run `forge build`), and a first build says first that it takes minutes; a build with forge's cache
in place says nothing. A tiny throwaway project (its own foundry.toml, the kit's Foundry and solc) is built."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from infernet_kit.chain.artifacts import FIRST_BUILD_NOTICE
from infernet_kit.paths import ROOT_ENV, solc_wrapper


def _project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "foundry.toml").write_text(
        f'[profile.default]\nsrc = "src"\nout = "out"\nlibs = []\noffline = true\nsolc = "{solc_wrapper()}"\n'
    )
    (root / "src" / "Tiny.sol").write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.19;\ncontract Tiny { uint256 public x = 7; }\n"
    )
    return root


def _load_tiny(root: Path) -> subprocess.CompletedProcess[str]:
    code = "from infernet_kit.chain.artifacts import project_artifact; print(project_artifact('Tiny').abi[0]['name'])"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, ROOT_ENV: str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_first_build_announces_itself_and_a_cached_one_does_not(tmp_path: Path) -> None:
    root = _project(tmp_path)
    first = _load_tiny(root)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "x"
    assert first.stderr.splitlines() == [FIRST_BUILD_NOTICE]

    again = _load_tiny(root)
    assert again.returncode == 0 and again.stdout.strip() == "x" and again.stderr == ""

    (root / "out").rename(root / "out-gone")  # out/ removed, forge's cache kept: a rebuild, not a first build
    rebuilt = _load_tiny(root)
    assert rebuilt.returncode == 0 and rebuilt.stdout.strip() == "x"
    assert FIRST_BUILD_NOTICE not in rebuilt.stderr
