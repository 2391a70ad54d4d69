// SPDX-License-Identifier: MIT
pragma solidity ^0.8.4;

/// @title EIP712
/// @notice The EIP-712 domain (name, version, chainId, verifyingContract: no salt) and typed-data digest shared by
///         the coordinator's delegated subscriptions and the signature verifier.
library EIP712 {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    /// @notice The domain separator of the calling contract on the current chain.
    function domainSeparator(string memory name, string memory version) internal view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256(bytes(version)), block.chainid, address(this))
        );
    }

    /// @notice `keccak256("\x19\x01" ‖ separator ‖ structHash)`.
    function digest(bytes32 separator, bytes32 structHash) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", separator, structHash));
    }
}
