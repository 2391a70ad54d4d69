// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Vm, vm} from "./Vm.sol";

/// @notice Minimal forge script base: marks the contract as a script and offers CREATE address prediction.
abstract contract Script {
    /// @dev Forge looks for this flag to recognise scripts.
    bool public IS_SCRIPT = true;

    /// @notice The address `deployer` creates with CREATE at `nonce` (RLP of [deployer, nonce], EIP-161).
    function computeCreateAddress(address deployer, uint256 nonce) internal pure returns (address) {
        bytes memory rlpNonce;
        if (nonce == 0) {
            rlpNonce = hex"80";
        } else if (nonce < 0x80) {
            rlpNonce = abi.encodePacked(uint8(nonce));
        } else {
            uint256 len;
            for (uint256 n = nonce; n != 0; n >>= 8) {
                ++len;
            }
            rlpNonce = abi.encodePacked(uint8(0x80 + len));
            for (uint256 i = len; i != 0; --i) {
                rlpNonce = abi.encodePacked(rlpNonce, uint8(nonce >> (8 * (i - 1))));
            }
        }
        bytes memory payload = abi.encodePacked(hex"94", deployer, rlpNonce);
        bytes32 hash = keccak256(abi.encodePacked(uint8(0xc0 + payload.length), payload));
        return address(uint160(uint256(hash)));
    }
}
