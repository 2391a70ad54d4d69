// SPDX-License-Identifier: MIT
pragma solidity >=0.8.13 <0.9.0;

// Hardhat's import path for the same library: `import "hardhat/console.sol";`.
import {console} from "../forge-std/console.sol";
