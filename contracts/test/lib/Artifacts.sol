// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

/// @dev The path of contract `name`'s artifact from source `file` (e.g. "Coordinator.sol", "Coordinator") in
///      forge's output, for `vm.deployCode`. A lookup by name ("File.sol:Name") prefers the calling test's compiler
///      profile, and most tests compile in a profile of their own (`tests`, see foundry.toml) that holds an
///      unoptimized twin of every contract they import: by path, tests and scripts deploy the bytecode the kit ships.
function artifact(string memory file, string memory name) pure returns (string memory) {
    return string.concat("out/", file, "/", name, ".json");
}
