// SPDX-License-Identifier: MIT
pragma solidity ^0.8.4;

import {Registry} from "../Registry.sol";

/// @title Coordinated
/// @notice Restricts functions to the coordinator named in the Registry (`onlyCoordinator`), as the Wallet and
///         Inbox need; the SDK v1.1 exposes it under this path for user contracts too.
abstract contract Coordinated {
    /// @dev Read once at construction: the coordinator never changes for a deployment.
    address private immutable COORDINATOR;

    /// @notice Only the coordinator may do this. `0x9ec853e6`
    error NotCoordinator();

    /// @notice Reverts with `NotCoordinator` unless the caller is the coordinator.
    modifier onlyCoordinator() {
        if (msg.sender != COORDINATOR) revert NotCoordinator();
        _;
    }

    /// @param registry the registry naming the coordinator
    constructor(Registry registry) {
        COORDINATOR = registry.COORDINATOR();
    }
}
