// SPDX-License-Identifier: MIT
pragma solidity ^0.8.4;

import {Registry} from "../Registry.sol";
import {Coordinator} from "../Coordinator.sol";
import {IVerifier} from "../payments/IVerifier.sol";
import {Owned} from "../utility/Owned.sol";
import {Coordinated} from "../utility/Coordinated.sol";

/// @title BaseVerifier
/// @notice What the kit's verifiers share: per-token fees set by the owner, a payee receiving them, and the
///         coordinator-only `requestProofVerification` entry point that subclasses implement.
abstract contract BaseVerifier is IVerifier, Owned, Coordinated {
    /// @dev Whether a token is accepted and the fee charged in it, in one slot.
    struct TokenTerms {
        bool supported;
        uint248 fee;
    }

    /// @notice The coordinator whose proofs this verifier settles.
    Coordinator public immutable PROOF_COORDINATOR;

    /// @dev Receives the fees (`getWallet`).
    address private immutable PAYEE;

    mapping(address => TokenTerms) private tokenTerms;

    /// @notice The owner accepted (`supported`) or refused `token`, charging `fee` in it.
    event TokenTermsUpdated(address indexed token, bool supported, uint256 fee);

    /// @notice ETH sent to the verifier itself would be stuck: fees go to `getWallet()`.
    error DirectPaymentRefused();

    /// @param registry the registry naming the coordinator
    /// @param initialOwner sets fees (and whatever the subclass lets the owner decide)
    /// @param payee receives the fees (a `Wallet` or any address accepting the tokens)
    constructor(Registry registry, address initialOwner, address payee) Owned(initialOwner) Coordinated(registry) {
        PROOF_COORDINATOR = Coordinator(registry.COORDINATOR());
        PAYEE = payee;
    }

    /// @inheritdoc IVerifier
    function getWallet() external view returns (address) {
        return PAYEE;
    }

    /// @inheritdoc IVerifier
    function isSupportedToken(address token) external view returns (bool) {
        return tokenTerms[token].supported;
    }

    /// @inheritdoc IVerifier
    function fee(address token) external view returns (uint256) {
        return tokenTerms[token].fee;
    }

    /// @notice Accepts or refuses `token` (`address(0)`: ETH) and sets the fee charged in it (owner only).
    /// @param token the payment token
    /// @param supported whether subscriptions paying in `token` may use this verifier
    /// @param tokenFee fee per verification, taken out of each payment
    function setTokenTerms(address token, bool supported, uint248 tokenFee) external onlyOwner {
        tokenTerms[token] = TokenTerms(supported, tokenFee);
        emit TokenTermsUpdated(token, supported, tokenFee);
    }

    /// @inheritdoc IVerifier
    receive() external payable {
        revert DirectPaymentRefused();
    }

    /// @dev Settles the proof at the coordinator: escrows move to the node (`valid`) or to the consumer.
    function _finalize(uint32 subscriptionId, uint32 interval, address node, bool valid) internal {
        PROOF_COORDINATOR.finalizeProofVerification(subscriptionId, interval, node, valid);
    }
}
