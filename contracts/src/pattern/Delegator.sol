// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

/// @title Delegator
/// @notice Lets an off-chain signer create subscriptions for this contract: the coordinator accepts an EIP-712
///         signed subscription owned by this contract when it is signed by `getSigner()`.
abstract contract Delegator {
    address private signer;

    /// @param initialSigner the account whose signatures create subscriptions for this contract
    constructor(address initialSigner) {
        _updateSigner(initialSigner);
    }

    /// @notice The account whose EIP-712 signatures the coordinator accepts for this contract.
    function getSigner() external view returns (address) {
        return signer;
    }

    /// @notice Replaces the delegated signer.
    /// @param newSigner the new signer
    function _updateSigner(address newSigner) internal {
        signer = newSigner;
    }
}
