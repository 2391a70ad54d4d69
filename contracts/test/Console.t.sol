// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "kit-test/Test.sol";
import {console} from "forge-std/console.sol";
import {console2} from "forge-std/console2.sol";
import {console as hardhatConsole} from "hardhat/console.sol";

/// The console library under its three import names; forge prints each line with `-vv`
/// (tests/contracts/test_console.py reads them back).
contract ConsoleTest is Test {
    function test_ConsoleLogsUnderEveryName() public pure {
        console.log("Requested compute");
        console.log("answer", uint256(42));
        console.logBytes(hex"c0ffee");
        console.logBytes32(bytes32(uint256(7)));
        console.logAddress(address(0xBEEF));
        console.log("flags", true, address(0xBEEF));
        console.log(int256(-3));
        console2.log("console2", uint256(2));
        hardhatConsole.log("hardhat", "console");
    }

    function test_ConsoleCallsDoNotRevertOrChangeState() public {
        uint256 before = gasleft();
        console.log("from a state-changing function");
        assertTrue(gasleft() < before);
    }
}
