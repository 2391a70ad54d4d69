// SPDX-License-Identifier: MIT
pragma solidity ^0.8.4;

/// @title Owned
/// @notice Single-owner access control with the SDK's (solady `Ownable`) names, events and errors, so contracts
///         and tests written against the SDK's `Wallet` and `Fee` read `owner()` and match `Unauthorized()`.
abstract contract Owned {
    /// @dev Internal and first, so a derived contract packs small fields into its slot and reads both at once.
    address internal owner_;

    /// @notice Ownership moved from `oldOwner` to `newOwner`.
    event OwnershipTransferred(address indexed oldOwner, address indexed newOwner);

    /// @notice Only the owner may do this. `0x82b42900`
    error Unauthorized();
    /// @notice Ownership cannot be handed to the zero address. `0x7448fbae`
    error NewOwnerIsZeroAddress();

    /// @notice Reverts with `Unauthorized` unless the caller is the owner.
    modifier onlyOwner() {
        if (msg.sender != owner_) revert Unauthorized();
        _;
    }

    /// @param initialOwner the first owner
    constructor(address initialOwner) {
        _setOwner(initialOwner);
    }

    /// @notice The current owner.
    function owner() public view returns (address) {
        return owner_;
    }

    /// @notice Hands ownership to `newOwner` (owner only).
    /// @param newOwner the new owner, not the zero address
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert NewOwnerIsZeroAddress();
        _setOwner(newOwner);
    }

    function _setOwner(address newOwner) private {
        emit OwnershipTransferred(owner_, newOwner);
        owner_ = newOwner;
    }
}
