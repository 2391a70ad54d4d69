// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

/// @title CodeStore
/// @notice Stores immutable bytes as the code of a tiny contract and reads them back ("SSTORE2"). Writing costs
///         about 200 gas per byte plus a fixed 32,000 (CREATE), against 22,100 per 32 bytes for storage, which
///         makes it the cheaper home for a request's inputs from 64 bytes on (roughly 3x cheaper for long prompts).
/// @dev The code starts with a STOP byte so calling the data contract does nothing. Payloads above the contract
///      size limit (EIP-170) cannot be stored this way: `fits` tells the caller to use storage instead.
library CodeStore {
    /// @dev Largest payload: EIP-170 code size limit minus the STOP byte.
    uint256 internal constant MAX_SIZE = 24_575;

    /// @notice Creating the data contract failed.
    error CodeStoreWriteFailed();

    /// @notice Whether `data` can be stored with `write`.
    function fits(bytes memory data) internal pure returns (bool) {
        return data.length <= MAX_SIZE;
    }

    /// @notice Deploys a contract whose code is `0x00 ++ data` and returns its address.
    function write(bytes memory data) internal returns (address pointer) {
        // Init code (10 bytes): PUSH2 size, DUP1, PUSH1 10, PUSH0, CODECOPY, PUSH0, RETURN; then the runtime code.
        bytes memory initCode = abi.encodePacked(hex"61", uint16(data.length + 1), hex"80600a5f395ff300", data);
        assembly ("memory-safe") {
            pointer := create(0, add(initCode, 0x20), mload(initCode))
        }
        if (pointer == address(0)) revert CodeStoreWriteFailed();
    }

    /// @notice The bytes stored at `pointer` (empty for `address(0)`).
    function read(address pointer) internal view returns (bytes memory) {
        return read(pointer, 0, size(pointer));
    }

    /// @notice `length` bytes stored at `pointer`, from `start`.
    function read(address pointer, uint256 start, uint256 length) internal view returns (bytes memory data) {
        data = new bytes(length);
        assembly ("memory-safe") {
            extcodecopy(pointer, add(data, 0x20), add(start, 1), length)
        }
    }

    /// @notice Number of bytes stored at `pointer`.
    function size(address pointer) internal view returns (uint256) {
        uint256 codeSize = pointer.code.length;
        return codeSize == 0 ? 0 : codeSize - 1;
    }
}
