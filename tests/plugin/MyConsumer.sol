// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

import {CallbackConsumer} from "infernet-sdk/consumer/Callback.sol";

/// A consumer as a user of the kit writes it: ask the TGI service a question, keep the answer.
contract MyConsumer is CallbackConsumer {
    mapping(uint32 => string) public answers;

    constructor(address registry) CallbackConsumer(registry) {}

    function ask(string calldata question) external returns (uint32) {
        return _requestCompute(
            "tgi_client_inference_service", abi.encode(question), 1, address(0), 0, address(0), address(0)
        );
    }

    function _receiveCompute(
        uint32 subscriptionId,
        uint32,
        uint16,
        address,
        bytes calldata,
        bytes calldata output,
        bytes calldata,
        bytes32,
        uint256
    ) internal override {
        (bytes memory raw,) = abi.decode(output, (bytes, bytes));
        answers[subscriptionId] = abi.decode(raw, (string));
    }
}
