// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SubscriptionConsumer} from "infernet-sdk/consumer/Subscription.sol";

/// @title MyRecurringConsumer
/// @notice Asks the TGI service the same question every `period` seconds; each interval's answer is kept.
contract MyRecurringConsumer is SubscriptionConsumer {
    /// @notice The container the nodes serve (its input: `abi.encode(string prompt)`).
    string public constant CONTAINER_ID = "tgi_client_inference_service";

    /// @notice subscription id => the question asked each interval.
    mapping(uint32 => string) public questions;
    /// @notice subscription id => interval => the answer.
    mapping(uint32 => mapping(uint32 => string)) public answers;

    /// @param registry the Infernet Registry
    constructor(address registry) SubscriptionConsumer(registry) {}

    /// @notice Asks `question` `frequency` times, every `period` seconds (the first interval one period from now).
    /// @return subscriptionId the subscription
    function start(string calldata question, uint32 frequency, uint32 period) external returns (uint32 subscriptionId) {
        subscriptionId = _createComputeSubscription(
            CONTAINER_ID, frequency, period, 1, false, address(0), 0, address(0), address(0)
        );
        questions[subscriptionId] = question;
    }

    /// @notice What a node reads before serving an interval: `abi.encode(string prompt)`.
    function getContainerInputs(uint32 subscriptionId, uint32, uint32, address)
        external
        view
        override
        returns (bytes memory)
    {
        return abi.encode(questions[subscriptionId]);
    }

    function _receiveCompute(
        uint32 subscriptionId,
        uint32 interval,
        uint16, /* redundancy */
        address, /* node */
        bytes calldata, /* input */
        bytes calldata output,
        bytes calldata, /* proof */
        bytes32, /* containerId */
        uint256 /* index */
    ) internal override {
        (bytes memory raw,) = abi.decode(output, (bytes, bytes));
        answers[subscriptionId][interval] = abi.decode(raw, (string));
    }
}
