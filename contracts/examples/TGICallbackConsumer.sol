// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {CallbackConsumer} from "infernet-sdk/consumer/Callback.sol";

/// @title TGICallbackConsumer
/// @notice Asks the TGI client service for a completion (one-shot) and keeps the generated text.
/// @dev Input: `abi.encode(string prompt)`. Output delivered by the node: `abi.encode(bytes raw, bytes processed)`
///      with `raw = abi.encode(string generatedText)`.
contract TGICallbackConsumer is CallbackConsumer {
    /// @notice The container serving the requests.
    string public constant CONTAINER_ID = "tgi_client_inference_service";

    /// @notice subscription id => generated text (the latest answer if several nodes answer).
    mapping(uint32 => string) public outputs;

    /// @notice `requester` asked for a completion served by subscription `subscriptionId`.
    event ChatRequested(uint32 indexed subscriptionId, address indexed requester);
    /// @notice `node` answered subscription `subscriptionId` with `text`.
    event ChatAnswered(uint32 indexed subscriptionId, address indexed node, string text);

    /// @param registry the Infernet Registry
    constructor(address registry) CallbackConsumer(registry) {}

    /// @notice Requests a completion, as in the TGI service documentation.
    /// @param inputs `abi.encode(string prompt)`
    /// @return subscriptionId the subscription serving the request
    function chatWithLLM(bytes memory inputs) public returns (uint32 subscriptionId) {
        subscriptionId = _requestCompute(CONTAINER_ID, inputs, 1, address(0), 0, address(0), address(0));
        emit ChatRequested(subscriptionId, msg.sender);
    }

    function _receiveCompute(
        uint32 subscriptionId,
        uint32,
        uint16,
        address node,
        bytes calldata,
        bytes calldata output,
        bytes calldata,
        bytes32,
        uint256
    ) internal override {
        _record(subscriptionId, node, output);
    }

    function _record(uint32 subscriptionId, address node, bytes calldata output) private {
        (bytes memory raw,) = abi.decode(output, (bytes, bytes));
        string memory text = abi.decode(raw, (string));
        outputs[subscriptionId] = text;
        emit ChatAnswered(subscriptionId, node, text);
    }
}
