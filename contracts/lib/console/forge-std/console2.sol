// SPDX-License-Identifier: MIT
pragma solidity >=0.8.13 <0.9.0;

// forge-std's second name for the same library: `import {console2} from "forge-std/console2.sol";`.
import {console as console2} from "./console.sol";
