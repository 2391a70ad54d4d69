// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {BaseConsumer} from "./Base.sol";
import {CodeStore} from "../utility/CodeStore.sol";

/// @title CallbackConsumer
/// @notice One-shot requests: `_requestCompute` creates a subscription served once (frequency 1, period 0) and
///         keeps its inputs, which nodes read back through `getContainerInputs`.
/// @dev Inputs longer than 32 bytes are kept as the code of a data contract at an address derived from the
///      subscription id (`CodeStore.writeAt`): far cheaper than storage for prompts, and no slot is needed to find
///      them. Shorter inputs (one or two slots, about as cheap as a contract) and inputs too large for a contract (over
///      24,575 bytes) go to the SDK's `subscriptionInputs` mapping, so SDK code reading it sees short inputs there.
abstract contract CallbackConsumer is BaseConsumer {
    /// @notice subscription id => inputs of at most 32 bytes or too large for a data contract (the SDK's name,
    ///         so SDK code compiles); the others are read with `getContainerInputs`.
    mapping(uint32 => bytes) internal subscriptionInputs;

    /// @param registry the Infernet Registry
    constructor(address registry) BaseConsumer(registry) {}

    /// @notice Requests one output of `containerId` for `inputs`.
    /// @param containerId comma-joined container ids
    /// @param inputs inputs handed to the containers
    /// @param redundancy number of nodes that should answer
    /// @param paymentToken payment token (`address(0)` for ETH)
    /// @param paymentAmount paid per delivery (0: free)
    /// @param wallet the consumer's payment wallet
    /// @param verifier proof verifier (`IVerifier`), `address(0)` for none
    /// @return the subscription id
    function _requestCompute(
        string memory containerId,
        bytes memory inputs,
        uint16 redundancy,
        address paymentToken,
        uint256 paymentAmount,
        address wallet,
        address verifier
    ) internal returns (uint32) {
        uint32 subscriptionId = COORDINATOR.createSubscription(
            containerId, 1, 0, redundancy, false, paymentToken, paymentAmount, wallet, verifier
        );
        if (inputs.length > 32 && CodeStore.fits(inputs)) {
            CodeStore.writeAt(bytes32(uint256(subscriptionId)), inputs);
        } else if (inputs.length != 0) {
            subscriptionInputs[subscriptionId] = inputs;
        }
        return subscriptionId;
    }

    /// @notice The inputs given to `_requestCompute` for `subscriptionId` (empty if none).
    /// @inheritdoc BaseConsumer
    function getContainerInputs(uint32 subscriptionId, uint32, uint32, address)
        external
        view
        virtual
        override
        returns (bytes memory)
    {
        bytes memory stored = subscriptionInputs[subscriptionId];
        if (stored.length != 0) return stored;
        return CodeStore.read(CodeStore.pointerAt(address(this), bytes32(uint256(subscriptionId))));
    }

    /// @notice Serves the inputs being stored to their data contract while it is created (see `CodeStore`);
    ///         returns nothing outside of `_requestCompute`.
    function infernetStagedCode() external view {
        CodeStore.returnStaged();
    }
}
