// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {SubscriptionConsumer} from "infernet-sdk/consumer/Subscription.sol";
import {InboxItem} from "infernet-sdk/Inbox.sol";

/// @title RecurringConsumer
/// @notice A recurring TGI subscription: every interval gets its own prompt ("<prompt> (interval N)") and its
///         answer is kept per interval. Lazy subscriptions are read back from the Inbox on delivery.
contract RecurringConsumer is SubscriptionConsumer {
    /// @notice The container serving the requests.
    string public constant CONTAINER_ID = "tgi_client_inference_service";

    /// @notice subscription id => base prompt.
    mapping(uint32 => string) public prompts;
    /// @notice subscription id => the account that started it (may cancel it).
    mapping(uint32 => address) public requesters;
    /// @notice subscription id => interval => generated text (the latest answer if several nodes answer).
    mapping(uint32 => mapping(uint32 => string)) public outputs;
    /// @notice subscription id => number of deliveries received.
    mapping(uint32 => uint256) public deliveries;

    /// @notice `requester` started subscription `subscriptionId`.
    event RecurringStarted(uint32 indexed subscriptionId, address indexed requester, uint32 frequency, uint32 period);
    /// @notice `node` answered `interval` of `subscriptionId` with `text`.
    event IntervalAnswered(uint32 indexed subscriptionId, uint32 indexed interval, address indexed node, string text);

    /// @notice Only the account that started the subscription may cancel it.
    error NotRequester();

    /// @param registry the Infernet Registry
    constructor(address registry) SubscriptionConsumer(registry) {}

    /// @notice Starts a subscription asking `prompt` every `period` seconds, `frequency` times.
    /// @param prompt the base prompt
    /// @param frequency number of intervals
    /// @param period seconds between intervals (the first interval starts one period from now)
    /// @param redundancy nodes answering each interval
    /// @param lazy store outputs in the Inbox and deliver a pointer
    /// @return subscriptionId the new subscription
    function start(string calldata prompt, uint32 frequency, uint32 period, uint16 redundancy, bool lazy)
        external
        returns (uint32 subscriptionId)
    {
        subscriptionId = _createComputeSubscription(
            CONTAINER_ID, frequency, period, redundancy, lazy, address(0), 0, address(0), address(0)
        );
        prompts[subscriptionId] = prompt;
        requesters[subscriptionId] = msg.sender;
        emit RecurringStarted(subscriptionId, msg.sender, frequency, period);
    }

    /// @notice Cancels a subscription started by the caller.
    /// @param subscriptionId the subscription
    function cancel(uint32 subscriptionId) external {
        if (requesters[subscriptionId] != msg.sender) revert NotRequester();
        _cancelComputeSubscription(subscriptionId);
    }

    /// @notice `abi.encode(string)` of "<prompt> (interval N)" for the interval being served.
    function getContainerInputs(uint32 subscriptionId, uint32 interval, uint32, address)
        external
        view
        override
        returns (bytes memory)
    {
        return abi.encode(intervalPrompt(subscriptionId, interval));
    }

    /// @notice The prompt of `interval`: "<prompt> (interval N)".
    function intervalPrompt(uint32 subscriptionId, uint32 interval) public view returns (string memory) {
        return string.concat(prompts[subscriptionId], " (interval ", _toString(interval), ")");
    }

    function _receiveCompute(
        uint32 subscriptionId,
        uint32 interval,
        uint16,
        address node,
        bytes calldata,
        bytes calldata output,
        bytes calldata,
        bytes32 containerId,
        uint256 index
    ) internal override {
        bytes memory delivered = containerId == bytes32(0) ? output : INBOX.read(containerId, node, index).output;
        _record(subscriptionId, interval, node, delivered);
    }

    function _record(uint32 subscriptionId, uint32 interval, address node, bytes memory delivered) private {
        (bytes memory raw,) = abi.decode(delivered, (bytes, bytes));
        string memory text = abi.decode(raw, (string));
        outputs[subscriptionId][interval] = text;
        ++deliveries[subscriptionId];
        emit IntervalAnswered(subscriptionId, interval, node, text);
    }

    function _toString(uint256 value) private pure returns (string memory) {
        if (value == 0) return "0";
        uint256 digits;
        for (uint256 v = value; v != 0; v /= 10) {
            ++digits;
        }
        bytes memory buffer = new bytes(digits);
        for (; value != 0; value /= 10) {
            buffer[--digits] = bytes1(uint8(48 + value % 10));
        }
        return string(buffer);
    }
}
