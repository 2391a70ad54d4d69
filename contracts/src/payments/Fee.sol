// SPDX-License-Identifier: MIT
pragma solidity ^0.8.4;

import {Owned} from "../utility/Owned.sol";

/// @title Fee
/// @notice The protocol fee, as the SDK v1.1 defines it: owned by the fee recipient, who may change the rate or
///         hand the contract (and the fees) on. The coordinator takes `2 × FEE` basis points of every payment.
contract Fee is Owned {
    /// @notice The fee in basis points (1/100 of a percent); packed with the owner, read with one SLOAD.
    uint16 public FEE;

    /// @notice The owner set the fee to `fee` basis points.
    event FeeUpdated(uint16 fee);

    /// @param feeRecipient owner of this contract and recipient of the protocol fee
    /// @param fee fee in basis points
    constructor(address feeRecipient, uint16 fee) Owned(feeRecipient) {
        FEE = fee;
    }

    /// @notice Changes the fee (owner only).
    /// @param newFee the new fee in basis points
    function updateFee(uint16 newFee) external onlyOwner {
        FEE = newFee;
        emit FeeUpdated(newFee);
    }

    /// @notice The fee recipient: the owner.
    function FEE_RECIPIENT() external view returns (address) {
        return owner_;
    }

    /// @notice Recipient and rate together (one call for the coordinator).
    function terms() external view returns (address, uint16) {
        return (owner_, FEE);
    }
}
