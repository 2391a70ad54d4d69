#!/usr/bin/env python3
"""Write contracts/lib/console/forge-std/console.sol: the console library with the standard console ABI.

Anvil and forge recognise calls to the console address by the selector of each standard `log` overload
(`log(string)`, `log(string,uint256)`, `log(bytes)`, `log(bytes32)`, `log(address)`, ...) and print the decoded
arguments; Foundry 1.x knows no other selector, so the named helpers (`logBytes`, `logAddress`, `logUint`, ...)
send the matching one-argument `log(T)` call. The overloads are many and mechanical, so this script writes them:
every named helper, and `log` with one to three arguments of the four common types. Run it again only to change
the set; the output is committed.
"""

from __future__ import annotations

import itertools
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "contracts" / "lib" / "console" / "forge-std" / "console.sol"

# Solidity parameter type -> ABI type in the signature.
COMMON = {"uint256": "uint256", "string memory": "string", "bool": "bool", "address": "address"}
SINGLE = {
    "logInt": "int256",
    "logUint": "uint256",
    "logString": "string memory",
    "logBool": "bool",
    "logAddress": "address",
    "logBytes": "bytes memory",
    **{f"logBytes{n}": f"bytes{n}" for n in range(1, 33)},
}
HEADER = """\
// SPDX-License-Identifier: MIT
pragma solidity >=0.8.13 <0.9.0;

// Written by tools/gen_console.py (do not edit by hand): the standard console ABI that anvil and forge
// decode and print. Import it as "forge-std/console.sol", "forge-std/console2.sol" or "hardhat/console.sol".

library console {
    address constant CONSOLE_ADDRESS = 0x000000000000000000636F6e736F6c652e6c6f67;

    /// @dev A static call to the console address; nothing answers on chain, the node only reads the call.
    function _sendLogPayloadView(bytes memory payload) private view {
        address consoleAddress = CONSOLE_ADDRESS;
        assembly ("memory-safe") {
            pop(staticcall(gas(), consoleAddress, add(payload, 32), mload(payload), 0, 0))
        }
    }

    /// @dev The view call typed as pure, so `console.log` works in pure functions too.
    function _castToPure(function(bytes memory) internal view fnIn)
        private
        pure
        returns (function(bytes memory) internal pure fnOut)
    {
        assembly {
            fnOut := fnIn
        }
    }

    function _sendLogPayload(bytes memory payload) private pure {
        _castToPure(_sendLogPayloadView)(payload);
    }

    function log() internal pure {
        _sendLogPayload(abi.encodeWithSignature("log()"));
    }
"""


def _abi(solidity_type: str) -> str:
    return solidity_type.removesuffix(" memory")


def _function(name: str, types: list[str]) -> str:
    params = ", ".join(f"{t} p{i}" for i, t in enumerate(types))
    signature = f"log({','.join(_abi(t) for t in types)})"
    args = "".join(f", p{i}" for i in range(len(types)))
    return (
        f"\n    function {name}({params}) internal pure {{\n"
        f'        _sendLogPayload(abi.encodeWithSignature("{signature}"{args}));\n'
        "    }\n"
    )


def render() -> str:
    parts = [HEADER]
    parts += [_function(name, [solidity_type]) for name, solidity_type in SINGLE.items()]
    parts.append(_function("log", ["int256"]))
    for arity in (1, 2, 3):
        parts += [_function("log", list(types)) for types in itertools.product(COMMON, repeat=arity)]
    parts.append("}\n")
    return "".join(parts)


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render())
    print(f"wrote {OUT}")
