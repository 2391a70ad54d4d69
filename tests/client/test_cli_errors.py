"""The CLI's bad-input paths that need no running stack: one line on stderr, exit code 1, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from infernet_kit.processes import free_port

from .conftest import SEED_PARAMS, CliRunner, KitRunner
from .seed_snippets import TGI_INPUT_JSON

ANVIL_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
COORDINATOR = "0x2E983A1Ba5e8b38AAAeC4B440B9dDcFBf72E15d1"


def assert_one_line_error(result: object, *fragments: str, code: int = 1) -> str:
    returncode, err = result.returncode, result.stderr  # type: ignore[attr-defined]
    assert returncode == code, (returncode, result.stdout, err)  # type: ignore[attr-defined]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return str(lines[0])


def test_missing_input_file(cli: CliRunner) -> None:
    assert_one_line_error(cli("job", "-c", "tgi_client_inference_service", "-i", "nope.json"), "not found", "nope.json")


def test_usage_errors_are_one_line_too(cli: CliRunner) -> None:
    assert_one_line_error(cli("job", "-i", "input.json"), "Missing option", "--containers", code=2)
    assert_one_line_error(cli("ids", "--bogus"), "No such option", code=2)


def test_bad_json_input(kit: KitRunner, tmp_path: Path) -> None:
    (tmp_path / "input.json").write_text('{"text": "unterminated}')
    assert_one_line_error(kit("job", "-c", "x", "-i", "input.json"), "input.json", "invalid JSON", "line 1")


def test_input_must_be_an_object(kit: KitRunner, tmp_path: Path) -> None:
    (tmp_path / "input.json").write_text("[1, 2]")
    assert_one_line_error(kit("job", "-c", "x", "-i", "input.json"), "JSON object")


def test_unreadable_input_file(kit: KitRunner, tmp_path: Path) -> None:
    (tmp_path / "dir.json").mkdir()
    assert_one_line_error(kit("job", "-c", "x", "-i", "dir.json"), "cannot read", "dir.json")


def test_node_not_reachable(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "input.json").write_text(TGI_INPUT_JSON)
    url = f"http://127.0.0.1:{free_port()}"
    line = assert_one_line_error(
        cli("job", "-c", "x", "-i", "input.json", "--sync", "--url", url), "not reachable", url
    )
    assert "refused" in line
    # The environment variable is read as well; `health` says "unhealthy", as its --help promises, and why.
    health = cli("health", env={"SERVER_URL": url})
    assert health.stdout == "unhealthy\n"
    assert_one_line_error(health, "not reachable", url)


def test_results_names_unknown_ids(node_url_for_errors: str, cli: CliRunner) -> None:
    result = cli("results", "--id", "no-such-job", "--id", "other", "--url", node_url_for_errors)
    assert result.stdout.strip() == "[]"
    assert_one_line_error(result, "unknown job id(s)", "no-such-job, other")


def test_empty_container_list(kit: KitRunner, tmp_path: Path) -> None:
    (tmp_path / "input.json").write_text(TGI_INPUT_JSON)
    assert_one_line_error(kit("job", "-c", " , ", "-i", "input.json"), "no containers")


def test_sub_key_file_errors_never_echo_the_key(kit: KitRunner, tmp_path: Path) -> None:
    (tmp_path / "input.json").write_text(TGI_INPUT_JSON)
    (tmp_path / "params.json").write_text(SEED_PARAMS % {"owner": COORDINATOR, "container": "x"})
    base = [
        "sub",
        "--address",
        COORDINATOR,
        "--expiry",
        "1713376164",
        "--params",
        "params.json",
        "--input",
        "input.json",
    ]
    assert_one_line_error(kit(*base, "--key", "missing-key.txt"), "key file not found", "missing-key.txt")
    secret = "deadbeef" * 7  # 28 bytes: not a key, and must not be printed
    (tmp_path / "key.txt").write_text(secret + "\n")
    result = kit(*base, "--key", "key.txt")
    assert "valid private key" in assert_one_line_error(result)
    assert secret not in result.stderr + result.stdout
    assert_one_line_error(kit(*base), "no signer key")


def test_sub_params_errors_name_the_field(kit: KitRunner, tmp_path: Path) -> None:
    (tmp_path / "input.json").write_text(TGI_INPUT_JSON)
    (tmp_path / "key.txt").write_text(ANVIL_KEY_0)
    base = ["sub", "--address", COORDINATOR, "--expiry", "1713376164", "--key", "key.txt", "--input", "input.json"]
    # The seed's placeholder owner is not an address: the error says which field.
    (tmp_path / "params.json").write_text(
        SEED_PARAMS % {"owner": "0x00Bd138aBD7....................", "container": "x"}
    )
    assert_one_line_error(kit(*base, "--params", "params.json"), "params.json", "owner")
    (tmp_path / "params.json").write_text(f'{{"owner": "{COORDINATOR}", // no more\n}}')
    assert_one_line_error(kit(*base, "--params", "params.json"), "missing subscription field", "frequency")
    assert_one_line_error(kit(*base, "--params", "absent.json"), "params file not found")


def test_sub_rpc_not_reachable(kit: KitRunner, tmp_path: Path) -> None:
    (tmp_path / "input.json").write_text(TGI_INPUT_JSON)
    (tmp_path / "key.txt").write_text(ANVIL_KEY_0)
    (tmp_path / "params.json").write_text(SEED_PARAMS % {"owner": COORDINATOR, "container": "x"})
    rpc = f"http://127.0.0.1:{free_port()}"
    args = ["sub", "--rpc_url", rpc, "--address", COORDINATOR, "--expiry", "1713376164", "--key", "key.txt"]
    assert_one_line_error(kit(*args, "--params", "params.json", "--input", "input.json"), "RPC not reachable", rpc)


def test_wallet_verbs_reject_bad_amount_and_key(kit: KitRunner) -> None:
    wallet = "0x7749f632935738EA2Dd32EBEcbb8B9145E1efeF6"
    result = kit("fund", "--private-key", "0x1234", "--wallet", wallet, "--amount", "1 ether")
    assert_one_line_error(result, "--private-key", "valid private key")
    assert "0x1234" not in result.stderr
    assert_one_line_error(kit("fund", "-pk", ANVIL_KEY_0, "-w", wallet, "-a", "1 bitcoin"), "unknown unit", "bitcoin")
    assert_one_line_error(kit("withdraw", "-pk", ANVIL_KEY_0, "-w", "0x12", "-a", "1"), "--wallet", "not an address")


@pytest.fixture(scope="module")
def node_url_for_errors(node_launcher: object) -> str:
    """A node with no containers: enough to ask it for results."""
    return str(node_launcher({"containers": []}).url)  # type: ignore[operator]
