// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Registry} from "./Registry.sol";
import {CodeStore} from "./utility/CodeStore.sol";
import {Coordinated} from "./utility/Coordinated.sol";

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
/// @dev An item takes one storage slot (timestamp, ids and the address of a data contract); its bytes live in
///      that data contract's code (`CodeStore`: `uint32 inputLength ++ uint32 outputLength ++ input ++ output ++
///      proof`), which costs a fraction of storing them in slots. Payloads too large for a contract are kept in
///      storage instead.
contract Inbox is Coordinated {
    /// @dev One slot: the item's metadata and where its bytes are (`address(0)`: empty or oversized).
    struct Entry {
        uint32 timestamp;
        uint32 subscriptionId;
        uint32 interval;
        address data;
    }

    /// @dev Length prefix of a stored payload: two uint32 lengths.
    uint256 private constant HEADER = 8;

    mapping(bytes32 => mapping(address => Entry[])) internal entries;
    mapping(bytes32 => mapping(address => mapping(uint256 => InboxItem))) internal oversized;

    /// @notice A new item was stored at index `index` of (containerId, node).
    event NewInboxItem(bytes32 indexed containerId, address indexed node, uint256 index);

    /// @notice No item at this (containerId, node, index).
    error InboxItemNotFound();

    /// @param registry the registry naming the coordinator
    constructor(Registry registry) Coordinated(registry) {}

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
    ) external onlyCoordinator returns (uint256) {
        return _write(containerId, node, subscriptionId, interval, input, output, proof);
    }

    /// @notice Reads one item.
    /// @param containerId container id hash
    /// @param node the node that delivered it
    /// @param index its index
    function read(bytes32 containerId, address node, uint256 index) public view returns (InboxItem memory item) {
        Entry[] storage list = entries[containerId][node];
        if (index >= list.length) revert InboxItemNotFound();
        Entry memory entry = list[index];
        if (entry.data != address(0)) {
            (item.input, item.output, item.proof) = _load(entry.data);
        } else {
            item = oversized[containerId][node][index];
        }
        item.timestamp = entry.timestamp;
        item.subscriptionId = entry.subscriptionId;
        item.interval = entry.interval;
    }

    /// @notice One item field by field: the SDK's public `items` getter.
    /// @param containerId container id hash
    /// @param node the node that delivered it
    /// @param index its index
    function items(bytes32 containerId, address node, uint256 index)
        external
        view
        returns (
            uint32 timestamp,
            uint32 subscriptionId,
            uint32 interval,
            bytes memory input,
            bytes memory output,
            bytes memory proof
        )
    {
        InboxItem memory item = read(containerId, node, index);
        return (item.timestamp, item.subscriptionId, item.interval, item.input, item.output, item.proof);
    }

    /// @notice Number of items stored for (containerId, node).
    /// @param containerId container id hash
    /// @param node the node
    function itemCount(bytes32 containerId, address node) external view returns (uint256) {
        return entries[containerId][node].length;
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
        Entry[] storage list = entries[containerId][node];
        index = list.length;
        address data;
        if (input.length + output.length + proof.length != 0) {
            bytes memory payload = abi.encodePacked(uint32(input.length), uint32(output.length), input, output, proof);
            if (CodeStore.fits(payload)) {
                data = CodeStore.write(payload);
            } else {
                InboxItem storage big = oversized[containerId][node][index];
                big.input = input;
                big.output = output;
                big.proof = proof;
            }
        }
        list.push(Entry(uint32(block.timestamp), subscriptionId, interval, data));
        emit NewInboxItem(containerId, node, index);
    }

    /// @dev Splits a stored payload back into (input, output, proof).
    function _load(address data) private view returns (bytes memory input, bytes memory output, bytes memory proof) {
        bytes memory header = CodeStore.read(data, 0, HEADER);
        uint256 inputLength = uint32(bytes4(header));
        uint256 outputLength;
        assembly ("memory-safe") {
            outputLength := shr(224, shl(32, mload(add(header, 0x20))))
        }
        uint256 proofStart = HEADER + inputLength + outputLength;
        input = CodeStore.read(data, HEADER, inputLength);
        output = CodeStore.read(data, HEADER + inputLength, outputLength);
        proof = CodeStore.read(data, proofStart, CodeStore.size(data) - proofStart);
    }
}
