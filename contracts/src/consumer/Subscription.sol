// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {BaseConsumer} from "./Base.sol";

/// @title SubscriptionConsumer
/// @notice Recurring requests: the consumer creates and cancels subscriptions and answers `getContainerInputs`
///         for each interval itself.
abstract contract SubscriptionConsumer is BaseConsumer {
    /// @param registry the Infernet Registry
    constructor(address registry) BaseConsumer(registry) {}

    /// @notice Creates a subscription owned by this contract, first active `period` seconds from now.
    /// @param containerId comma-joined container ids
    /// @param frequency number of intervals
    /// @param period seconds between intervals
    /// @param redundancy nodes answering each interval
    /// @param lazy outputs go to the Inbox, deliveries carry a pointer
    /// @param paymentToken payment token (`address(0)` for ETH)
    /// @param paymentAmount paid per delivery (0: free)
    /// @param wallet the consumer's payment wallet
    /// @param verifier proof verifier (`IVerifier`), `address(0)` for none
    /// @return the subscription id
    function _createComputeSubscription(
        string memory containerId,
        uint32 frequency,
        uint32 period,
        uint16 redundancy,
        bool lazy,
        address paymentToken,
        uint256 paymentAmount,
        address wallet,
        address verifier
    ) internal returns (uint32) {
        return COORDINATOR.createSubscription(
            containerId, frequency, period, redundancy, lazy, paymentToken, paymentAmount, wallet, verifier
        );
    }

    /// @notice Cancels a subscription this contract owns.
    /// @param subscriptionId the subscription
    function _cancelComputeSubscription(uint32 subscriptionId) internal {
        COORDINATOR.cancelSubscription(subscriptionId);
    }
}
