// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {SubscriptionConsumer} from "infernet-sdk/consumer/Subscription.sol";
import {Delegator} from "infernet-sdk/pattern/Delegator.sol";
import {InboxItem} from "infernet-sdk/Inbox.sol";

/// @title DelegateConsumer
/// @notice Receives outputs of subscriptions its signer created off-chain (EIP-712, via a node's
///         `deliverComputeDelegatee`). The input comes from the off-chain request, so `getContainerInputs` is empty.
///         Lazy subscriptions are read back from the Inbox on delivery.
contract DelegateConsumer is SubscriptionConsumer, Delegator {
    /// @notice The account allowed to change the signer.
    address public immutable OWNER;

    /// @notice subscription id => interval => raw container output (`raw` of `abi.encode(bytes raw, bytes processed)`).
    mapping(uint32 => mapping(uint32 => bytes)) public outputs;
    /// @notice subscription id => number of deliveries received.
    mapping(uint32 => uint256) public deliveries;

    /// @notice `node` delivered `raw` for `interval` of `subscriptionId`.
    event DelegatedOutput(uint32 indexed subscriptionId, uint32 indexed interval, address indexed node, bytes raw);

    /// @notice Only the owner may change the signer.
    error Unauthorized();

    /// @param registry the Infernet Registry
    /// @param signer the account whose EIP-712 signatures create subscriptions for this contract
    constructor(address registry, address signer) SubscriptionConsumer(registry) Delegator(signer) {
        OWNER = msg.sender;
    }

    /// @notice Replaces the delegated signer (owner only).
    /// @param newSigner the new signer
    function setSigner(address newSigner) external {
        if (msg.sender != OWNER) revert Unauthorized();
        _updateSigner(newSigner);
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
        outputs[subscriptionId][interval] = raw;
        ++deliveries[subscriptionId];
        emit DelegatedOutput(subscriptionId, interval, node, raw);
    }
}
