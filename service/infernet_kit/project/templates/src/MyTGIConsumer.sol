// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CallbackConsumer} from "infernet-sdk/consumer/Callback.sol";

/// @title MyTGIConsumer
/// @notice Asks the TGI service a question on chain; a node answers through `_receiveCompute`.
contract MyTGIConsumer is CallbackConsumer {
    /// @notice The container the nodes serve (its input: `abi.encode(string prompt)`).
    string public constant CONTAINER_ID = "tgi_client_inference_service";

    /// @notice subscription id => the generated answer.
    mapping(uint32 => string) public answers;

    /// @notice `node` answered subscription `subscriptionId`.
    event Answered(uint32 indexed subscriptionId, address indexed node, string answer);

    /// @param registry the Infernet Registry
    constructor(address registry) CallbackConsumer(registry) {}

    /// @notice Asks `question`: one node, no payment, no proof.
    /// @return the subscription id the answer will come for
    function ask(string calldata question) external returns (uint32) {
        return _requestCompute(CONTAINER_ID, abi.encode(question), 1, address(0), 0, address(0), address(0));
    }

    /// @dev The node delivers `abi.encode(bytes raw, bytes processed)`; TGI's raw output is `abi.encode(string)`.
    function _receiveCompute(
        uint32 subscriptionId,
        uint32, /* interval */
        uint16, /* redundancy */
        address node,
        bytes calldata, /* input */
        bytes calldata output,
        bytes calldata, /* proof */
        bytes32, /* containerId */
        uint256 /* index */
    ) internal override {
        (bytes memory raw,) = abi.decode(output, (bytes, bytes));
        string memory answer = abi.decode(raw, (string));
        answers[subscriptionId] = answer;
        emit Answered(subscriptionId, node, answer);
    }
}
