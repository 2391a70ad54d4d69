"""`compile_file` compiles a file inside its own project, as `forge build` would: relative imports, the project's
remappings (remappings.txt and foundry.toml), external libraries linked by address; a missing import is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from infernet_kit.chain.compiler import CompileError, compile_file
from infernet_kit.paths import solc_wrapper

HEADER = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.19;\n"
LIBRARY_ADDRESS = "0x00000000000000000000000000000000000000aa"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's project away from the checkout: its own foundry.toml and remappings, a vendored library."""
    root = tmp_path_factory.mktemp("user-project")
    (root / "foundry.toml").write_text(
        f'[profile.default]\nsrc = "src"\nsolc = "{solc_wrapper()}"\nremappings = ["shapes/=vendor/shapes/"]\n'
    )
    (root / "remappings.txt").write_text("# vendored\ngreet/=vendor/greet/\n")
    for relative, body in {
        "vendor/greet/Greeting.sol": "library Greeting {\n"
        '    function text() internal pure returns (string memory) { return "hi"; }\n}',
        "vendor/shapes/Square.sol": "library Square {\n"
        "    function area(uint256 x) internal pure returns (uint256) { return x * x; }\n}",
        "src/Counter.sol": "library Counter {\n"
        "    function next(uint256 x) public pure returns (uint256) { return x + 1; }\n}",
        "src/Tools.sol": 'import {Square} from "shapes/Square.sol";\n'
        "library Tools { function area(uint256 side) internal pure returns (uint256) { return Square.area(side); } }",
        "src/app/App.sol": 'import {Tools} from "../Tools.sol";\nimport {Greeting} from "greet/Greeting.sol";\n'
        'import {Counter} from "../Counter.sol";\n'
        "contract App {\n"
        "    function area(uint256 side) external pure returns (uint256) { return Tools.area(side); }\n"
        "    function hello() external pure returns (string memory) { return Greeting.text(); }\n"
        "    function next(uint256 x) external pure returns (uint256) { return Counter.next(x); }\n"
        "}",
        "src/Broken.sol": 'import {Nowhere} from "./Nowhere.sol";\ncontract Broken {}',
    }.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER + body + "\n")
    return root


def test_imports_and_remappings_resolve_and_libraries_link(project: Path) -> None:
    app_file = project / "src" / "app" / "App.sol"
    artifacts = compile_file(app_file, libraries={"src/Counter.sol:Counter": LIBRARY_ADDRESS})
    assert set(artifacts) == {"App"}  # only what the file defines is built, not what it imports
    app = artifacts["App"]
    assert {item["name"] for item in app.abi} == {"area", "hello", "next"}
    # Linked at compile time: the address in place of solc's `__$…$__` placeholder.
    assert "__$" not in app.bytecode and LIBRARY_ADDRESS[2:] in app.bytecode
    # The library to deploy first is built from its own file.
    assert {item["name"] for item in compile_file(project / "src" / "Counter.sol")["Counter"].abi} == {"next"}


def test_a_missing_import_is_named(project: Path) -> None:
    with pytest.raises(CompileError, match=r"Nowhere\.sol"):
        compile_file(project / "src" / "Broken.sol")
