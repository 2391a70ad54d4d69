"""Helpers for the client tests: run the `infernet-kit` CLI in a child process (`cli`) or in-process (`kit`).

`cli` proves the real program (exit code, stderr, no traceback); `kit` runs the same app through click's
test runner, which is much faster on a loaded machine, for the many bad-input cases.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from infernet_kit.processes import kit_command

from .seed_snippets import PARAMS_JSON

# The seeds' files, as printed (comments and trailing commas included): `seed_snippets` holds them, checked
# against the seeds; the subscription's owner and container are filled in per test.
SEED_PARAMS = PARAMS_JSON.replace('"0x00Bd138aBD7...................."', '"%(owner)s"').replace(
    '["tgi_client_inference_service"]', '["%(container)s"]'
)
SEED_HF_INPUT = """{
    "task_id": 1,
    "prompt": "Is the sky blue during a clear day?",
    "model": "Qwen/Qwen2.5-72B-Instruct"
}
"""


CliRunner = Callable[..., subprocess.CompletedProcess[str]]
# The client's settings from the environment (the official client's names), cleared for each test.
CLIENT_ENV = ("PRIVATE_KEY", "SERVER_URL", "RPC_URL", "ADDRESS", "FACTORY_ADDRESS")


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    """Run `infernet-kit <args>` in `tmp_path`; returns the finished process (text output)."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`infernet-kit <args>`, or the `infernet-client` command when args[0] names it (as the seeds do)."""
        command = [sys.executable, "-m", "infernet_client", *args[1:]] if args[0] == "infernet-client" else None
        environment = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV}
        return subprocess.run(
            command or kit_command(*args),
            cwd=tmp_path,
            env={**environment, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    return run


@dataclass
class Finished:
    """What a CLI run left behind, shaped like `subprocess.CompletedProcess`."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Finished]:
    """Run `infernet-kit <args>` in-process, in `tmp_path`, with a clean client environment."""
    from typer.testing import CliRunner as TyperRunner

    from infernet_kit.cli import build_app

    monkeypatch.chdir(tmp_path)
    for name in CLIENT_ENV:
        monkeypatch.delenv(name, raising=False)
    app = build_app()

    def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Finished:
        result = TyperRunner().invoke(app, list(args), input=stdin, env=env, catch_exceptions=False)
        return Finished(result.exit_code, result.stdout, result.stderr)

    return run


KitRunner = Callable[..., Finished]
