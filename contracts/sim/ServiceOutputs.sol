// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

/// @title ServiceOutputs
/// @notice The kit's services' on-chain shapes (PROTOCOL.md section 2; `infernet_kit.protocol.tgi`/`hf`), so a
///         forge test hands a consumer exactly what a node would deliver.
/// @dev A node delivers `input = abi.encode(bytes raw, bytes processed)` and `output = abi.encode(bytes raw,
///      bytes processed)`; the kit's services leave `processed` empty. Scores are integer millionths.
library ServiceOutputs {
    /// @notice The TGI service's container id.
    string internal constant TGI = "tgi_client_inference_service";
    /// @notice The HF inference client service's container id.
    string internal constant HF = "hf_inference_client_service";

    /// @notice HF task ids (seed 001): 1 text generation, 2 text classification, 3 token classification,
    ///         4 summarization.
    uint8 internal constant TEXT_GENERATION = 1;
    uint8 internal constant TEXT_CLASSIFICATION = 2;
    uint8 internal constant TOKEN_CLASSIFICATION = 3;
    uint8 internal constant SUMMARIZATION = 4;

    /// @notice What a TGI consumer sends: `abi.encode(string prompt)`.
    function tgiInput(string memory prompt) internal pure returns (bytes memory) {
        return abi.encode(prompt);
    }

    /// @notice The TGI service's raw output: `abi.encode(string generated)`.
    function tgiOutput(string memory generated) internal pure returns (bytes memory) {
        return abi.encode(generated);
    }

    /// @notice What an HF consumer sends: `abi.encode(uint8 task_id, string model_id, string prompt)`.
    function hfInput(uint8 taskId, string memory modelId, string memory prompt) internal pure returns (bytes memory) {
        return abi.encode(taskId, modelId, prompt);
    }

    /// @notice The HF raw output of text generation (task 1): `abi.encode(string)`.
    function hfTextGeneration(string memory generated) internal pure returns (bytes memory) {
        return abi.encode(generated);
    }

    /// @notice The HF raw output of summarization (task 4): `abi.encode(string summary_text)`.
    function hfSummarization(string memory summary) internal pure returns (bytes memory) {
        return abi.encode(summary);
    }

    /// @notice The HF raw output of text classification (task 2): `abi.encode(string[] labels, uint256[] scores)`.
    function hfTextClassification(string[] memory labels, uint256[] memory scores)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encode(labels, scores);
    }

    /// @notice The HF raw output of token classification (task 3): `abi.encode(string[] entity_groups,
    ///         uint256[] scores)`.
    function hfTokenClassification(string[] memory entityGroups, uint256[] memory scores)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encode(entityGroups, scores);
    }

    /// @notice The pair a node delivers for a service's raw bytes: `abi.encode(bytes raw, bytes(""))`.
    function pair(bytes memory raw) internal pure returns (bytes memory) {
        return abi.encode(raw, bytes(""));
    }
}
