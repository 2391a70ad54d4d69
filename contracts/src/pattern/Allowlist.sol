// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

/// @title Allowlist
/// @notice Restricts which nodes a consumer accepts outputs from (`onlyAllowedNode`).
abstract contract Allowlist {
    mapping(address => bool) private allowedNodes;

    /// @notice The delivering node is not on the allowlist. `0x42764946`
    error NodeNotAllowed();
    /// @notice `nodes` and `statuses` have different lengths.
    error AllowlistLengthMismatch();

    /// @param initiallyAllowed nodes allowed from the start
    constructor(address[] memory initiallyAllowed) {
        for (uint256 i; i < initiallyAllowed.length; ++i) {
            _setAllowed(initiallyAllowed[i], true);
        }
    }

    /// @notice Reverts with `NodeNotAllowed` unless `node` is allowed.
    modifier onlyAllowedNode(address node) {
        if (!allowedNodes[node]) revert NodeNotAllowed();
        _;
    }

    /// @notice Whether `node` is allowed.
    /// @param node the node address
    function isAllowedNode(address node) external view returns (bool) {
        return allowedNodes[node];
    }

    /// @notice Sets `statuses[i]` for `nodes[i]`.
    /// @param nodes node addresses
    /// @param statuses allowed (true) or not (false), one per node
    function _updateAllowlist(address[] memory nodes, bool[] memory statuses) internal {
        if (nodes.length != statuses.length) revert AllowlistLengthMismatch();
        for (uint256 i; i < nodes.length; ++i) {
            _setAllowed(nodes[i], statuses[i]);
        }
    }

    function _setAllowed(address node, bool allowed) private {
        allowedNodes[node] = allowed;
    }
}
