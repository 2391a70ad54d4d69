"""README's "Write your own consumer" works on the first paste: its contract and its test file are the tested ones
here, word for word, and its Python deploy snippet deploys the contract on a chain."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infernet_kit.chain.deploy import Deployment
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.paths import project_root

HERE = Path(__file__).parent


def _section_blocks(language: str) -> list[str]:
    readme = (project_root() / "README.md").read_text()
    section = readme.split("## Write your own consumer", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"^ *```{language}\n(.*?)^ *```$", section, flags=re.S | re.M)


def test_the_readme_contract_is_the_tested_one() -> None:
    assert _section_blocks("solidity") == [(HERE / "MyConsumer.sol").read_text()]


def test_the_readme_test_file_is_the_tested_one() -> None:
    files = [block for block in _section_blocks("python") if "def test_" in block]
    assert files == [(HERE / "test_my_consumer.py").read_text()]


def test_the_readme_python_deploy_snippet_deploys_the_consumer(
    anvil: Anvil, infernet_deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    (snippet,) = [b for b in _section_blocks("python") if "deploy_artifact(w3" in b and "def test_" not in b]
    assert infernet_deployment.registry == "0x663F3ad617193148711d28f5334eE4Ed07016602"
    monkeypatch.chdir(project_root())
    scope: dict[str, object] = {}
    exec(snippet.replace("http://127.0.0.1:8545", anvil.url), scope)  # the README's own code
    consumer = scope["consumer"]
    assert anvil.w3.eth.get_code(consumer.address)  # type: ignore[attr-defined]
    assert scope["artifact"].name == "MyConsumer"  # type: ignore[attr-defined]
