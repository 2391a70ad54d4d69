// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Vm, vm} from "./Vm.sol";

/// @notice Minimal test base: assertions that revert with a readable message, and `bound` for fuzz inputs.
abstract contract Test {
    function fail(string memory message) internal pure {
        revert(message);
    }

    function assertTrue(bool condition, string memory message) internal pure {
        if (!condition) fail(message);
    }

    function assertTrue(bool condition) internal pure {
        assertTrue(condition, "assertTrue failed");
    }

    function assertFalse(bool condition) internal pure {
        assertTrue(!condition, "assertFalse failed");
    }

    function assertEq(uint256 a, uint256 b) internal pure {
        if (a != b) fail(string.concat("assertEq(uint) failed: ", vm.toString(a), " != ", vm.toString(b)));
    }

    function assertEq(uint256 a, uint256 b, string memory message) internal pure {
        if (a != b) fail(string.concat(message, ": ", vm.toString(a), " != ", vm.toString(b)));
    }

    function assertEq(address a, address b) internal pure {
        if (a != b) fail(string.concat("assertEq(address) failed: ", vm.toString(a), " != ", vm.toString(b)));
    }

    function assertEq(bytes32 a, bytes32 b) internal pure {
        if (a != b) fail(string.concat("assertEq(bytes32) failed: ", vm.toString(a), " != ", vm.toString(b)));
    }

    function assertEq(bool a, bool b) internal pure {
        if (a != b) fail(string.concat("assertEq(bool) failed: ", vm.toString(a), " != ", vm.toString(b)));
    }

    function assertEq(string memory a, string memory b) internal pure {
        if (keccak256(bytes(a)) != keccak256(bytes(b))) {
            fail(string.concat("assertEq(string) failed: '", a, "' != '", b, "'"));
        }
    }

    function assertEq(bytes memory a, bytes memory b) internal pure {
        if (keccak256(a) != keccak256(b)) {
            fail(string.concat("assertEq(bytes) failed: ", vm.toString(a), " != ", vm.toString(b)));
        }
    }

    function assertGt(uint256 a, uint256 b) internal pure {
        if (a <= b) fail(string.concat("assertGt failed: ", vm.toString(a), " <= ", vm.toString(b)));
    }

    function assertLt(uint256 a, uint256 b) internal pure {
        if (a >= b) fail(string.concat("assertLt failed: ", vm.toString(a), " >= ", vm.toString(b)));
    }

    /// @dev Maps `x` into `[min, max]` uniformly enough for fuzzing (keeps in-range values unchanged).
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min;
        if (size == type(uint256).max) return x;
        return min + x % (size + 1);
    }
}
