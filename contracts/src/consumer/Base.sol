// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Registry} from "../Registry.sol";
import {Coordinator} from "../Coordinator.sol";
import {Inbox} from "../Inbox.sol";

/// @title BaseConsumer
/// @notice What every consumer shares: the coordinator (looked up in the Registry once, at construction), the
///         coordinator-only entry point `rawReceiveCompute`, and the hooks an application overrides.
abstract contract BaseConsumer {
    /// @notice The coordinator this consumer subscribes with.
    Coordinator internal immutable COORDINATOR;
    /// @notice The Inbox where lazy subscriptions' outputs are read (`INBOX.read(containerId, node, index)`).
    Inbox internal immutable INBOX;

    /// @notice `rawReceiveCompute` was called by someone other than the coordinator. `0x9ec853e6`
    error NotCoordinator();

    /// @param registry the Infernet Registry
    constructor(address registry) {
        COORDINATOR = Coordinator(Registry(registry).COORDINATOR());
        INBOX = Inbox(Registry(registry).INBOX());
    }

    /// @notice The input nodes use for `interval` of `subscriptionId` (empty unless overridden).
    /// @param subscriptionId the subscription
    /// @param interval the interval being served
    /// @param timestamp the time the node asks at
    /// @param caller the node asking
    function getContainerInputs(uint32 subscriptionId, uint32 interval, uint32 timestamp, address caller)
        external
        view
        virtual
        returns (bytes memory)
    {}

    /// @notice Entry point of deliveries (coordinator only); forwards to `_receiveCompute`.
    /// @param subscriptionId the subscription served
    /// @param interval the interval served
    /// @param redundancy the number of answers for this interval, this one included
    /// @param node the delivering node
    /// @param input the node's input (empty for lazy subscriptions)
    /// @param output the output (empty for lazy subscriptions)
    /// @param proof the proof (empty for lazy subscriptions)
    /// @param containerId for lazy subscriptions the Inbox key, else zero
    /// @param index for lazy subscriptions the Inbox index, else zero
    function rawReceiveCompute(
        uint32 subscriptionId,
        uint32 interval,
        uint16 redundancy,
        address node,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof,
        bytes32 containerId,
        uint256 index
    ) external {
        if (msg.sender != address(COORDINATOR)) revert NotCoordinator();
        _receiveCompute(subscriptionId, interval, redundancy, node, input, output, proof, containerId, index);
    }

    /// @notice Override to handle a delivered output (see `rawReceiveCompute` for the parameters).
    function _receiveCompute(
        uint32 subscriptionId,
        uint32 interval,
        uint16 redundancy,
        address node,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof,
        bytes32 containerId,
        uint256 index
    ) internal virtual {}
}
