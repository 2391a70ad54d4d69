// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Registry} from "./Registry.sol";

/// @notice One stored output (field order is ABI).
struct InboxItem {
    /// @notice Block timestamp of the write.
    uint32 timestamp;
    /// @notice Subscription served (0 for a node's own write).
    uint32 subscriptionId;
    /// @notice Interval served (0 for a node's own write).
    uint32 interval;
    /// @notice Input the node used.
    bytes input;
    /// @notice The container output.
    bytes output;
    /// @notice The proof (may be empty).
    bytes proof;
}

/// @title Inbox
/// @notice Stores outputs of lazy subscriptions (written by the coordinator on delivery) and outputs nodes write
///         on their own; items are append-only per (containerId, node).
contract Inbox {
    /// @notice The coordinator allowed to write on behalf of nodes.
    address public immutable COORDINATOR;

    mapping(bytes32 => mapping(address => InboxItem[])) internal items;

    /// @notice A new item was stored at `items[containerId][node][index]`.
    event NewInboxItem(bytes32 indexed containerId, address indexed node, uint256 index);

    /// @notice Only the coordinator may call `writeViaCoordinator`. `0x9ec853e6`
    error NotCoordinator();
    /// @notice No item at this (containerId, node, index).
    error InboxItemNotFound();

    /// @param registry the registry naming the coordinator
    constructor(Registry registry) {
        COORDINATOR = registry.COORDINATOR();
    }

    /// @notice Stores an output written by the calling node itself (subscription id and interval 0).
    /// @param containerId container id hash the output belongs to
    /// @param input input used
    /// @param output the output
    /// @param proof the proof (may be empty)
    /// @return index of the new item
    function write(bytes32 containerId, bytes calldata input, bytes calldata output, bytes calldata proof)
        external
        returns (uint256)
    {
        return _write(containerId, msg.sender, 0, 0, input, output, proof);
    }

    /// @notice Stores the output of a lazy subscription's delivery (coordinator only).
    /// @param containerId the subscription's container id hash
    /// @param node the delivering node
    /// @param subscriptionId subscription served
    /// @param interval interval served
    /// @param input input used
    /// @param output the output
    /// @param proof the proof (may be empty)
    /// @return index of the new item
    function writeViaCoordinator(
        bytes32 containerId,
        address node,
        uint32 subscriptionId,
        uint32 interval,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof
    ) external returns (uint256) {
        if (msg.sender != COORDINATOR) revert NotCoordinator();
        return _write(containerId, node, subscriptionId, interval, input, output, proof);
    }

    /// @notice Reads one item.
    /// @param containerId container id hash
    /// @param node the node that delivered it
    /// @param index its index
    function read(bytes32 containerId, address node, uint256 index) external view returns (InboxItem memory) {
        InboxItem[] storage list = items[containerId][node];
        if (index >= list.length) revert InboxItemNotFound();
        return list[index];
    }

    /// @notice Number of items stored for (containerId, node).
    /// @param containerId container id hash
    /// @param node the node
    function itemCount(bytes32 containerId, address node) external view returns (uint256) {
        return items[containerId][node].length;
    }

    function _write(
        bytes32 containerId,
        address node,
        uint32 subscriptionId,
        uint32 interval,
        bytes calldata input,
        bytes calldata output,
        bytes calldata proof
    ) internal returns (uint256 index) {
        InboxItem[] storage list = items[containerId][node];
        index = list.length;
        InboxItem storage item = list.push();
        item.timestamp = uint32(block.timestamp);
        item.subscriptionId = subscriptionId;
        item.interval = interval;
        if (input.length != 0) item.input = input;
        if (output.length != 0) item.output = output;
        if (proof.length != 0) item.proof = proof;
        emit NewInboxItem(containerId, node, index);
    }
}
