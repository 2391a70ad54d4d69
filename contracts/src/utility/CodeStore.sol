// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title CodeStore
/// @notice Stores immutable bytes as the code of a tiny contract and reads them back. Writing costs about 200 gas
///         per byte plus a fixed 32,000 (CREATE), against 22,100 per 32 bytes for storage slots, which makes code
///         the cheaper home for request inputs and Inbox payloads from about 64 bytes on.
/// @dev Data contracts' code starts with a STOP byte, so calling one does nothing. Payloads above the contract
///      size limit (EIP-170) cannot be stored this way: `fits` tells the caller to use storage instead.
///      Two ways to write:
///      - `write(data)`: CREATE with the data in the init code; the caller keeps the returned address.
///      - `writeAt(salt, data)`: CREATE2 with a constant init code, so the address follows from (creator, salt)
///        and needs no storage slot (`pointerAt`). The init code fetches the bytes from its creator, which stages
///        them in transient storage and must serve them from `infernetStagedCode()` (see `returnStaged`).
library CodeStore {
    /// @dev Largest payload: EIP-170 code size limit minus the STOP byte.
    uint256 internal constant MAX_SIZE = 24_575;

    /// @dev Init code of `writeAt` data contracts (31 bytes):
    ///      mstore(0, 0x2658cbf5 /* infernetStagedCode() */)
    ///      if iszero(staticcall(gas(), caller(), 28, 4, 0, 0)) { revert(0, 0) }
    ///      returndatacopy(0, 0, returndatasize()); return(0, returndatasize())
    bytes internal constant STAGED_INIT_CODE = hex"632658cbf55f525f5f6004601c335afa15601b573d5f5f3e3d5ff35b5f5ffd";
    bytes32 internal constant STAGED_INIT_CODE_HASH = keccak256(STAGED_INIT_CODE);

    /// @dev Transient slot holding the staged length; the words follow at the next slots.
    uint256 private constant STAGE_SLOT = uint256(keccak256("infernet-kit.CodeStore.stage"));

    /// @notice Creating the data contract failed.
    error CodeStoreWriteFailed();

    /// @notice Whether `data` can be stored as code.
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

    /// @notice Deploys a contract whose code is `0x00 ++ data` at `pointerAt(address(this), salt)`.
    /// @dev The calling contract must expose `infernetStagedCode()` calling `returnStaged()`.
    function writeAt(bytes32 salt, bytes memory data) internal returns (address pointer) {
        _stage(data);
        bytes memory initCode = STAGED_INIT_CODE;
        assembly ("memory-safe") {
            pointer := create2(0, add(initCode, 0x20), mload(initCode), salt)
        }
        _stage("");
        if (pointer == address(0)) revert CodeStoreWriteFailed();
    }

    /// @notice Where `writeAt(salt, ...)` called by `creator` puts the data.
    function pointerAt(address creator, bytes32 salt) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(hex"ff", creator, salt, STAGED_INIT_CODE_HASH)))));
    }

    /// @notice Ends the current call returning `0x00 ++ staged bytes` as raw return data (for `infernetStagedCode`).
    function returnStaged() internal view {
        uint256 slot = STAGE_SLOT;
        // Memory-safe: it only writes past the free memory pointer, then ends the call.
        assembly ("memory-safe") {
            let length := tload(slot)
            let out := mload(0x40)
            mstore8(out, 0)
            for { let i := 0 } lt(i, length) { i := add(i, 0x20) } {
                mstore(add(add(out, 1), i), tload(add(slot, add(1, shr(5, i)))))
            }
            return(out, add(length, 1))
        }
    }

    /// @notice The bytes stored at `pointer` (empty if it holds no code).
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

    /// @dev Writes `data` to transient storage (length, then its words).
    function _stage(bytes memory data) private {
        uint256 slot = STAGE_SLOT;
        assembly ("memory-safe") {
            let length := mload(data)
            tstore(slot, length)
            for { let i := 0 } lt(i, length) { i := add(i, 0x20) } {
                tstore(add(slot, add(1, shr(5, i))), mload(add(add(data, 0x20), i)))
            }
        }
    }
}
