// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

/// @title Fee
/// @notice The protocol fee: a share (in basis points) of every paid delivery goes to `FEE_RECIPIENT`.
contract Fee {
    /// @dev Recipient and rate share one slot so the coordinator reads both with one SLOAD.
    address private recipient;
    uint16 private feeBasisPoints;

    /// @notice The account allowed to change the fee.
    address public immutable OWNER;

    /// @notice The fee recipient or rate changed.
    event FeeUpdated(address recipient, uint16 feeBasisPoints);

    /// @notice Only the owner may change the fee.
    error Unauthorized();
    /// @notice The fee cannot exceed 10,000 basis points (100 %).
    error InvalidFee();

    /// @param initialRecipient receives the protocol fee
    /// @param initialFeeBasisPoints fee in basis points (1/100 of a percent), at most 10,000
    constructor(address initialRecipient, uint16 initialFeeBasisPoints) {
        OWNER = msg.sender;
        _set(initialRecipient, initialFeeBasisPoints);
    }

    /// @notice The fee recipient.
    function FEE_RECIPIENT() external view returns (address) {
        return recipient;
    }

    /// @notice The fee in basis points.
    function FEE() external view returns (uint16) {
        return feeBasisPoints;
    }

    /// @notice Recipient and rate together.
    function terms() external view returns (address, uint16) {
        return (recipient, feeBasisPoints);
    }

    /// @notice Changes the fee recipient and rate (owner only).
    /// @param newRecipient the new recipient
    /// @param newFeeBasisPoints the new rate, at most 10,000
    function update(address newRecipient, uint16 newFeeBasisPoints) external {
        if (msg.sender != OWNER) revert Unauthorized();
        _set(newRecipient, newFeeBasisPoints);
    }

    function _set(address newRecipient, uint16 newFeeBasisPoints) private {
        if (newFeeBasisPoints > 10_000) revert InvalidFee();
        recipient = newRecipient;
        feeBasisPoints = newFeeBasisPoints;
        emit FeeUpdated(newRecipient, newFeeBasisPoints);
    }
}
