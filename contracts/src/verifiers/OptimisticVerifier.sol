// SPDX-License-Identifier: MIT
pragma solidity ^0.8.4;

import {Registry} from "../Registry.sol";
import {BaseVerifier} from "./BaseVerifier.sol";

/// @title OptimisticVerifier
/// @notice Example optimistic verifier: a delivered proof is accepted unless the arbiter (the owner) challenges it
///         within `CHALLENGE_WINDOW`; once the window has passed anyone may settle it in the node's favour. The
///         coordinator's own week-long window stays the backstop (anyone may finalize there after it).
contract OptimisticVerifier is BaseVerifier {
    /// @notice Seconds after a delivery during which the arbiter may reject its proof.
    uint32 public immutable CHALLENGE_WINDOW;

    /// @notice `keccak256(abi.encode(subscriptionId, interval, node))` => when its proof arrived (0: none pending).
    mapping(bytes32 => uint256) public submittedAt;

    /// @notice `node` delivered `proof` for (`subscriptionId`, `interval`); the window opens.
    event ProofSubmitted(uint32 indexed subscriptionId, uint32 indexed interval, address indexed node, bytes proof);

    /// @notice The window must be shorter than the coordinator's proof window, else it could never be used.
    error ChallengeWindowTooLong();
    /// @notice No proof of this node is pending for (subscriptionId, interval).
    error NoPendingProof();
    /// @notice The challenge window has passed: the proof can only be settled as valid.
    error ChallengeWindowClosed();
    /// @notice The challenge window is still open: the proof cannot be settled yet.
    error ChallengeWindowOpen();

    /// @param registry the registry naming the coordinator
    /// @param arbiter the owner, who sets fees and may challenge proofs
    /// @param payee receives the verification fees
    /// @param challengeWindow seconds a proof may be challenged, below the coordinator's `PROOF_WINDOW`
    constructor(Registry registry, address arbiter, address payee, uint32 challengeWindow)
        BaseVerifier(registry, arbiter, payee)
    {
        if (challengeWindow >= PROOF_COORDINATOR.PROOF_WINDOW()) revert ChallengeWindowTooLong();
        CHALLENGE_WINDOW = challengeWindow;
    }

    /// @notice Records the proof and opens its challenge window (coordinator only).
    /// @param subscriptionId the subscription delivered
    /// @param interval the interval delivered
    /// @param node the delivering node
    /// @param proof the proof, published in `ProofSubmitted` for challengers to inspect
    function requestProofVerification(uint32 subscriptionId, uint32 interval, address node, bytes calldata proof)
        external
        onlyCoordinator
    {
        submittedAt[_key(subscriptionId, interval, node)] = block.timestamp;
        emit ProofSubmitted(subscriptionId, interval, node, proof);
    }

    /// @notice Rejects a pending proof within its window: the node's stake goes to the consumer (arbiter only).
    /// @param subscriptionId the subscription
    /// @param interval the interval
    /// @param node the node whose proof is rejected
    function challenge(uint32 subscriptionId, uint32 interval, address node) external onlyOwner {
        if (block.timestamp >= _take(subscriptionId, interval, node) + CHALLENGE_WINDOW) {
            revert ChallengeWindowClosed();
        }
        _finalize(subscriptionId, interval, node, false);
    }

    /// @notice Accepts an unchallenged proof once its window has passed: the node is paid (anyone may call).
    /// @param subscriptionId the subscription
    /// @param interval the interval
    /// @param node the node whose proof is accepted
    function settle(uint32 subscriptionId, uint32 interval, address node) external {
        if (block.timestamp < _take(subscriptionId, interval, node) + CHALLENGE_WINDOW) revert ChallengeWindowOpen();
        _finalize(subscriptionId, interval, node, true);
    }

    /// @dev Removes and returns the pending proof's arrival time.
    function _take(uint32 subscriptionId, uint32 interval, address node) private returns (uint256 at) {
        bytes32 key = _key(subscriptionId, interval, node);
        at = submittedAt[key];
        if (at == 0) revert NoPendingProof();
        delete submittedAt[key];
    }

    function _key(uint32 subscriptionId, uint32 interval, address node) private pure returns (bytes32) {
        return keccak256(abi.encode(subscriptionId, interval, node));
    }
}
