// SPDX-License-Identifier: MIT
pragma solidity ^0.8.4;

/// @title IVerifier
/// @notice A proof verifier a subscription can name (SDK v1.1 interface). On a paid delivery the coordinator pays
///         the verifier's fee, escrows the node's stake and the consumer's payment, then calls
///         `requestProofVerification`; the verifier answers with `Coordinator.finalizeProofVerification`, at once
///         (atomic) or later (optimistic, within a week).
interface IVerifier {
    /// @notice Where the coordinator sends this verifier's fee (a `Wallet` or any address accepting the token).
    function getWallet() external view returns (address);

    /// @notice Whether payments in `token` (`address(0)` for ETH) are accepted.
    /// @param token the payment token
    function isSupportedToken(address token) external view returns (bool);

    /// @notice Fee charged per verification in `token`, taken out of the subscription's payment.
    /// @param token the payment token
    function fee(address token) external view returns (uint256);

    /// @notice Starts verifying `proof` of `node`'s delivery for `(subscriptionId, interval)` (coordinator only).
    /// @param subscriptionId the subscription delivered
    /// @param interval the interval delivered
    /// @param node the delivering node
    /// @param proof the proof the node delivered
    function requestProofVerification(uint32 subscriptionId, uint32 interval, address node, bytes calldata proof)
        external;

    /// @notice Verifiers accept their fee in ETH.
    receive() external payable;
}
