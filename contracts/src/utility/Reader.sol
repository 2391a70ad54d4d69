// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Registry} from "../Registry.sol";
import {Coordinator, Subscription} from "../Coordinator.sol";

/// @title Reader
/// @notice Batch views for nodes syncing coordinator state in few RPC calls.
contract Reader {
    /// @notice The coordinator read from.
    Coordinator public immutable COORDINATOR;

    /// @notice `ids` and `intervals` have different lengths.
    error LengthMismatch();

    /// @param registry the registry naming the coordinator
    constructor(Registry registry) {
        COORDINATOR = Coordinator(registry.COORDINATOR());
    }

    /// @notice Subscriptions `startId` .. `endId - 1` (ids never created come back zeroed); reverts (arithmetic
    ///         panic, as the SDK) when `endId < startId`.
    /// @param startId first id (inclusive)
    /// @param endId last id (exclusive)
    function readSubscriptionBatch(uint32 startId, uint32 endId) external view returns (Subscription[] memory subs) {
        uint256 n = endId - startId;
        subs = new Subscription[](n);
        for (uint256 i; i < n; ++i) {
            subs[i] = COORDINATOR.getSubscription(uint32(startId + i));
        }
    }

    /// @notice Redundancy counts of `(ids[i], intervals[i])`.
    /// @param ids subscription ids
    /// @param intervals intervals, one per id
    function readRedundancyCountBatch(uint32[] calldata ids, uint32[] calldata intervals)
        external
        view
        returns (uint16[] memory counts)
    {
        if (ids.length != intervals.length) revert LengthMismatch();
        counts = new uint16[](ids.length);
        for (uint256 i; i < ids.length; ++i) {
            counts[i] = COORDINATOR.redundancyCount(keccak256(abi.encode(ids[i], intervals[i])));
        }
    }
}
