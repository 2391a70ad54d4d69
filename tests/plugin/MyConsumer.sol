// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

import {CallbackConsumer} from "infernet-sdk/consumer/Callback.sol";
import {console} from "forge-std/console.sol";

/// Ask the TGI service a question on chain; a node answers through `_receiveCompute`.
contract MyConsumer is CallbackConsumer {
    mapping(uint32 => string) public answers;

    constructor(address registry) CallbackConsumer(registry) {}

    function ask(string calldata question) external returns (uint32) {
        // A container id the node serves (`up`'s nodes serve both services), the input the service
        // decodes (`abi.encode(string prompt)`), one node, no payment, no wallet, no proof verifier.
        return _requestCompute(
            "tgi_client_inference_service", abi.encode(question), 1, address(0), 0, address(0), address(0)
        );
    }

    function _receiveCompute(
        uint32 subscriptionId,
        uint32, /* interval */
        uint16, /* redundancy */
        address, /* node */
        bytes calldata, /* input */
        bytes calldata output,
        bytes calldata, /* proof */
        bytes32, /* containerId */
        uint256 /* index */
    ) internal override {
        // The node delivers `abi.encode(bytes raw, bytes processed)`; the TGI service's raw output is
        // `abi.encode(string generated)` (its processed output is empty).
        (bytes memory raw,) = abi.decode(output, (bytes, bytes));
        string memory answer = abi.decode(raw, (string));
        answers[subscriptionId] = answer;
        console.log("Received output!", subscriptionId, answer);
        console.logBytes(output);
    }
}
