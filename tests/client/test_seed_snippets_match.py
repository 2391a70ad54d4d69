"""The snippets the tests run are the seeds' own text (guards against drift when the seeds change)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infernet_kit.paths import project_root

from . import seed_snippets


def _seeds_text() -> str:
    for directory in (project_root().parent / "shared" / "seeds", Path("/work/shared/seeds")):
        if directory.is_dir():
            return "\n".join(path.read_text() for path in sorted(directory.glob("*.txt")))
    pytest.skip("the seed documents are not beside this checkout")


def _indented(text: str) -> str:
    return "\n".join("    " + line if line else "" for line in text.rstrip("\n").splitlines())


@pytest.mark.parametrize(
    "name",
    [
        "TGI_OFFCHAIN_PYTHON",
        "HF_OFFCHAIN_PYTHON",
        "TGI_OFFCHAIN_CURL",
        "HF_OFFCHAIN_CURL",
        "TGI_INPUT_JSON",
        "HF_INPUT_JSON",
        "HF_DELEGATED_INPUT_JSON",
        "PARAMS_JSON",
    ],
)
def test_snippet_is_in_the_seeds(name: str) -> None:
    assert _indented(getattr(seed_snippets, name)) in _seeds_text()


def test_delegated_snippet_differs_only_by_the_missing_comma() -> None:
    printed = seed_snippets.TGI_DELEGATED_PYTHON.replace(
        'RPC("http://127.0.0.1:8545"),', 'RPC("http://127.0.0.1:8545")'
    )
    assert _indented(printed) in _seeds_text()


def test_cli_lines_are_in_the_seeds() -> None:
    text = _seeds_text()
    assert seed_snippets.CLI_JOB.format(container="tgi_client_inference_service") in text
    assert seed_snippets.CLI_SUB.split(" --params")[0] in text
